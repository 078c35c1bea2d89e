"""Every flow of an app client with a secret sends the right SECRET_HASH, read from the request on the wire.

moto does not check ``SECRET_HASH`` on USER_PASSWORD_AUTH, SignUp, ConfirmSignUp, ForgotPassword or
ConfirmForgotPassword (a request without it, or with a wrong one, succeeds), so a test that only looks at the
answer proves nothing. Here a botocore ``before-send`` hook on the project's own cognito-idp client records each
request's JSON body as sent, and the test compares the hash with its own computation:
base64(HMAC-SHA256(key=client secret, message=username + client id)), over the username the request names.
ResendConfirmationCode is missing from moto: the same hook answers it (Cognito's answer shape) after recording it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import aws_response, totp_now
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, UserPool

NEW = "N3w-Passw0rd!"
TEMPORARY = "Temp-Passw0rd1"
SIGN_IN = "/api/auth/sign-in/"
CHALLENGE = "/api/auth/sign-in/challenge/"

# Where each operation carries the hash, and the username it is computed over.
TOP_LEVEL = {"SignUp", "ConfirmSignUp", "ResendConfirmationCode", "ForgotPassword", "ConfirmForgotPassword"}
HASHED = TOP_LEVEL | {"InitiateAuth", "RespondToAuthChallenge"}


def expected_hash(username: str, client_id: str, client_secret: str) -> str:
    """Cognito's SECRET_HASH, computed here rather than by the code under test."""
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_expected_hash_matches_a_value_computed_by_hand() -> None:
    # Fixed inputs and their HMAC-SHA256, so the reference itself is pinned (printf 'aliceclient' | openssl ...).
    digest = hmac.new(b"secret", b"aliceclient", hashlib.sha256).digest()
    assert expected_hash("alice", "client", "secret") == base64.b64encode(digest).decode()
    assert expected_hash("alice", "client", "secret") != expected_hash("alice", "client", "other")


@dataclass
class Sent:
    operation: str
    body: dict[str, Any]

    def hash_and_username(self) -> tuple[str | None, str | None]:
        """The SECRET_HASH this request carries and the username it names (None where it names none)."""
        if self.operation in TOP_LEVEL:
            return self.body.get("SecretHash"), self.body.get("Username")
        if self.operation == "InitiateAuth":
            params = self.body.get("AuthParameters", {})
            return params.get("SECRET_HASH"), params.get("USERNAME")
        responses = self.body.get("ChallengeResponses", {})
        return responses.get("SECRET_HASH"), responses.get("USERNAME")


@dataclass
class Wire:
    """The project's cognito-idp requests as sent; canned answers for operations moto lacks."""

    sent: list[Sent] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    handlers: list[tuple[Any, str, Callable[..., Any]]] = field(default_factory=list)

    def attach(self) -> None:
        """Hook the client the project uses now: call after ``settings.COGNITO``/``AWS`` are final."""
        from cognito_backend.clients import get_client

        client = get_client("cognito-idp")
        event = f"before-send.{client.meta.service_model.service_id.hyphenize()}"

        def record(request: Any, **kwargs: Any) -> Any:
            target = dict(request.headers).get("X-Amz-Target", b"")
            operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
            self.sent.append(Sent(operation, json.loads(request.body or b"{}")))
            if operation in self.answers:
                return aws_response(200, self.answers[operation])
            return None

        client.meta.events.register(event, record)
        self.handlers.append((client, event, record))

    def hashed(self) -> list[Sent]:
        return [s for s in self.sent if s.operation in HASHED]


@pytest.fixture
def wire() -> Iterator[Wire]:
    captured = Wire()
    yield captured
    for client, event, handler in captured.handlers:
        client.meta.events.unregister(event, handler)


@pytest.fixture(params=[True, False], ids=["with-secret", "without-secret"])
def pool(request: pytest.FixtureRequest, cognito: CognitoFactory, settings: Any, wire: Wire) -> UserPool:
    """A pool whose app client has a secret (or not), set as the site's pool, with the wire hooked."""
    created = cognito.create_pool_with_client(secret=request.param)
    settings.COGNITO = created.settings()
    wire.attach()
    return created


def admin_created(cognito: CognitoFactory, pool: UserPool, username: str) -> None:
    cognito.idp.admin_create_user(
        UserPoolId=pool.pool_id,
        Username=username,
        TemporaryPassword=TEMPORARY,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": f"{username}@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )


