"""Sign-in against cognito-local, which checks TOTP codes for real and offers SELECT_MFA_TYPE."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import LocalPool, bearer, totp_now
from tests.conftest import DEFAULT_PASSWORD

pytestmark = pytest.mark.cognito_local

SIGN_IN = "/api/auth/sign-in/"
CHALLENGE = "/api/auth/sign-in/challenge/"


def test_unknown_user_and_wrong_password_get_the_same_401(api: APIClient, local_pool: LocalPool) -> None:
    # cognito-local answers a wrong password with InvalidPasswordException (Cognito: NotAuthorizedException).
    local_pool.create_user("yara")
    wrong = api.post(SIGN_IN, {"username": "yara", "password": "Wrong-Passw0rd"}, format="json")
    unknown = api.post(SIGN_IN, {"username": "nobody", "password": "Wrong-Passw0rd"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def _with_totp(api: APIClient, local_pool: LocalPool, username: str) -> str:
    local_pool.create_user(username, phone_number="+12025550143")
    bearer(api, local_pool.sign_in(username)["AccessToken"])
    secret = str(api.post("/api/auth/mfa/totp/").json()["secret"])
    assert api.post("/api/auth/mfa/totp/verify/", {"code": totp_now(secret)}, format="json").status_code == 200
    api.credentials()
    return secret


def test_totp_mfa_is_checked_for_real(api: APIClient, local_pool: LocalPool) -> None:
    secret = _with_totp(api, local_pool, "zoe")
    challenge = api.post(SIGN_IN, {"username": "zoe", "password": DEFAULT_PASSWORD}, format="json").json()
    assert challenge["challenge"] == "SOFTWARE_TOKEN_MFA"
    wrong = f"{(int(totp_now(secret)) + 500000) % 1000000:06d}"
    refused = api.post(CHALLENGE, {"session": challenge["session"], "code": wrong}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "code_mismatch"


def test_the_right_totp_code_signs_in(api: APIClient, local_pool: LocalPool) -> None:
    secret = _with_totp(api, local_pool, "abby")
    challenge = api.post(SIGN_IN, {"username": "abby", "password": DEFAULT_PASSWORD}, format="json").json()
    response = api.post(CHALLENGE, {"session": challenge["session"], "code": totp_now(secret)}, format="json")
    assert response.status_code == 200
    assert response.json()["tokens"]["access_token"]


def test_select_mfa_type_is_answered_with_the_chosen_type(api: APIClient, local_pool: LocalPool) -> None:
    secret = _with_totp(api, local_pool, "bella")
    bearer(api, local_pool.sign_in_with_totp("bella", secret))
    both = {"totp": {"enabled": True, "preferred": False}, "sms": {"enabled": True, "preferred": False}}
    assert api.put("/api/auth/mfa/preference/", both, format="json").status_code == 200
    api.credentials()
    first = api.post(SIGN_IN, {"username": "bella", "password": DEFAULT_PASSWORD}, format="json").json()
    assert first["challenge"] == "SELECT_MFA_TYPE"
    assert set(first["parameters"]["mfas_can_choose"]) == {"SMS_MFA", "SOFTWARE_TOKEN_MFA"}
    second = api.post(CHALLENGE, {"session": first["session"], "mfa_type": "SOFTWARE_TOKEN_MFA"}, format="json")
    assert second.json()["challenge"] == "SOFTWARE_TOKEN_MFA"
    done = api.post(CHALLENGE, {"session": second.json()["session"], "code": totp_now(secret)}, format="json")
    assert done.status_code == 200
    assert done.json()["tokens"]["id_token"]


@pytest.mark.parametrize("mfa_type", [None, "EMAIL_OTP", ""])
def test_select_mfa_type_without_a_valid_choice_is_a_400(api: APIClient, local_pool: LocalPool, mfa_type: Any) -> None:
    secret = _with_totp(api, local_pool, "cora")
    bearer(api, local_pool.sign_in_with_totp("cora", secret))
    both = {"totp": {"enabled": True}, "sms": {"enabled": True}}
    api.put("/api/auth/mfa/preference/", both, format="json")
    api.credentials()
    first = api.post(SIGN_IN, {"username": "cora", "password": DEFAULT_PASSWORD}, format="json").json()
    payload = {"session": first["session"], **({"mfa_type": mfa_type} if mfa_type is not None else {})}
    response = api.post(CHALLENGE, payload, format="json")
    assert response.status_code == 400
    assert "mfa_type" in response.json()["fields"]
