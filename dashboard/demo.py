"""The sample functions of the local AWS (``localaws/stack.py``) as registry entries, for ``manage.py demo_data``."""

from __future__ import annotations

from typing import Any

OBSERVATION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["action", "query"],
    "properties": {
        "action": {"enum": ["FIND", "COUNT"]},
        "query": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "minimum": 0, "maximum": 1000},
                "query": {"type": "object"},
                "aggs": {"type": "object"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

THING_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["action"],
    "properties": {"action": {"enum": ["LIST", "GET"]}, "id": {"type": "string"}},
}

SAMPLES: list[dict[str, Any]] = [
    {
        "name": "auth",
        "display_name": "AuthLambda",
        "function_name": "AuthLambda",
        "description": (
            "Checks a Cloud Connect username and password against the user pool and answers the account with a "
            "token (step 2 of the Cloud Connect login); a wrong password answers NotAuthorized."
        ),
        "example_payload": {"username": "demo", "password": ""},
        "payload_schema": None,
    },
    {
        "name": "thing",
        "display_name": "ThingLambda",
        "function_name": "ThingLambda",
        "description": 'Lists things; takes {"action": "LIST"}.',
        "example_payload": {"action": "LIST"},
        "payload_schema": THING_SCHEMA,
    },
    {
        "name": "observation",
        "display_name": "ObservationLambda",
        "function_name": "ObservationLambda",
        "description": "Searches observations with an Elasticsearch-style query.",
        "example_payload": {
            "action": "FIND",
            "query": {
                "size": 1,
                "query": {"bool": {"filter": [{"term": {"type": "temperature"}}]}},
                "aggs": {"by_station": {"terms": {"field": "station", "size": 10}}},
            },
        },
        "payload_schema": OBSERVATION_SCHEMA,
    },
]