def post(api: APIClient, url: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = api.post(url, body, format="json")
    assert response.status_code == status, response.content
    return dict(response.json()) if response.content else {}


def assert_hashes(wire: Wire, pool: UserPool, expected: list[tuple[str, str]]) -> None:
    """The hashed requests sent are exactly ``expected`` (operation, username); each carries the right hash."""
    sent = wire.hashed()
    assert [s.operation for s in sent] == [operation for operation, _ in expected]
    for request, (operation, username) in zip(sent, expected, strict=True):
        got, named = request.hash_and_username()
        if named is not None:
            assert named == username, (operation, named)
        if pool.client_secret:
            assert got == expected_hash(username, pool.client_id, pool.client_secret), operation
        else:
            # Cognito refuses a SECRET_HASH from a client that has no secret.
            assert got is None, operation


# --- one test per flow ------------------------------------------------------------------------------------------


def test_sign_up_sends_the_secret_hash(api: APIClient, pool: UserPool, wire: Wire) -> None:
    post(api, "/api/auth/sign-up/", {"username": "sue", "password": DEFAULT_PASSWORD, "email": "sue@example.com"}, 201)
    assert_hashes(wire, pool, [("SignUp", "sue")])


def test_confirm_sign_up_sends_the_secret_hash(
    api: APIClient, cognito: CognitoFactory, pool: UserPool, wire: Wire
) -> None:
    cognito.idp.admin_create_user(UserPoolId=pool.pool_id, Username="sue", MessageAction="SUPPRESS")
    wire.sent.clear()
    # moto accepts any code (real codes: test_sign_up.py on cognito-local); only the request matters here.
    post(api, "/api/auth/sign-up/confirm/", {"username": "sue", "code": "123456"})
    assert_hashes(wire, pool, [("ConfirmSignUp", "sue")])


def test_resend_confirmation_code_sends_the_secret_hash(api: APIClient, pool: UserPool, wire: Wire) -> None:
    delivery = {"Destination": "s***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    wire.answers["ResendConfirmationCode"] = {"CodeDeliveryDetails": delivery}
    post(api, "/api/auth/sign-up/resend/", {"username": "sue"})
    assert_hashes(wire, pool, [("ResendConfirmationCode", "sue")])


def test_password_sign_in_sends_the_secret_hash(
    api: APIClient, cognito: CognitoFactory, pool: UserPool, wire: Wire
) -> None:
    cognito.create_user(pool, "sue", sign_in=False)
    wire.sent.clear()
    assert post(api, SIGN_IN, {"username": "sue", "password": DEFAULT_PASSWORD})["tokens"]
    initiate = wire.hashed()[0].body
    assert initiate["AuthFlow"] == "USER_PASSWORD_AUTH"
    assert_hashes(wire, pool, [("InitiateAuth", "sue")])


def test_refresh_sends_the_secret_hash_over_the_username(
    api: APIClient, cognito: CognitoFactory, pool: UserPool, wire: Wire
) -> None:
    user = cognito.create_user(pool, "sue")
    wire.sent.clear()
    post(api, "/api/auth/token/refresh/", {"refresh_token": user.tokens.refresh_token, "username": "sue"})
    assert wire.hashed()[0].body["AuthFlow"] == "REFRESH_TOKEN_AUTH"
    assert_hashes(wire, pool, [("InitiateAuth", "sue")])


def test_new_password_answer_sends_the_secret_hash(
    api: APIClient, cognito: CognitoFactory, pool: UserPool, wire: Wire
) -> None:
    admin_created(cognito, pool, "newbie")
    wire.sent.clear()
    challenge = post(api, SIGN_IN, {"username": "newbie", "password": TEMPORARY})
    assert challenge["challenge"] == "NEW_PASSWORD_REQUIRED"
    assert post(api, CHALLENGE, {"session": challenge["session"], "new_password": NEW})["tokens"]
    assert wire.hashed()[1].body["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert_hashes(wire, pool, [("InitiateAuth", "newbie"), ("RespondToAuthChallenge", "newbie")])


def test_totp_answer_sends_the_secret_hash(api: APIClient, cognito: CognitoFactory, pool: UserPool, wire: Wire) -> None:
    user = cognito.create_user(pool, "sue")
    secret = str(cognito.idp.associate_software_token(AccessToken=user.tokens.access_token)["SecretCode"])
    cognito.idp.verify_software_token(AccessToken=user.tokens.access_token, UserCode=totp_now(secret))
    cognito.idp.admin_set_user_mfa_preference(
        UserPoolId=pool.pool_id, Username="sue", SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    wire.sent.clear()
    challenge = post(api, SIGN_IN, {"username": "sue", "password": DEFAULT_PASSWORD})
    assert challenge["challenge"] == "SOFTWARE_TOKEN_MFA"
    assert post(api, CHALLENGE, {"session": challenge["session"], "code": totp_now(secret)})["tokens"]
    assert_hashes(wire, pool, [("InitiateAuth", "sue"), ("RespondToAuthChallenge", "sue")])


def test_mfa_setup_answer_sends_the_secret_hash(
    api: APIClient, cognito: CognitoFactory, pool: UserPool, wire: Wire
) -> None:
    cognito.idp.set_user_pool_mfa_config(
        UserPoolId=pool.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    admin_created(cognito, pool, "newbie")
    wire.sent.clear()
    first = post(api, SIGN_IN, {"username": "newbie", "password": TEMPORARY})
    second = post(api, CHALLENGE, {"session": first["session"], "new_password": NEW})
    assert second["challenge"] == "MFA_SETUP"
    setup = post(api, "/api/auth/sign-in/mfa-setup/", {"session": second["session"]})
    done = post(
        api, "/api/auth/sign-in/mfa-setup/verify/", {"session": setup["session"], "code": totp_now(setup["secret"])}
    )
    assert done["tokens"]
    assert wire.hashed()[2].body["ChallengeName"] == "MFA_SETUP"
    assert_hashes(
        wire,
        pool,
        [("InitiateAuth", "newbie"), ("RespondToAuthChallenge", "newbie"), ("RespondToAuthChallenge", "newbie")],
    )


def test_forgot_password_sends_the_secret_hash(
    api: APIClient, cognito: CognitoFactory, pool: UserPool, wire: Wire
) -> None:
    cognito.create_user(pool, "sue", sign_in=False)
    wire.sent.clear()
    post(api, "/api/auth/password/forgot/", {"username": "sue"}, 202)
    assert_hashes(wire, pool, [("ForgotPassword", "sue")])


def test_reset_password_sends_the_secret_hash(
    api: APIClient, cognito: CognitoFactory, pool: UserPool, wire: Wire
) -> None:
    cognito.create_user(pool, "sue", sign_in=False)
    wire.sent.clear()
    # moto accepts any code; only the request matters here.
    post(api, "/api/auth/password/reset/", {"username": "sue", "code": "123456", "new_password": NEW})
    assert_hashes(wire, pool, [("ConfirmForgotPassword", "sue")])


@pytest.mark.parametrize("secret", [True, False], ids=["with-secret", "without-secret"])
def test_srp_sign_in_sends_the_secret_hash_over_the_srp_user_id(
    api: APIClient, cognito: CognitoFactory, settings: Any, wire: Wire, secret: bool
) -> None:
    # moto finds an SRP user only in a pool that signs in by email; it answers the sub as USER_ID_FOR_SRP, and the
    # PASSWORD_VERIFIER answer's USERNAME and hash are over that id (as amazon-cognito-identity-js does).
    srp_pool = cognito.create_pool_with_client(secret=secret, UsernameAttributes=["email"], AliasAttributes=[])
    settings.COGNITO = srp_pool.settings()
    settings.ACCOUNTS = {**settings.ACCOUNTS, "AUTH_FLOW": "USER_SRP_AUTH"}
    user = cognito.create_user(srp_pool, "dave@example.com", email="dave@example.com", sign_in=False)
    wire.attach()
    assert post(api, SIGN_IN, {"username": "dave@example.com", "password": DEFAULT_PASSWORD})["tokens"]
    assert wire.hashed()[0].body["AuthFlow"] == "USER_SRP_AUTH"
    assert wire.hashed()[1].body["ChallengeName"] == "PASSWORD_VERIFIER"
    assert_hashes(wire, srp_pool, [("InitiateAuth", "dave@example.com"), ("RespondToAuthChallenge", user.sub)])


def test_lazy_migration_sign_in_sends_the_secret_hash(api: APIClient, pool: UserPool, wire: Wire) -> None:
    # A site user not yet in the pool: Cognito refuses, the old password matches, the user is created through the
    # admin API (no hash there), and the sign-in is tried again; every user-facing call carries the hash.
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("olduser", email="old@example.com", password=DEFAULT_PASSWORD)
    assert post(api, SIGN_IN, {"username": "olduser", "password": DEFAULT_PASSWORD})["tokens"]
    initiates = [s for s in wire.hashed() if s.operation == "InitiateAuth"]
    assert len(initiates) >= 2
    assert_hashes(wire, pool, [(s.operation, "olduser") for s in wire.hashed()])
