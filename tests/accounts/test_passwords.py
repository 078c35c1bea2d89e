"""Forgot / reset password (moto for the flow, cognito-local for real codes) and change password (moto)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import LocalPool, bearer
from tests.conftest import DEFAULT_PASSWORD, CognitoUser

FORGOT = "/api/auth/password/forgot/"
RESET = "/api/auth/password/reset/"
CHANGE = "/api/auth/password/change/"
NEW = "N3w-Passw0rd!"


def test_forgot_password_answers_202(api: APIClient, cognito_user: CognitoUser) -> None:
    response = api.post(FORGOT, {"username": "alice"}, format="json")
    assert response.status_code == 202


def test_forgot_password_for_an_unknown_user_answers_exactly_like_for_a_known_one(
    api: APIClient, cognito_user: CognitoUser
) -> None:
    known = api.post(FORGOT, {"username": "alice"}, format="json")
    unknown = api.post(FORGOT, {"username": "nobody"}, format="json")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()


def test_reset_with_the_code_sets_the_new_password(api: APIClient, cognito_user: CognitoUser) -> None:
    # moto accepts any code that is not one of its own "moto-confirmation-code:" codes; real codes: below.
    api.post(FORGOT, {"username": "alice"}, format="json")
    response = api.post(RESET, {"username": "alice", "code": "123456", "new_password": NEW}, format="json")
    assert response.status_code == 200
    signed_in = api.post("/api/auth/sign-in/", {"username": "alice", "password": NEW}, format="json")
    assert signed_in.status_code == 200


def test_reset_with_a_weak_password_is_a_400_on_new_password(api: APIClient, cognito_user: CognitoUser) -> None:
    api.post(FORGOT, {"username": "alice"}, format="json")
    response = api.post(RESET, {"username": "alice", "code": "123456", "new_password": "weak"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_password"
    assert "new_password" in response.json()["fields"]


@pytest.mark.cognito_local
def test_the_real_reset_code_sets_the_new_password(api: APIClient, local_pool: LocalPool) -> None:
    local_pool.create_user("nina")
    api.post(FORGOT, {"username": "nina"}, format="json")
    code = local_pool.local.code_for("nina")
    response = api.post(RESET, {"username": "nina", "code": code, "new_password": NEW}, format="json")
    assert response.status_code == 200
    assert api.post("/api/auth/sign-in/", {"username": "nina", "password": NEW}, format="json").status_code == 200


@pytest.mark.cognito_local
def test_a_wrong_reset_code_is_a_400_code_mismatch(api: APIClient, local_pool: LocalPool) -> None:
    local_pool.create_user("omar")
    api.post(FORGOT, {"username": "omar"}, format="json")
    real = local_pool.local.code_for("omar")
    wrong = "000000" if real != "000000" else "111111"
    response = api.post(RESET, {"username": "omar", "code": wrong, "new_password": NEW}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_mismatch"
    signed_in = api.post("/api/auth/sign-in/", {"username": "omar", "password": DEFAULT_PASSWORD}, format="json")
    assert signed_in.status_code == 200


@pytest.mark.cognito_local
def test_a_reused_reset_code_is_refused(api: APIClient, local_pool: LocalPool) -> None:
    local_pool.create_user("pia")
    api.post(FORGOT, {"username": "pia"}, format="json")
    code = local_pool.local.code_for("pia")
    assert api.post(RESET, {"username": "pia", "code": code, "new_password": NEW}, format="json").status_code == 200
    again = api.post(RESET, {"username": "pia", "code": code, "new_password": "An0ther-Passw0rd"}, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "code_mismatch"


@pytest.mark.cognito_local
def test_a_new_code_replaces_the_old_one(api: APIClient, local_pool: LocalPool) -> None:
    local_pool.create_user("quin")
    api.post(FORGOT, {"username": "quin"}, format="json")
    first = local_pool.local.code_for("quin")
    api.post(FORGOT, {"username": "quin"}, format="json")
    second = local_pool.local.code_for("quin", after=1)
    if first != second:
        stale = api.post(RESET, {"username": "quin", "code": first, "new_password": NEW}, format="json")
        assert stale.status_code == 400
    fresh = api.post(RESET, {"username": "quin", "code": second, "new_password": NEW}, format="json")
    assert fresh.status_code == 200


def test_change_password_replaces_the_password(api: APIClient, cognito_user: CognitoUser) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": NEW}, format="json")
    assert response.status_code == 200
    api.credentials()
    assert api.post("/api/auth/sign-in/", {"username": "alice", "password": NEW}, format="json").status_code == 200


def test_change_password_with_a_wrong_current_password_is_a_401_on_old_password(
    api: APIClient, cognito_user: CognitoUser
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(CHANGE, {"old_password": "Wrong-Passw0rd", "new_password": NEW}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authorized"


def test_change_password_to_a_weak_one_is_a_400(api: APIClient, cognito_user: CognitoUser) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": "short"}, format="json")
    assert response.status_code == 400
    assert "new_password" in response.json()["fields"]


def test_change_password_needs_a_signed_in_user(api: APIClient, cognito_user: CognitoUser) -> None:
    response = api.post(CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": NEW}, format="json")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_a_password_reset_ends_the_sessions_held_with_the_old_password(
    api: APIClient, cognito_user: CognitoUser
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    assert api.get("/api/auth/me/").status_code == 200
    api.credentials()
    api.post(FORGOT, {"username": "alice"}, format="json")
    assert api.post(RESET, {"username": "alice", "code": "1", "new_password": NEW}, format="json").status_code == 200
    bearer(api, cognito_user.tokens.access_token)
    assert api.get("/api/auth/me/").status_code == 401
