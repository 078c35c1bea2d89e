"""Hostile payloads and schemas (issue 17, items 9, 10 and 12) against ``POST /api/lambdas/<name>/invoke/``.

Lambda is the moto stand-in; whether it was called is counted at botocore's ``before-send.lambda.Invoke`` event
on the client the service uses (``lambda_faults.inject(function, None)`` records and lets the request through).
No test measures a time: validation is shown bounded by what is refused before it runs, or by an input that
Python's backtracking ``re`` would never finish.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from dashboard import payloads
from dashboard.models import LambdaFunction

from .conftest import bearer
from .test_invoke import invoke, only_invocation

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(api: Any, cognito_user: Any, registry: dict[str, Any]) -> Any:
    return bearer(api, cognito_user.tokens.access_token)


@pytest.fixture
def counted(registry: dict[str, Any], lambda_faults: Any) -> list[Any]:
    """The Invoke requests the server's client sends (all registry functions share its timeout, so its client)."""
    lambda_faults.inject(registry["thing"], None)
    requests: list[Any] = lambda_faults.requests
    return requests


def with_schema(make_function: Any, schema: Any, name: str = "checked", example: Any = None) -> LambdaFunction:
    example = {} if example is None else example
    function: LambdaFunction = make_function(name, "ThingLambda", payload_schema=schema, example_payload=example)
    return function


# --- item 9: numbers and strings the server could not handle are refused before Lambda runs -----------------

HOSTILE = [
    (b"1e999", "$: the number is too large"),
    (b'{"payload": 1e999}', "$.payload: the number is too large"),
    (b'{"payload": [1, -1e999]}', "$.payload[1]: the number is too large"),
    (b'{"payload": 1' + b"0" * 400 + b".5}", "$.payload: the number is too large"),
    (b"1" * 5000, "$: an integer of 5000 digits"),
    (b'{"payload": -' + b"9" * 5000 + b"}", "$.payload: an integer of 5000 digits"),
    (b'"\\ud800"', "$: the string holds a lone UTF-16 surrogate"),
    (b'{"payload": "x\\udfff"}', "$.payload: the string holds a lone UTF-16 surrogate"),
    (b'{"payload": {"\\ud800": 1}}', "$.payload: a member name holds a lone UTF-16 surrogate"),
]


@pytest.mark.parametrize(("body", "names"), HOSTILE, ids=[
    "inf", "inf-in-payload", "neg-inf-in-list", "400-digit-float", "5000-digits", "5000-digits-in-payload",
    "surrogate", "surrogate-in-payload", "surrogate-key",
])  # fmt: skip
def test_unrenderable_numbers_and_lone_surrogates_are_400_before_lambda_is_invoked(
    alice: Any, settings: Any, counted: list[Any], body: bytes, names: str
) -> None:
    settings.DASHBOARD = {"STORE_PAYLOADS": True}  # the audit row used to fail on 1e999 with payloads stored
    response = invoke(alice, "thing", body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid_json"
    assert names in answer["detail"]
    assert answer["fields"] == {"payload": [answer["detail"]]}
    assert counted == []  # Lambda was not invoked
    row = only_invocation()
    assert (row.status, row.http_status, row.error_code, row.payload) == ("rejected", 400, "invalid_json", None)
    # The recorder does see an accepted payload: the count above is not vacuous.
    assert (
        invoke(alice, "thing", b'{"payload": 1e300, "n": ' + b"9" * 100 + b', "s": "\\ud83d\\ude00"}').status_code
        == 200
    )
    assert len(counted) == 1


def test_an_audit_row_refused_by_the_database_is_written_again_after_lambda_ran(
    alice: Any, settings: Any, counted: list[Any], monkeypatch: Any
) -> None:
    # Injected: a stored payload the database refuses (what 1e999 produced before it was refused up front).
    settings.DASHBOARD = {"STORE_PAYLOADS": True}
    monkeypatch.setattr(payloads, "stored_form", lambda payload, size: {"n": float("inf")})
    response = invoke(alice, "thing", '{"action": "LIST"}')
    assert response.status_code == 200, response.content
    assert len(counted) == 1
    row = only_invocation()
    assert (row.status, row.http_status, row.payload) == ("succeeded", 200, None)
    assert response.json()["invocation"] == row.pk


@pytest.mark.parametrize(
    "result", ['{"n": 1e999}', "NaN", "1" * 5000, '{"s": "\\ud800"}'], ids=["inf", "nan", "5000-digits", "surrogate"]
)
def test_a_lambda_result_that_is_not_renderable_json_is_returned_as_text(alice: Any, canned: Any, result: str) -> None:
    canned(result)
    response = invoke(alice, "thing", "{}")
    assert response.status_code == 200, response.content
    assert response.json()["result_format"] == "text"
    assert response.json()["result"] == result
    assert only_invocation().status == "succeeded"


# --- item 10: schema validation is bounded --------------------------------------------------------------------

RECURSIVE = {
    "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
    "$ref": "#/$defs/node",
}


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"child": value}
    return value


