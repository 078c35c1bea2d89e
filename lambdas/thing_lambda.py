"""ThingLambda: lists and gets the things (stations, gauges, monitors) of the bundled sample data.

Deploy this file with ``data/things.json`` beside it (handler ``thing_lambda.handler``; standard library only).

Requests and answers:

- ``{"action": "LIST"}``, optionally with ``"type"`` and/or ``"status"`` to filter:
  ``{"things": [{"id", "name", "type", "status", "location", "sensors", "installed"}, ...], "count": n}``
- ``{"action": "GET", "id": "station-01"}``: ``{"thing": {...}}``

Errors are Lambda function errors (``errorType``/``errorMessage``): ``InvalidRequest`` for an unknown action or
a missing or misspelt member, ``NotFound`` for an id that names no thing.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "things.json"
FILTERS = ("type", "status")


class InvalidRequest(Exception):
    pass


class NotFound(Exception):
    pass


@cache
def things() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(DATA.read_text())["things"])


def _members(event: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(event) - allowed)
    if unknown:
        raise InvalidRequest(f"Unknown member(s) {', '.join(unknown)}; this action takes {', '.join(sorted(allowed))}.")


def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidRequest('Send an object such as {"action": "LIST"}.')
    action = event.get("action")
    if action == "LIST":
        _members(event, {"action", *FILTERS})
        found = [thing for thing in things() if all(event.get(name) in (None, thing.get(name)) for name in FILTERS)]
        return {"things": found, "count": len(found)}
    if action == "GET":
        _members(event, {"action", "id"})
        wanted = event.get("id")
        if not isinstance(wanted, str) or not wanted:
            raise InvalidRequest('GET needs "id", the id of a thing (see LIST).')
        for thing in things():
            if thing["id"] == wanted:
                return {"thing": thing}
        raise NotFound(f"No thing has the id {wanted!r}.")
    raise InvalidRequest(f'Unknown action {action!r}; use "LIST" or "GET".')
