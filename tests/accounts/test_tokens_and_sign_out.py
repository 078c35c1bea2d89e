"""Refresh, sign-out (RevokeToken on cognito-local: moto lacks it) and global sign-out (moto)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import Faults, LocalPool, bearer
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser

REFRESH = "/api/auth/token/refresh/"


def test_a_refresh_token_gives_new_id_and_access_tokens(api: APIClient, cognito_user: CognitoUser) -> None:
    response = api.post(REFRESH, {"refresh_token": cognito_user.tokens.refresh_token}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"] and body["id_token"]
    assert body["refresh_token"]
    assert body["expires_in"] > 0


def test_refresh_with_a_client_secret_uses_the_username_for_the_hash(
    api: APIClient, cognito: CognitoFactory, settings: Any
) -> None:
    pool = cognito.create_pool_with_client(secret=True)
    settings.COGNITO = pool.settings()
    user = cognito.create_user(pool, "carol")
    payload = {"refresh_token": user.tokens.refresh_token, "username": "carol"}
    response = api.post(REFRESH, payload, format="json")
    assert response.status_code == 200
    assert response.json()["access_token"]


@pytest.mark.parametrize("token", ["no-token", "a.b.c", "x" * 5000, "\u2603"], ids=["word", "dots", "long", "snow"])
def test_a_bad_refresh_token_is_a_401(api: APIClient, cognito_user: CognitoUser, token: str) -> None:
    response = api.post(REFRESH, {"refresh_token": token}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authorized"


@pytest.mark.cognito_local
def test_sign_out_revokes_the_refresh_token(api: APIClient, local_pool: LocalPool) -> None:
    # moto lacks RevokeToken; cognito-local implements it: after sign-out the refresh token no longer refreshes.
    local_pool.create_user("lena")
    tokens = local_pool.sign_in("lena")
    assert api.post(REFRESH, {"refresh_token": tokens["RefreshToken"]}, format="json").status_code == 200
    response = api.post("/api/auth/sign-out/", {"refresh_token": tokens["RefreshToken"]}, format="json")
    assert response.status_code == 200
    after = api.post(REFRESH, {"refresh_token": tokens["RefreshToken"]}, format="json")
    assert after.status_code == 401


def test_sign_out_with_the_access_token_refuses_that_access_token_at_once(
    api: APIClient, cognito_user: CognitoUser, faults: Faults
) -> None:
    # moto's tokens carry origin_jti (cognito-local's do not) but moto lacks RevokeToken: Cognito's empty answer
    # to RevokeToken is injected at the before-send hook; what is tested is the revocation recorded here.
    faults.answer("RevokeToken", {})
    bearer(api, cognito_user.tokens.access_token)
    assert api.get("/api/auth/profile/").status_code == 200
    response = api.post("/api/auth/sign-out/", {"refresh_token": cognito_user.tokens.refresh_token}, format="json")
    assert response.status_code == 200
    assert faults.calls == ["RevokeToken"]
    assert api.get("/api/auth/me/").status_code == 401


@pytest.mark.cognito_local
def test_signing_out_an_unknown_refresh_token_is_a_401(api: APIClient, local_pool: LocalPool) -> None:
    response = api.post("/api/auth/sign-out/", {"refresh_token": "no-such-token"}, format="json")
    assert response.status_code == 401


def test_global_sign_out_ends_every_session_and_refuses_the_access_token_here(
    api: APIClient, cognito_user: CognitoUser
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    assert api.get("/api/auth/profile/").status_code == 200
    response = api.post("/api/auth/sign-out/global/")
    assert response.status_code == 200
    # Recorded with the revocation service: the still-unexpired access token is refused here at once...
    assert api.get("/api/auth/me/").status_code == 401
    # ...and Cognito refuses the refresh token.
    api.credentials()
    refreshed = api.post(REFRESH, {"refresh_token": cognito_user.tokens.refresh_token}, format="json")
    assert refreshed.status_code == 401


def test_global_sign_out_is_recorded_in_the_revocation_store(api: APIClient, cognito_user: CognitoUser) -> None:
    from cognito_backend.models import UserRevocation

    bearer(api, cognito_user.tokens.access_token)
    api.post("/api/auth/sign-out/global/")
    assert UserRevocation.objects.filter(sub=cognito_user.sub).exists()


def test_global_sign_out_without_a_token_is_a_401_with_www_authenticate(api: APIClient) -> None:
    response = api.post("/api/auth/sign-out/global/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_id_token_is_not_accepted_where_cognito_needs_an_access_token(
    api: APIClient, cognito_user: CognitoUser
) -> None:
    bearer(api, cognito_user.tokens.id_token)
    response = api.get("/api/auth/profile/")
    assert response.status_code == 401


def test_sign_in_after_global_sign_out_gets_working_tokens(api: APIClient, cognito_user: CognitoUser) -> None:
    bearer(api, cognito_user.tokens.access_token).post("/api/auth/sign-out/global/")
    api.credentials()
    # Token times have one-second resolution and a token of the revocation's second is refused (the safe side).
    time.sleep(1.1)
    fresh = api.post("/api/auth/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    bearer(api, fresh.json()["tokens"]["access_token"])
    assert api.get("/api/auth/profile/").status_code == 200