def test_a_recursive_schema_validates_payloads_within_the_depth_bound(
    alice: Any, make_function: Any, counted: list[Any]
) -> None:
    with_schema(make_function, RECURSIVE)
    assert invoke(alice, "checked", json.dumps(nested(63))).status_code == 200
    assert len(counted) == 1


def test_a_payload_deeper_than_the_bound_is_400_before_validation(
    alice: Any, make_function: Any, counted: list[Any]
) -> None:
    # 500 levels: enough for jsonschema's recursion to reach Python's limit (RecursionError, a 500, before).
    with_schema(make_function, RECURSIVE)
    response = invoke(alice, "checked", json.dumps(nested(500)))
    assert response.status_code == 400, response.content
    answer = response.json()
    assert (answer["code"], answer["limit"]) == ("payload_too_complex", 64)
    assert "nested 501 levels deep" in answer["detail"]
    assert answer["fields"] == {"payload": [answer["detail"]]}
    assert counted == []
    assert only_invocation().error_code == "payload_too_complex"


def test_an_array_wider_than_the_bound_is_400_before_validation(
    alice: Any, make_function: Any, counted: list[Any], settings: Any
) -> None:
    settings.DASHBOARD = {"SCHEMA_MAX_ITEMS": 1000}
    with_schema(make_function, {"type": "object", "properties": {"list": {"type": "array", "uniqueItems": True}}})
    ok = {"list": [{"id": i} for i in range(1000)]}
    assert invoke(alice, "checked", json.dumps(ok)).status_code == 200
    response = invoke(alice, "checked", json.dumps({"list": [{"id": i} for i in range(1001)]}))
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_complex"
    assert response.json()["detail"].startswith("$.list: 1001 items or members")
    assert len(counted) == 1


def test_a_payload_over_the_schema_size_bound_is_413_before_validation(
    alice: Any, make_function: Any, counted: list[Any], settings: Any
) -> None:
    settings.DASHBOARD = {"SCHEMA_MAX_PAYLOAD": 1000}
    with_schema(make_function, {"type": "object"})
    response = invoke(alice, "checked", json.dumps({"blob": "x" * 1000}))
    assert response.status_code == 413
    assert (response.json()["code"], response.json()["limit"]) == ("payload_too_large", 1000)
    assert counted == []
    assert invoke(alice, "thing", json.dumps({"blob": "x" * 1000})).status_code == 200  # no schema, no bound


def test_unique_items_hashes_instead_of_comparing_every_pair(alice: Any, make_function: Any, monkeypatch: Any) -> None:
    """jsonschema 4.25 compares every pair of an array of objects (2,000 items: 2 million comparisons; a 37 KB
    array took 8 s); the check must not call its pairwise ``equal`` at all."""
    import jsonschema._utils

    calls: list[int] = []
    original = jsonschema._utils.equal

    def counted_equal(one: Any, two: Any) -> bool:
        calls.append(1)
        return bool(original(one, two))

    monkeypatch.setattr(jsonschema._utils, "equal", counted_equal)
    with_schema(make_function, {"type": "array", "uniqueItems": True}, example=[])
    items: list[Any] = [{"id": i, "tags": [i, str(i)]} for i in range(2000)]
    assert invoke(alice, "checked", json.dumps(items)).status_code == 200
    assert calls == []


@pytest.mark.parametrize(
    ("items", "unique"),
    [
        ([1, 1.0], False),
        ([True, 1], True),
        ([False, 0, None, "0", [], {}], True),
        ([{"a": 1, "b": [1, {"c": 2}]}, {"b": [1.0, {"c": 2}], "a": 1}], False),
        ([[1, 2], [2, 1]], True),
        ([{"a": True}, {"a": 1}], True),
    ],
)
def test_unique_items_keeps_json_schemas_notion_of_equality(
    alice: Any, make_function: Any, items: list[Any], unique: bool
) -> None:
    with_schema(make_function, {"type": "array", "uniqueItems": True}, example=[])
    response = invoke(alice, "checked", json.dumps(items))
    assert response.status_code == (200 if unique else 400), response.content


