"""The OpenAPI document at /api/schema/ against the running API (moto behind it).

Every /api/auth/ operation of this app is called with a well-formed request and with generated hostile bodies,
signed in with a real access token; each answer must have a status the document lists for that operation and a
body that validates against the documented schema for that status, and never be a 500. A well-formed request
(with the state it needs: a challenge session, an identity pool ...) must get exactly its operation's success
status (``SUCCESS``): a documented 503 is not a pass. Operations moto lacks (ResendConfirmationCode,
DeleteUserAttributes, attribute verification, DeleteUser, RevokeToken) get Cognito's answer injected at botocore's
``before-send``; what is checked there is our side of the call.

Schemathesis is the obvious tool but cannot run here: schemathesis 4.3.13 generates bodies through
hypothesis-jsonschema 0.23.1, which calls ``many.more()``, gone from the installed Hypothesis 6.170
(AttributeError inside every case). This is the equivalent: Hypothesis generates the bodies, jsonschema
validates the answers against the document.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.accounts.conftest import Faults, bearer, totp_now
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool

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
    # The rate limits are the site's (ACCOUNTS), not the package's: lifted so that generated bodies never meet 429.
    settings.ACCOUNTS = {**settings.ACCOUNTS, "THROTTLE_RATES": dict.fromkeys(SCOPES, "100000/min")}
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


# --- a well-formed request succeeds -----------------------------------------------------------------------------


@dataclass
class Scene:
    """What a well-formed request may need: the signed-in user, their pool, the stand-in, injected answers."""

    api: APIClient
    cognito: CognitoFactory
    user: CognitoUser
    pool: UserPool
    faults: Faults
    settings: Any

    def new_password_challenge(self) -> dict[str, Any]:
        """A user an admin created with a temporary password, signed in: NEW_PASSWORD_REQUIRED."""
        self.cognito.idp.admin_create_user(
            UserPoolId=self.pool.pool_id,
            Username="newbie",
            TemporaryPassword="Temp-Passw0rd1",
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": "newbie@example.com"},
                {"Name": "email_verified", "Value": "true"},
            ],
        )
        answer = self.api.post(
            "/api/auth/sign-in/", {"username": "newbie", "password": "Temp-Passw0rd1"}, format="json"
        )
        assert answer.json()["challenge"] == "NEW_PASSWORD_REQUIRED", answer.content
        return dict(answer.json())

    def mfa_setup_challenge(self) -> dict[str, Any]:
        """The pool requires TOTP; a new user who set a new password must now set up an authenticator."""
        self.cognito.idp.set_user_pool_mfa_config(
            UserPoolId=self.pool.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
        )
        first = self.new_password_challenge()
        body = {"session": first["session"], "new_password": "N3w-Passw0rd!"}
        second = self.api.post("/api/auth/sign-in/challenge/", body, format="json")
        assert second.json()["challenge"] == "MFA_SETUP", second.content
        return dict(second.json())

    def associated_totp_secret(self) -> str:
        token = self.user.tokens.access_token
        return str(self.cognito.idp.associate_software_token(AccessToken=token)["SecretCode"])


Prepare = Callable[[Scene, dict[str, Any] | None], dict[str, Any] | None]


def _keep(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    return body


def _sign_up(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    return {**(body or {}), "username": "newcomer", "email": "newcomer@example.com"}


def _resend(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    delivery = {"Destination": "n***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    scene.faults.answer("ResendConfirmationCode", {"CodeDeliveryDetails": delivery})
    return body


def _challenge(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"session": scene.new_password_challenge()["session"], "new_password": "N3w-Passw0rd!"}


def _mfa_setup(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"session": scene.mfa_setup_challenge()["session"]}


def _mfa_setup_verify(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    setup = scene.api.post("/api/auth/sign-in/mfa-setup/", {"session": scene.mfa_setup_challenge()["session"]})
    assert setup.status_code == 200, setup.content
    return {"session": setup.json()["session"], "code": totp_now(setup.json()["secret"]), "device_name": "phone"}


def _refresh(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"refresh_token": scene.user.tokens.refresh_token, "username": scene.user.username}


def _answered(operation: str, answer: dict[str, Any]) -> Prepare:
    def prepare(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
        scene.faults.answer(operation, answer)
        return body

    return prepare


def _totp_verify(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"code": totp_now(scene.associated_totp_secret()), "device_name": "phone"}


def _mfa_preference(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    secret = scene.associated_totp_secret()
    scene.cognito.idp.verify_software_token(AccessToken=scene.user.tokens.access_token, UserCode=totp_now(secret))
    return {"totp": {"enabled": True, "preferred": True}}


def _sign_out(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    scene.faults.answer("RevokeToken", {})
    return {"refresh_token": scene.user.tokens.refresh_token}


def _credentials(scene: Scene, body: dict[str, Any] | None) -> dict[str, Any] | None:
    from cognito_backend.clients import get_client

    provider = f"cognito-idp.us-east-1.amazonaws.com/{scene.pool.pool_id}"
    pool_id = get_client("cognito-identity").create_identity_pool(
        IdentityPoolName="schema_test",
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": scene.pool.client_id}],
    )["IdentityPoolId"]
    scene.settings.COGNITO = {**scene.settings.COGNITO, "IDENTITY_POOL_ID": pool_id}
    return {"id_token": scene.user.tokens.id_token}


DELIVERY = {"CodeDeliveryDetails": {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}}

# (URL name, method) -> (the success status a well-formed request must get, how to make the request well-formed).
SUCCESS: dict[tuple[str, str], tuple[int, Prepare]] = {
    ("sign-up", "post"): (201, _sign_up),
    # moto accepts any confirmation code (real codes: test_sign_up.py on cognito-local).
    ("sign-up-confirm", "post"): (200, _keep),
    ("sign-up-resend", "post"): (200, _resend),
    ("sign-in", "post"): (200, _keep),
    ("sign-in-challenge", "post"): (200, _challenge),
    ("sign-in-mfa-setup", "post"): (200, _mfa_setup),
    ("sign-in-mfa-setup-verify", "post"): (200, _mfa_setup_verify),
    ("token-refresh", "post"): (200, _refresh),
    ("password-forgot", "post"): (202, _keep),
    ("password-reset", "post"): (200, _keep),
    ("password-change", "post"): (200, _keep),
    ("profile", "get"): (200, _keep),
    ("profile", "patch"): (200, _keep),
    ("profile-attributes-delete", "post"): (200, _answered("DeleteUserAttributes", {})),
    ("profile-verify", "post"): (200, _answered("GetUserAttributeVerificationCode", DELIVERY)),
    ("profile-verify-confirm", "post"): (200, _answered("VerifyUserAttribute", {})),
    ("account", "delete"): (204, _answered("DeleteUser", {})),
    ("mfa-totp", "post"): (200, _keep),
    ("mfa-totp-verify", "post"): (200, _totp_verify),
    ("mfa-preference", "put"): (200, _mfa_preference),
    ("sign-out", "post"): (200, _sign_out),
    ("sign-out-global", "post"): (200, _keep),
    ("credentials", "post"): (200, _credentials),
}


def _name(path: str) -> str:
    from django.urls import resolve

    return str(resolve(path).url_name)


def test_every_operation_has_its_expected_success_status_and_documents_it(document: dict[str, Any]) -> None:
    assert {(_name(path), method) for path, method in OPERATIONS} == set(SUCCESS)
    for path, method in OPERATIONS:
        status, _ = SUCCESS[(_name(path), method)]
        assert str(status) in document["paths"][path][method]["responses"], (path, method, status)


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_a_well_formed_request_gets_its_success_status(
    api: APIClient,
    cognito: CognitoFactory,
    cognito_user: CognitoUser,
    user_pool: UserPool,
    faults: Faults,
    settings: Any,
    document: dict[str, Any],
    path: str,
    method: str,
) -> None:
    status, prepare = SUCCESS[(_name(path), method)]
    scene = Scene(api=api, cognito=cognito, user=cognito_user, pool=user_pool, faults=faults, settings=settings)
    body = prepare(scene, _example_body(document, path, method))
    bearer(api, cognito_user.tokens.access_token)
    response = _call(api, method, path, body)
    assert response.status_code == status, (path, method, response.status_code, response.content)
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
