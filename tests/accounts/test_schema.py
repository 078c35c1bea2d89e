"""The OpenAPI document at /api/schema/ against the running API (moto behind it).

Every /api/auth/ operation of this app is called with a well-formed request and with generated hostile bodies,
signed in with a real access token; each answer must have a status the document lists for that operation and a
body that validates against the documented schema for that status, and never be a 500.

Schemathesis is the obvious tool but cannot run here: schemathesis 4.3.13 generates bodies through
hypothesis-jsonschema 0.23.1, which calls ``many.more()``, gone from the installed Hypothesis 6.170
(AttributeError inside every case). This is the equivalent: Hypothesis generates the bodies, jsonschema
validates the answers against the document.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.accounts.conftest import bearer
from tests.conftest import DEFAULT_PASSWORD, CognitoUser

SCOPES = [f"{s}{x}" for s in ("sign_in", "sign_up", "confirm", "forgot_password") for x in ("", "_username")]


@functools.cache
def _document() -> dict[str, Any]:
    """Generated once per run: the document does not depend on the per-test pool."""
    client = APIClient()
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return dict(response.json())


def _operations() -> Iterator[tuple[str, str]]:
    from django.urls import URLPattern, reverse

    from accounts.urls import urlpatterns

    methods = {"get", "post", "put", "patch", "delete"}
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        path = reverse(f"accounts:{pattern.name}")
        for method in sorted(methods & {m.lower() for m in view.http_method_names if hasattr(view, m)}):
            yield path, method


OPERATIONS = list(_operations())


def _to_json_schema(node: Any, components: dict[str, Any]) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: resolve ``$ref``, turn ``nullable`` into a null alternative."""
    if isinstance(node, list):
        return [_to_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _to_json_schema(copy.deepcopy(components[name]), components)
    out = {k: _to_json_schema(v, components) for k, v in node.items() if k not in {"nullable", "readOnly"}}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture
def document(settings: Any) -> dict[str, Any]:
    settings.COGNITO = {**settings.COGNITO, "THROTTLE_RATES": dict.fromkeys(SCOPES, "100000/min")}
    return copy.deepcopy(_document())


def _check(document: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The answer has a documented status and a body matching the documented schema; never a 500."""
    assert response.status_code != 500, response.content
    operation = document["paths"][path][method]
    documented = operation["responses"]
    assert str(response.status_code) in documented, (path, method, response.status_code, response.content)
    content = documented[str(response.status_code)].get("content")
    if not content:
        return
    body_schema = _to_json_schema(content["application/json"]["schema"], document["components"]["schemas"])
    jsonschema.validate(response.json(), body_schema)


def _example_body(document: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    """A well-formed body: every property filled with a plausible value for its name and type."""
    request = document["paths"][path][method].get("requestBody")
    if not request:
        return None
    schema = _to_json_schema(request["content"]["application/json"]["schema"], document["components"]["schemas"])
    return {name: _plausible(name, prop) for name, prop in schema.get("properties", {}).items()}


def _plausible(name: str, prop: dict[str, Any]) -> Any:
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "boolean":
        return True
    if kind == "object":
        if "properties" in prop:
            return {k: _plausible(k, v) for k, v in prop["properties"].items()}
        return {"custom:telnum": "42"}
    if kind == "array":
        return ["custom:telnum"]
    values = {
        "username": "alice",
        "email": "someone@example.com",
        "phone_number": "+12025550143",
        "code": "123456",
        "attribute": "email",
        "id_token": "x.y.z",
    }
    if "password" in name:
        return DEFAULT_PASSWORD
    return values.get(name, "value")


def _call(api: APIClient, method: str, path: str, body: Any) -> Any:
    return getattr(api, method)(path, body, format="json") if body is not None else getattr(api, method)(path)


def test_every_accounts_endpoint_is_in_the_schema_with_its_error_answers(document: dict[str, Any]) -> None:
    for path, method in OPERATIONS:
        responses = document["paths"][path][method]["responses"]
        assert {"429", "502", "503"} <= set(responses), (path, method)
        assert any(code.startswith("2") for code in responses), (path, method)


def test_the_interactive_schema_page_is_served(api: APIClient) -> None:
    assert api.get("/api/schema/docs/").status_code == 200


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_a_well_formed_request_gets_a_documented_answer(
    api: APIClient, cognito_user: CognitoUser, document: dict[str, Any], path: str, method: str
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = _call(api, method, path, _example_body(document, path, method))
    _check(document, path, method, response)


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_an_anonymous_request_gets_a_documented_answer(
    api: APIClient, cognito_user: CognitoUser, document: dict[str, Any], path: str, method: str
) -> None:
    response = _call(api, method, path, _example_body(document, path, method))
    _check(document, path, method, response)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=99),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=6,
)


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_hostile_bodies_get_documented_answers_never_a_500(
    api: APIClient,
    cognito_user: CognitoUser,
    document: dict[str, Any],
    path: str,
    method: str,
    data: st.DataObject,
) -> None:
    example = _example_body(document, path, method) or {}
    keys = [*example, "extra"]
    body = data.draw(
        st.one_of(
            # every documented field, some replaced with arbitrary JSON
            st.fixed_dictionaries({k: st.just(v) | JSON_VALUES for k, v in example.items()}),
            st.dictionaries(st.sampled_from(keys), JSON_VALUES, max_size=len(keys)),
            JSON_VALUES,
        )
    )
    bearer(api, cognito_user.tokens.access_token)
    response = _call(api, method, path, body if method != "get" else None)
    _check(document, path, method, response)


def test_a_body_that_is_not_json_gets_a_documented_400(
    api: APIClient, cognito_user: CognitoUser, document: dict[str, Any]
) -> None:
    for path, method in OPERATIONS:
        if method in {"get", "delete"}:
            continue
        bearer(api, cognito_user.tokens.access_token)
        response = getattr(api, method)(path, "{not json", content_type="application/json")
        _check(document, path, method, response)