DRAFT_2019 = "https://json-schema.org/draft/2019-09/schema"
DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("schema", "good", "bad", "names"),
    [
        (
            {"$schema": DRAFT_2020, "properties": {"a": {}}, "unevaluatedProperties": False},
            {"a": 1},
            {"a": 1, "b": 2},
            "Unevaluated properties are not allowed ('b' was unexpected)",
        ),
        (
            {"$schema": DRAFT_2019, "allOf": [{"properties": {"a": {}}}], "unevaluatedProperties": {"type": "string"}},
            {"a": 1, "b": "x"},
            {"a": 1, "b": 2},
            "('b' was unevaluated and invalid)",
        ),
        ({"$schema": DRAFT_2020, "prefixItems": [{}], "unevaluatedItems": False}, [1], [1, 2], "(2 was unexpected)"),
        ({"$schema": DRAFT_2019, "items": [{}], "unevaluatedItems": False}, [1], [1, 2], "(2 was unexpected)"),
    ],
    ids=["properties-2020", "properties-2019", "items-2020", "items-2019"],
)
def test_unevaluated_keywords_keep_their_meaning(
    alice: Any, make_function: Any, schema: Any, good: Any, bad: Any, names: str
) -> None:
    # Replaced to look evaluated keys up in a set: jsonschema searches a list per key (quadratic in the width).
    with_schema(make_function, schema, example=good)
    assert invoke(alice, "checked", json.dumps(good)).status_code == 200
    response = invoke(alice, "checked", json.dumps(bad))
    assert response.status_code == 400
    assert names in response.json()["detail"]


BACKTRACKING = "^(a+)+$"
EVIL = "a" * 5000 + "!"  # Python's re would try about 2**5000 ways before failing


@pytest.mark.parametrize(
    ("schema", "payload", "path"),
    [
        ({"type": "object", "properties": {"s": {"pattern": BACKTRACKING}}}, {"s": EVIL}, "$.s"),
        ({"type": "object", "propertyNames": {"pattern": BACKTRACKING}}, {EVIL: 1}, "$"),
        ({"type": "object", "patternProperties": {BACKTRACKING: {"type": "string"}}}, {EVIL: 1, "a": 1}, "$.a"),
        ({"type": "object", "patternProperties": {BACKTRACKING: {}}, "additionalProperties": False}, {EVIL: 1}, "$"),
    ],
    ids=["pattern", "propertyNames", "patternProperties", "additionalProperties"],
)
def test_a_backtracking_pattern_over_a_long_string_is_answered_because_patterns_run_on_re2(
    alice: Any, make_function: Any, counted: list[Any], schema: Any, payload: Any, path: str
) -> None:
    # Without RE2 this test never finishes: the answer at all is the proof.
    with_schema(make_function, schema)
    response = invoke(alice, "checked", json.dumps(payload))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "schema_mismatch"
    assert response.json()["detail"].split(": ")[1].startswith(path)
    assert counted == []


def test_patterns_follow_ecma_262_digits_as_re2_does(alice: Any, make_function: Any) -> None:
    # Python's re lets \d match any Unicode digit; ECMA-262 (JSON Schema's dialect) and RE2 only 0-9.
    with_schema(make_function, {"type": "string", "pattern": "^\\d+$"}, example="123")
    assert invoke(alice, "checked", '"123"').status_code == 200
    assert invoke(alice, "checked", json.dumps("\u0661\u0662\u0663")).status_code == 400


# --- item 10: the admin's schema is checked when it is saved -------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "names"),
    [
        ({"type": "string", "pattern": "^(?=a)a+$"}, "cannot run on RE2"),
        ({"properties": {"s": {"pattern": "(a)\\1"}}}, "cannot run on RE2"),
        ({"patternProperties": {"(?<=x)y": {}}}, "cannot run on RE2"),
        ({"$defs": {"a": {"items": {"pattern": "(?!x)"}}}}, "cannot run on RE2"),
        ({"$ref": "#/x", "x": {"pattern": "(?!x)"}}, "cannot run on RE2"),
        ({"type": "string", "pattern": "(a{1000}){1000}"}, "cannot run on RE2"),
        ({"patternProperties": {"^x": {}}, "unevaluatedProperties": False}, "unevaluatedProperties cannot be combined"),
        ({"$ref": "#"}, "recursed too deeply"),
        ({"allOf": [{"$ref": "#/$defs/a"}], "$defs": {"a": {"$ref": "#"}}}, "recursed too deeply"),
    ],
    ids=[
        "lookahead",
        "backreference",
        "lookbehind",
        "in-defs",
        "unknown-keyword",
        "too-large",
        "unevaluated",
        "self-ref",
        "ref-loop",
    ],
)
def test_a_schema_that_cannot_be_bounded_is_refused_on_save(schema: Any, names: str) -> None:
    function = LambdaFunction(name="f", display_name="F", function_name="ThingLambda", payload_schema=schema)
    with pytest.raises(ValidationError) as caught:
        function.full_clean()
    assert names in " ".join(caught.value.message_dict["payload_schema"])


