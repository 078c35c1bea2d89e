"""Profile: attributes (moto), email change verified with a real code, custom attributes deleted and the account
deleted (cognito-local: moto lacks DeleteUserAttributes and DeleteUser); TOTP for a signed-in user (moto)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.accounts.conftest import LocalPool, bearer, totp_now
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser

PROFILE = "/api/auth/profile/"


def test_profile_shows_the_users_attributes(api: APIClient, cognito_user: CognitoUser) -> None:
    response = bearer(api, cognito_user.tokens.access_token).get(PROFILE)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["attributes"]["email"] == "alice@example.com"
    assert body["attributes"]["sub"] == cognito_user.sub


def test_profile_update_changes_attributes(api: APIClient, cognito_user: CognitoUser) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.patch(PROFILE, {"attributes": {"name": "Alice A.", "custom:telnum": "7"}}, format="json")
    assert response.status_code == 200
    attributes = api.get(PROFILE).json()["attributes"]
    assert attributes["name"] == "Alice A."
    assert attributes["custom:telnum"] == "7"


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone_number": "555"}, "phone"),
        ({"sub": "someone-else"}, "sub"),
        ({"email_verified": "true"}, "email_verified"),
        ({"cognito:groups": "admins"}, "cognito:groups"),
        ({}, "at least one"),
    ],
)
def test_profile_update_refuses_bad_or_protected_attributes(
    api: APIClient, cognito_user: CognitoUser, attributes: dict[str, str], message: str
) -> None:
    response = bearer(api, cognito_user.tokens.access_token).patch(PROFILE, {"attributes": attributes}, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()["fields"]["attributes"])


def test_profile_needs_a_signed_in_user(api: APIClient, cognito_user: CognitoUser) -> None:
    response = api.get(PROFILE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.cognito_local
def test_a_changed_email_is_verified_with_the_code_sent(api: APIClient, local_pool: LocalPool) -> None:
    local_pool.create_user("rita")
    bearer(api, local_pool.sign_in("rita")["AccessToken"])
    sent_before = len(local_pool.local.codes_for("rita"))
    response = api.patch(PROFILE, {"attributes": {"email": "rita@example.org"}}, format="json")
    assert response.status_code == 200
    code = local_pool.local.code_for("rita", after=sent_before)
    verified = api.post("/api/auth/profile/verify/confirm/", {"attribute": "email", "code": code}, format="json")
    assert verified.status_code == 200
    attributes = api.get(PROFILE).json()["attributes"]
    assert attributes["email"] == "rita@example.org"
    assert attributes["email_verified"] == "true"


@pytest.mark.cognito_local
def test_a_requested_verification_code_verifies_the_email(api: APIClient, local_pool: LocalPool) -> None:
    local_pool.create_user("sara", email_verified="false")
    bearer(api, local_pool.sign_in("sara")["AccessToken"])
    sent = api.post("/api/auth/profile/verify/", {"attribute": "email"}, format="json")
    assert sent.status_code == 200
    code = local_pool.local.code_for("sara")
    verified = api.post("/api/auth/profile/verify/confirm/", {"attribute": "email", "code": code}, format="json")
    assert verified.status_code == 200
    assert api.get(PROFILE).json()["attributes"]["email_verified"] == "true"


@pytest.mark.cognito_local
def test_a_wrong_attribute_code_is_a_400_code_mismatch(api: APIClient, local_pool: LocalPool) -> None:
    local_pool.create_user("tina", email_verified="false")
    bearer(api, local_pool.sign_in("tina")["AccessToken"])
    api.post("/api/auth/profile/verify/", {"attribute": "email"}, format="json")
    real = local_pool.local.code_for("tina")
    wrong = "000000" if real != "000000" else "111111"
    response = api.post("/api/auth/profile/verify/confirm/", {"attribute": "email", "code": wrong}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_mismatch"


@pytest.mark.cognito_local
def test_custom_attributes_can_be_deleted(api: APIClient, local_pool: LocalPool) -> None:
    local_pool.create_user("uma", **{"custom:telnum": "99"})
    bearer(api, local_pool.sign_in("uma")["AccessToken"])
    assert api.get(PROFILE).json()["attributes"]["custom:telnum"] == "99"
    response = api.post("/api/auth/profile/attributes/delete/", {"names": ["custom:telnum"]}, format="json")
    assert response.status_code == 200
    assert "custom:telnum" not in api.get(PROFILE).json()["attributes"]


@pytest.mark.parametrize("names", [["email"], ["sub"], [], ["custom:"], "custom:telnum", [["custom:telnum"]]])
def test_only_custom_attributes_can_be_deleted(api: APIClient, cognito_user: CognitoUser, names: Any) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.post("/api/auth/profile/attributes/delete/", {"names": names}, format="json")
    assert response.status_code == 400
    assert "names" in " ".join(response.json()["fields"])


# --- deleting the account ---------------------------------------------------------------------------------------


def _local_user(sub: str) -> Any:
    from cognito_backend.models import CognitoIdentity

    return CognitoIdentity.objects.get(sub=sub).user


@pytest.mark.cognito_local
def test_deleting_the_account_removes_the_cognito_user_and_deactivates_the_local_one(
    api: APIClient, local_pool: LocalPool
) -> None:
    local_pool.create_user("vera")
    tokens = local_pool.sign_in("vera")
    bearer(api, tokens["AccessToken"])
    sub = api.get(PROFILE).json()["attributes"]["sub"]
    user = _local_user(sub)
    response = api.delete("/api/auth/account/")
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.is_active is False
    api.credentials()
    signed_in = api.post("/api/auth/sign-in/", {"username": "vera", "password": DEFAULT_PASSWORD}, format="json")
    assert signed_in.status_code == 401


@pytest.mark.cognito_local
def test_deleting_the_account_deletes_the_local_user_when_configured(
    api: APIClient, local_pool: LocalPool, settings: Any
) -> None:
    settings.ACCOUNTS = {**settings.ACCOUNTS, "DELETE_LOCAL_USER": "delete"}
    local_pool.create_user("wendy")
    bearer(api, local_pool.sign_in("wendy")["AccessToken"])
    sub = api.get(PROFILE).json()["attributes"]["sub"]
    user_id = _local_user(sub).pk
    assert api.delete("/api/auth/account/").status_code == 204
    assert not get_user_model().objects.filter(pk=user_id).exists()


@pytest.mark.cognito_local
def test_deleting_the_account_keeps_other_local_users(api: APIClient, local_pool: LocalPool) -> None:
    bystander = get_user_model().objects.create_user("bystander", password="unused-Passw0rd")
    local_pool.create_user("xena")
    bearer(api, local_pool.sign_in("xena")["AccessToken"])
    assert api.delete("/api/auth/account/").status_code == 204
    bystander.refresh_from_db()
    assert bystander.is_active


# --- TOTP for a signed-in user ---------------------------------------------------------------------------------


def test_a_signed_in_user_adds_an_authenticator_and_it_is_asked_for_at_sign_in(
    api: APIClient, cognito_user: CognitoUser
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    setup = api.post("/api/auth/mfa/totp/")
    assert setup.status_code == 200
    secret = setup.json()["secret"]
    assert setup.json()["uri"].startswith("otpauth://totp/")
    verified = api.post("/api/auth/mfa/totp/verify/", {"code": totp_now(secret)}, format="json")
    assert verified.status_code == 200
    assert api.get(PROFILE).json()["mfa_preferred"] == "SOFTWARE_TOKEN_MFA"
    api.credentials()
    signed_in = api.post("/api/auth/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    assert signed_in.json()["challenge"] == "SOFTWARE_TOKEN_MFA"


def test_a_wrong_authenticator_code_is_a_400_code_mismatch(api: APIClient, cognito_user: CognitoUser) -> None:
    bearer(api, cognito_user.tokens.access_token)
    secret = api.post("/api/auth/mfa/totp/").json()["secret"]
    wrong = f"{(int(totp_now(secret)) + 500000) % 1000000:06d}"
    response = api.post("/api/auth/mfa/totp/verify/", {"code": wrong}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_mismatch"


def test_mfa_can_be_turned_off_with_the_preference(
    api: APIClient, cognito: CognitoFactory, cognito_user: CognitoUser
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    secret = api.post("/api/auth/mfa/totp/").json()["secret"]
    api.post("/api/auth/mfa/totp/verify/", {"code": totp_now(secret)}, format="json")
    response = api.put("/api/auth/mfa/preference/", {"totp": {"enabled": False}}, format="json")
    assert response.status_code == 200
    api.credentials()
    signed_in = api.post("/api/auth/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    assert signed_in.json()["tokens"] is not None


@pytest.mark.parametrize("payload", [{}, {"totp": {}}, {"totp": "on"}, {"sms": {"enabled": "maybe"}}])
def test_an_invalid_mfa_preference_is_a_400(api: APIClient, cognito_user: CognitoUser, payload: Any) -> None:
    response = bearer(api, cognito_user.tokens.access_token).put("/api/auth/mfa/preference/", payload, format="json")
    assert response.status_code == 400
