"""Sign-in against the moto stand-in: tokens, the same 401 for an unknown user and a wrong password, 403s."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool

URL = "/api/auth/sign-in/"


def test_sign_in_returns_id_access_and_refresh_tokens_with_expiry(api: APIClient, cognito_user: CognitoUser) -> None:
    response = api.post(URL, {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["challenge"] is None
    assert set(body["tokens"]) == {"id_token", "access_token", "refresh_token", "expires_in", "token_type"}
    assert body["tokens"]["expires_in"] > 0
    assert body["tokens"]["token_type"] == "Bearer"


def test_unknown_user_and_wrong_password_get_the_same_401(api: APIClient, cognito_user: CognitoUser) -> None:
    wrong = api.post(URL, {"username": "alice", "password": "Wrong-Passw0rd"}, format="json")
    unknown = api.post(URL, {"username": "nobody", "password": "Wrong-Passw0rd"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"code": "not_authorized", "detail": "Incorrect username or password."}


def test_sign_in_by_email_works(api: APIClient, cognito_user: CognitoUser) -> None:
    response = api.post(URL, {"username": cognito_user.email, "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["tokens"]["access_token"]


def test_unconfirmed_user_is_refused_with_403_user_not_confirmed(api: APIClient, user_pool: UserPool) -> None:
    api.post(
        "/api/auth/sign-up/",
        {"username": "bob", "password": DEFAULT_PASSWORD, "email": "bob@example.com"},
        format="json",
    )
    response = api.post(URL, {"username": "bob", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "user_not_confirmed"


def test_a_disabled_user_is_refused_like_a_wrong_password_whatever_the_password(
    api: APIClient, cognito: CognitoFactory, cognito_user: CognitoUser
) -> None:
    # Cognito (and moto) say "User is disabled." before looking at the password: telling it would prove the
    # account exists to anyone, so it is the generic refusal.
    cognito.idp.admin_disable_user(UserPoolId=cognito_user.pool_id, Username="alice")
    right = api.post(URL, {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    wrong = api.post(URL, {"username": "alice", "password": "Wrong-Passw0rd!"}, format="json")
    unknown = api.post(URL, {"username": "nobody", "password": "Wrong-Passw0rd!"}, format="json")
    assert right.status_code == wrong.status_code == unknown.status_code == 401
    assert right.json() == wrong.json() == unknown.json()
    assert right.json()["code"] == "not_authorized"


def test_sign_in_with_a_client_secret_returns_tokens(api: APIClient, cognito: CognitoFactory, settings: Any) -> None:
    # moto does not check SECRET_HASH on USER_PASSWORD_AUTH: the hash's value is asserted on the wire in
    # test_secret_hash.py; this only shows a secret client signs in.
    pool = cognito.create_pool_with_client(secret=True)
    settings.COGNITO = pool.settings()
    cognito.create_user(pool, "carol", sign_in=False)
    response = api.post(URL, {"username": "carol", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["tokens"]["id_token"]


def test_srp_sign_in_through_pycognito_returns_tokens(api: APIClient, cognito: CognitoFactory, settings: Any) -> None:
    # moto finds an SRP user only in a pool that signs in by email (it answers the sub as USER_ID_FOR_SRP).
    pool = cognito.create_pool_with_client(UsernameAttributes=["email"], AliasAttributes=[])
    settings.COGNITO = pool.settings()
    settings.ACCOUNTS = {**settings.ACCOUNTS, "AUTH_FLOW": "USER_SRP_AUTH"}
    cognito.create_user(pool, "dave@example.com", email="dave@example.com", sign_in=False)
    response = api.post(URL, {"username": "dave@example.com", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["tokens"]["access_token"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "alice"},
        {"password": DEFAULT_PASSWORD},
        {"username": "", "password": DEFAULT_PASSWORD},
        {"username": "a" * 129, "password": DEFAULT_PASSWORD},
        {"username": "has space", "password": DEFAULT_PASSWORD},
        {"username": "nul\x00byte", "password": DEFAULT_PASSWORD},
        {"username": "alice", "password": "x" * 257},
        {"username": ["alice"], "password": DEFAULT_PASSWORD},
        {"username": {"$ne": 1}, "password": DEFAULT_PASSWORD},
        {"username": "alice", "password": None},
    ],
)
def test_malformed_sign_in_input_is_a_400_naming_the_field(
    api: APIClient, cognito_user: CognitoUser, payload: dict[str, Any]
) -> None:
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) <= {"username", "password"} and body["fields"]


def test_a_body_that_is_not_json_is_a_400(api: APIClient, cognito_user: CognitoUser) -> None:
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_sign_in_never_logs_the_password_or_tokens(
    api: APIClient, cognito_user: CognitoUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    body = api.post(URL, {"username": "alice", "password": DEFAULT_PASSWORD}, format="json").json()
    api.post(URL, {"username": "alice", "password": "Wrong-Passw0rd"}, format="json")
    logged = caplog.text
    assert DEFAULT_PASSWORD not in logged
    assert "Wrong-Passw0rd" not in logged
    for token in body["tokens"]["access_token"], body["tokens"]["refresh_token"], body["tokens"]["id_token"]:
        assert token not in logged


def test_a_site_user_not_yet_in_cognito_signs_in_with_the_old_password(api: APIClient, user_pool: UserPool) -> None:
    # Lazy migration (migrations_tools): Cognito refuses, the local hash matches, the password moves into Cognito.
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("olduser", email="old@example.com", password=DEFAULT_PASSWORD)
    response = api.post(URL, {"username": "olduser", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["tokens"]["access_token"]


def test_a_site_user_with_a_wrong_old_password_gets_the_same_401(api: APIClient, user_pool: UserPool) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("olduser", email="old@example.com", password=DEFAULT_PASSWORD)
    response = api.post(URL, {"username": "olduser", "password": "Wrong-Passw0rd"}, format="json")
    assert response.status_code == 401
    assert response.json() == {"code": "not_authorized", "detail": "Incorrect username or password."}


def test_a_site_user_whose_old_password_breaks_the_policy_must_reset_it(api: APIClient, user_pool: UserPool) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("olduser", email="old@example.com", password="lowercaseonly")
    response = api.post(URL, {"username": "olduser", "password": "lowercaseonly"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "password_reset_required"