@pytest.mark.parametrize(
    ("example", "names"),
    [({"n": 10**150}, "$.n: an integer of 151 digits"), (["ok", "\ud800"], "$[1]: the string holds a lone")],
    ids=["long-integer", "surrogate"],
)
def test_an_example_payload_the_api_would_refuse_is_refused_on_save(example: Any, names: str) -> None:
    function = LambdaFunction(name="f", display_name="F", function_name="ThingLambda", example_payload=example)
    with pytest.raises(ValidationError) as caught:
        function.full_clean()
    assert names in " ".join(caught.value.message_dict["example_payload"])


def test_a_pattern_member_in_data_keywords_is_not_taken_for_a_pattern() -> None:
    schema = {"enum": [{"pattern": "(?=a)"}], "default": {"pattern": "(a)\\1"}}
    example = {"pattern": "(?=a)"}
    LambdaFunction(
        name="f", display_name="F", function_name="ThingLambda", payload_schema=schema, example_payload=example
    ).full_clean()


def test_a_schema_with_a_lookahead_saved_around_the_checks_is_a_500_misconfiguration(
    alice: Any, registry: dict[str, Any], counted: list[Any]
) -> None:
    LambdaFunction.objects.filter(pk=registry["thing"].pk).update(payload_schema={"pattern": "(?=a)"})
    response = invoke(alice, "thing", '"a"')
    assert response.status_code == 500
    assert response.json()["code"] == "function_misconfigured"
    assert counted == []
    assert only_invocation().error_code == "function_misconfigured"


def test_admin_shows_why_a_backtracking_pattern_is_refused(admin_client: Any) -> None:
    response = admin_client.post(
        "/admin/dashboard/lambdafunction/add/",
        {
            "display_name": "Thing",
            "name": "thing",
            "function_name": "ThingLambda",
            "example_payload": '"a"',
            "payload_schema": '{"pattern": "(a)\\\\1"}',
            "invocation_type": "RequestResponse",
            "credentials": "server",
            "timeout": "10",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "cannot run on RE2" in response.content.decode()
    assert not LambdaFunction.objects.exists()


# --- item 12: redaction matches parts of names, and name/value pairs ----------------------------------------


def test_stored_payloads_redact_every_name_that_contains_a_sensitive_part(alice: Any, settings: Any) -> None:
    settings.DASHBOARD = {"STORE_PAYLOADS": True}
    body = {
        "DB_Password": "p1",
        "clientSecret": "s1",
        "refreshToken": "t1",
        "X-Api-Key": "k1",
        "APIKEY": "k2",
        "Authorization": "Bearer x",
        "Set-Cookie": "c=1",
        "headers": [{"name": "Cookie", "value": "c=2"}, {"name": "Accept", "value": "json"}],
        "attributes": [{"Name": "custom:api_key", "Value": "k3"}, {"key": "password", "value": {"nested": 1}}],
        "credentials": {"session_token": ["t2"]},
        "keep": {"name": "password", "note": "a name alone is not secret"},
        "username": "alice",
    }
    assert invoke(alice, "thing", json.dumps(body)).status_code == 200
    redacted = "[redacted]"
    assert only_invocation().payload == {
        "DB_Password": redacted,
        "clientSecret": redacted,
        "refreshToken": redacted,
        "X-Api-Key": redacted,
        "APIKEY": redacted,
        "Authorization": redacted,
        "Set-Cookie": redacted,
        "headers": [{"name": "Cookie", "value": redacted}, {"name": "Accept", "value": "json"}],
        "attributes": [{"Name": "custom:api_key", "Value": redacted}, {"key": "password", "value": redacted}],
        "credentials": {"session_token": redacted},
        "keep": {"name": "password", "note": "a name alone is not secret"},
        "username": "alice",
    }
    assert "p1" not in json.dumps(only_invocation().payload)
