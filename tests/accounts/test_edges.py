"""Edges of the whole API: app clients with a secret, refresh-token rotation, CSRF, logging, misconfiguration."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import Faults, bearer
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool

NEW = "N3w-Passw0rd!"


def test_every_flow_completes_for_a_client_with_a_secret(
    api: APIClient, cognito: CognitoFactory, settings: Any
) -> None:
    # moto checks SECRET_HASH only on refresh, SRP and challenge answers; the hash's value on every flow is asserted
    # on the wire in test_secret_hash.py. This test shows the whole journey completes with a secret client.
    pool = cognito.create_pool_with_client(secret=True)
    settings.COGNITO = pool.settings()
    sign_up = {"username": "sue", "password": DEFAULT_PASSWORD, "email": "sue@example.com"}
    assert api.post("/api/auth/sign-up/", sign_up, format="json").status_code == 201
    # moto accepts any confirmation code (real codes: test_sign_up.py on cognito-local).
    confirmed = api.post("/api/auth/sign-up/confirm/", {"username": "sue", "code": "123456"}, format="json")
    assert confirmed.status_code == 200
    assert api.post("/api/auth/password/forgot/", {"username": "sue"}, format="json").status_code == 202
    reset = {"username": "sue", "code": "123456", "new_password": NEW}
    assert api.post("/api/auth/password/reset/", reset, format="json").status_code == 200
    signed_in = api.post("/api/auth/sign-in/", {"username": "sue", "password": NEW}, format="json")
    assert signed_in.status_code == 200
    refresh = {"refresh_token": signed_in.json()["tokens"]["refresh_token"], "username": "sue"}
    assert api.post("/api/auth/token/refresh/", refresh, format="json").status_code == 200


def test_a_rotated_refresh_token_is_returned(api: APIClient, cognito_user: CognitoUser, faults: Faults) -> None:
    # moto does not rotate refresh tokens: Cognito's answer of a pool with rotation is injected at before-send.
    rotated = {"IdToken": "id", "AccessToken": "access", "RefreshToken": "rotated", "ExpiresIn": 300}
    faults.answer("InitiateAuth", {"AuthenticationResult": rotated})
    response = api.post("/api/auth/token/refresh/", {"refresh_token": "old"}, format="json")
    assert response.status_code == 200
    assert response.json()["refresh_token"] == "rotated"
    assert response.json()["expires_in"] == 300


def test_without_rotation_the_same_refresh_token_stays_valid(api: APIClient, cognito_user: CognitoUser) -> None:
    response = api.post("/api/auth/token/refresh/", {"refresh_token": cognito_user.tokens.refresh_token}, format="json")
    assert response.json()["refresh_token"] == cognito_user.tokens.refresh_token


def test_token_endpoints_need_no_csrf_token(cognito_user: CognitoUser) -> None:
    strict = APIClient(enforce_csrf_checks=True)
    strict.cookies["sessionid"] = "something"
    response = strict.post("/api/auth/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200


def test_a_session_cookie_does_not_sign_anyone_in(api: APIClient, cognito_user: CognitoUser, admin_user: Any) -> None:
    api.force_login(admin_user)
    response = api.get("/api/auth/profile/")
    assert response.status_code == 401


def test_no_password_code_or_token_reaches_the_logs(
    api: APIClient, cognito_user: CognitoUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    secrets = [DEFAULT_PASSWORD, NEW, "Sign-Up-Passw0rd", "424242", "717171"]
    api.post(
        "/api/auth/sign-up/",
        {"username": "bob", "password": "Sign-Up-Passw0rd", "email": "bob@example.com"},
        format="json",
    )
    api.post("/api/auth/sign-up/confirm/", {"username": "bob", "code": "424242"}, format="json")
    api.post("/api/auth/password/forgot/", {"username": "alice"}, format="json")
    api.post("/api/auth/password/reset/", {"username": "alice", "code": "717171", "new_password": NEW}, format="json")
    tokens = api.post("/api/auth/sign-in/", {"username": "alice", "password": NEW}, format="json").json()["tokens"]
    bearer(api, tokens["access_token"])
    api.post("/api/auth/password/change/", {"old_password": NEW, "new_password": DEFAULT_PASSWORD}, format="json")
    api.post("/api/auth/token/refresh/", {"refresh_token": tokens["refresh_token"]}, format="json")
    secrets += [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
    for secret in secrets:
        assert secret not in caplog.text


def test_a_missing_app_client_id_is_a_503_not_a_500(api: APIClient, user_pool: UserPool, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "APP_CLIENT_ID": ""}
    response = api.post("/api/auth/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 503
