"""AuthLambda against the moto user pool: the account and an ID token the identity pool accepts, or an error to show.

The handler runs in this process with its Lambda environment (``USER_POOL_ID``, ``APP_CLIENT_ID`` ...) and its own
boto3 client, pointed at moto by ``AWS_ENDPOINT_URL`` as the local runtime points it. moto does not check
SECRET_HASH: the request the handler sends is captured at botocore's ``before-send`` hook to show it is there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lambdas import auth_lambda
from tests.conftest import REGION, CognitoFactory, UserPool, secret_hash

PASSWORD = "Cl0ud-Connect-pass"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, aws: str) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setattr(auth_lambda, "_client", None)
    yield monkeypatch


def configure(environment: pytest.MonkeyPatch, pool: UserPool) -> None:
    environment.setenv("USER_POOL_ID", pool.pool_id)
    environment.setenv("APP_CLIENT_ID", pool.client_id)
    if pool.client_secret:
        environment.setenv("APP_CLIENT_SECRET", pool.client_secret)


@pytest.fixture
def pool(cognito: CognitoFactory, environment: pytest.MonkeyPatch, user_pool: UserPool) -> UserPool:
    configure(environment, user_pool)
    cognito.create_user(
        user_pool, "carol", PASSWORD, groups=["users"], attributes={"given_name": "Carol"}, sign_in=False
    )
    return user_pool


def test_right_password_answers_the_account_and_an_id_token_for_the_identity_pool(pool: UserPool) -> None:
    from cognito_backend.clients import get_client
    from cognito_backend.tokens import verify_token

    answer = auth_lambda.handler({"username": "carol", "password": PASSWORD}, None)

    account = answer["account"]
    assert (account["username"], account["email"], account["groups"]) == ("carol", "carol@example.com", ["users"])
    assert account["attributes"]["given_name"] == "Carol"
    assert account["sub"]
    credentials = account["credentials"]
    provider = f"cognito-idp.{REGION}.amazonaws.com/{pool.pool_id}"
    assert credentials["provider"] == provider
    verified = verify_token(credentials["token"], token_use=["id"])
    assert verified.claims["sub"] == account["sub"]
    assert verified.claims["iss"] == f"https://{provider}"
    # Step 3 of the Cloud Connect login: the token in the identity pool's Logins under that provider.
    identity = get_client("cognito-identity")
    identity_pool = identity.create_identity_pool(
        IdentityPoolName="cloud_connect",
        AllowUnauthenticatedIdentities=True,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": pool.client_id}],
    )["IdentityPoolId"]
    logins = {provider: credentials["token"]}
    identity_id = identity.get_id(IdentityPoolId=identity_pool, Logins=logins)["IdentityId"]
    keys = identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
    assert keys["AccessKeyId"] and keys["SessionToken"]


@pytest.mark.parametrize(("username", "password"), [("carol", "Wrong-passw0rd"), ("nobody", PASSWORD)])
def test_wrong_password_and_unknown_user_answer_the_same_error(pool: UserPool, username: str, password: str) -> None:
    with pytest.raises(auth_lambda.NotAuthorized) as caught:
        auth_lambda.handler({"username": username, "password": password}, None)

    assert str(caught.value) == "Incorrect username or password."
    assert password not in str(caught.value)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "Missing username and password."),
        ({"username": "carol"}, "Missing password."),
        ({"username": "carol", "password": 12345678}, "username and password must be strings."),
        (["carol"], 'Send {"username"'),
    ],
)
def test_incomplete_requests_are_refused(pool: UserPool, event: Any, message: str) -> None:
    with pytest.raises(auth_lambda.InvalidRequest, match=message):
        auth_lambda.handler(event, None)


def test_a_user_who_must_choose_a_new_password_is_told_so(pool: UserPool, cognito: CognitoFactory) -> None:
    cognito.idp.admin_create_user(
        UserPoolId=pool.pool_id, Username="dan", TemporaryPassword=PASSWORD, MessageAction="SUPPRESS"
    )

    with pytest.raises(auth_lambda.ChallengeRequired, match="NEW_PASSWORD_REQUIRED"):
        auth_lambda.handler({"username": "dan", "password": PASSWORD}, None)


def test_a_client_with_a_secret_gets_the_secret_hash(
    cognito: CognitoFactory, environment: pytest.MonkeyPatch, settings: Any
) -> None:
    pool = cognito.create_pool_with_client(secret=True)
    settings.COGNITO = pool.settings()
    configure(environment, pool)
    cognito.create_user(pool, "erin", PASSWORD, sign_in=False)
    sent: list[bytes] = []
    auth_lambda.client().meta.events.register(
        "before-send.cognito-idp.InitiateAuth", lambda request, **kwargs: sent.append(request.body)
    )

    auth_lambda.handler({"username": "erin", "password": PASSWORD}, None)

    import json

    parameters = json.loads(sent[0])["AuthParameters"]
    assert parameters["SECRET_HASH"] == secret_hash("erin", pool.client_id, pool.client_secret)


def test_an_unreachable_user_pool_is_service_unavailable(pool: UserPool, environment: pytest.MonkeyPatch) -> None:
    from tests.conftest import free_port

    environment.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # a closed port
    environment.setattr(auth_lambda, "_client", None)

    with pytest.raises(auth_lambda.ServiceUnavailable, match="could not be reached"):
        auth_lambda.handler({"username": "carol", "password": PASSWORD}, None)


# once: no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
