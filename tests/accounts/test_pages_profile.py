"""Profile pages: attributes, verification codes, deleting custom attributes, MFA preference, an authenticator
app (QR code and secret), deleting the account. moto stands in; it accepts any verification code (said where a
test relies on it) and checks TOTP codes for real. A stale sign-in is made by setting ``REAUTH_MAX_AGE`` to 0.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts import services
from tests.accounts.conftest import LocalPool, totp_now
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool

PROFILE = "/accounts/profile/"
TOTP = "/accounts/mfa/totp/"
DELETE = "/accounts/account/delete/"


@pytest.fixture
def signed_in(client: Client, cognito_user: CognitoUser) -> Client:
    response = client.post("/accounts/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content.decode()
    return client


def attributes(cognito: CognitoFactory, pool: UserPool, username: str = "alice") -> dict[str, str]:
    user = cognito.idp.admin_get_user(UserPoolId=pool.pool_id, Username=username)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


@pytest.mark.parametrize("url", [PROFILE, TOTP, DELETE])
def test_the_pages_need_a_signed_in_user(client: Client, user_pool: UserPool, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/sign-in/?next={url}"


def test_the_profile_shows_the_attributes_and_saves_an_edit(
    signed_in: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    page = signed_in.get(PROFILE)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="profile-username">alice<' in body and "alice@example.com" in body
    assert 'name="custom:telnum"' in body and 'autocomplete="current-password"' in body
    saved = signed_in.post(PROFILE, {"action": "update", "custom:telnum": "77", "email": "alice@example.com"})
    assert saved.status_code == 302 and saved["Location"] == PROFILE
    assert attributes(cognito, user_pool)["custom:telnum"] == "77"
    assert "Saved: Telnum." in signed_in.get(PROFILE).content.decode()


def test_a_new_email_needs_the_current_password_after_a_stale_sign_in(
    signed_in: Client, cognito: CognitoFactory, user_pool: UserPool, settings: Any
) -> None:
    settings.ACCOUNTS = {**settings.ACCOUNTS, "REAUTH_MAX_AGE": 0}
    refused = signed_in.post(PROFILE, {"action": "update", "email": "new@example.com"})
    assert refused.status_code == 403
    body = refused.content.decode()
    assert "Enter your current password to confirm it is you." in body
    assert 'value="new@example.com"' in body  # what was typed is kept
    wrong = signed_in.post(PROFILE, {"action": "update", "email": "new@example.com", "current_password": "Nope-1234"})
    assert wrong.status_code == 403
    assert "The current password is not correct." in wrong.content.decode()
    assert "Nope-1234" not in wrong.content.decode()
    assert attributes(cognito, user_pool)["email"] == "alice@example.com"
    done = signed_in.post(
        PROFILE, {"action": "update", "email": "new@example.com", "current_password": DEFAULT_PASSWORD}
    )
    assert done.status_code == 302
    assert attributes(cognito, user_pool)["email"] == "new@example.com"


def page_sign_in(client: Client, username: str) -> Client:
    response = client.post("/accounts/sign-in/", {"username": username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content.decode()
    return client


@pytest.mark.cognito_local
def test_an_unverified_email_gets_a_code_and_a_wrong_code_is_refused(client: Client, local_pool: LocalPool) -> None:
    # moto lacks GetUserAttributeVerificationCode; cognito-local sends (logs) real codes and checks them.
    local_pool.create_user("sara", email_verified="false")
    page_sign_in(client, "sara")
    assert 'id="verify-email"' in client.get(PROFILE).content.decode()
    sent = client.post(PROFILE, {"action": "send_code", "attribute": "email"})
    assert sent.status_code == 302
    assert "We sent a code" in client.get(PROFILE).content.decode()
    real = local_pool.local.code_for("sara")
    wrong = "000000" if real != "000000" else "111111"
    refused = client.post(PROFILE, {"action": "verify", "attribute": "email", "code": wrong})
    assert refused.status_code == 400
    assert wrong not in refused.content.decode().split("<main>", 1)[1]
    verified = client.post(PROFILE, {"action": "verify", "attribute": "email", "code": real})
    assert verified.status_code == 302
    assert "Your email is verified." in client.get(PROFILE).content.decode()
    assert 'id="verify-email"' not in client.get(PROFILE).content.decode()


@pytest.mark.cognito_local
def test_custom_attributes_can_be_deleted(client: Client, local_pool: LocalPool) -> None:
    # moto lacks DeleteUserAttributes; cognito-local has it.
    local_pool.create_user("uma", **{"custom:telnum": "99"})
    page_sign_in(client, "uma")
    page = client.get(PROFILE).content.decode()
    assert 'id="profile-delete-attributes"' in page and 'type="checkbox"' in page
    nothing = client.post(PROFILE, {"action": "delete"})
    assert nothing.status_code == 400
    done = client.post(PROFILE, {"action": "delete", "names": ["custom:telnum"]})
    assert done.status_code == 302
    user = local_pool.idp.admin_get_user(UserPoolId=local_pool.pool_id, Username="uma")
    assert "custom:telnum" not in {a["Name"] for a in user["UserAttributes"]}


def test_an_authenticator_is_added_with_a_qr_code_then_asked_at_sign_in(
    signed_in: Client, cognito: CognitoFactory, user_pool: UserPool, settings: Any
) -> None:
    settings.ACCOUNTS = {**settings.ACCOUNTS, "REAUTH_MAX_AGE": 0}
    start = signed_in.get(TOTP)
    assert 'id="totp-start"' in start.content.decode()
    refused = signed_in.post(TOTP, {"action": "start"})
    assert refused.status_code == 403
    shown = signed_in.post(TOTP, {"action": "start", "current_password": DEFAULT_PASSWORD})
    assert shown.status_code == 200
    body = shown.content.decode()
    assert "<svg" in body and "<title>QR code for your authenticator app</title>" in body
    secret = body.split('<code id="totp-secret">', 1)[1].split("<", 1)[0]
    assert secret
    assert signed_in.get(TOTP).content.decode().count(secret) == 1  # the pending setup is shown again
    assert secret not in str(dict(signed_in.session))  # kept encrypted in the session
    good = totp_now(secret)
    wrong = signed_in.post(TOTP, {"action": "verify", "code": f"{(int(good) + 500000) % 1000000:06d}"})
    assert wrong.status_code == 400
    done = signed_in.post(TOTP, {"action": "verify", "code": totp_now(secret), "device_name": "phone"})
    assert done.status_code == 302 and done["Location"] == PROFILE
    assert "Authenticator app" in signed_in.get(PROFILE).content.decode()
    challenge = services.sign_in("alice", DEFAULT_PASSWORD)
    assert isinstance(challenge, services.Challenge) and challenge.name == "SOFTWARE_TOKEN_MFA"

    # The MFA preference: off again, with the current password.
    off = signed_in.post(PROFILE, {"action": "mfa", "preferred": "NONE", "current_password": DEFAULT_PASSWORD})
    assert off.status_code == 302
    assert isinstance(services.sign_in("alice", DEFAULT_PASSWORD), services.Tokens)


def test_the_mfa_preference_says_what_is_missing(signed_in: Client) -> None:
    response = signed_in.post(PROFILE, {"action": "mfa", "preferred": "SOFTWARE_TOKEN_MFA"})
    assert response.status_code == 400
    assert "Add an authenticator app first" in response.content.decode()
    sms = signed_in.post(PROFILE, {"action": "mfa", "preferred": "SMS_MFA"})
    assert "Verify a phone number first" in sms.content.decode()


@pytest.mark.cognito_local
def test_delete_account_needs_the_confirmation_then_deletes(
    client: Client, local_pool: LocalPool, django_user_model: Any
) -> None:
    # moto lacks DeleteUser; cognito-local has it.
    local_pool.create_user("vera")
    page_sign_in(client, "vera")
    page = client.get(DELETE).content.decode()
    assert 'type="checkbox"' in page and "cannot be undone" in page
    unconfirmed = client.post(DELETE, {})
    assert unconfirmed.status_code == 400
    assert "Tick the box" in unconfirmed.content.decode()
    assert local_pool.idp.admin_get_user(UserPoolId=local_pool.pool_id, Username="vera")
    done = client.post(DELETE, {"confirm": "on"})
    assert done.status_code == 302 and done["Location"] == "/"
    assert "Your account was deleted" in client.get("/").content.decode()
    assert "_auth_user_id" not in client.session
    with pytest.raises(local_pool.idp.exceptions.UserNotFoundException):
        local_pool.idp.admin_get_user(UserPoolId=local_pool.pool_id, Username="vera")
    assert not django_user_model.objects.get().is_active


def test_the_current_password_is_checked_on_the_sign_in_budget(signed_in: Client, settings: Any) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.ACCOUNTS = {
        **settings.ACCOUNTS,
        "REAUTH_MAX_AGE": 0,
        "THROTTLE_RATES": {"sign_in": "1000/min", "sign_in_username": "1/min"},
    }
    first = signed_in.post(PROFILE, {"action": "update", "email": "x@example.com", "current_password": "Nope-1234"})
    assert first.status_code == 403
    second = signed_in.post(PROFILE, {"action": "update", "email": "x@example.com", "current_password": "Nope-1234"})
    assert second.status_code == 429
    assert int(second["Retry-After"]) >= 1
    assert "Too many attempts" in second.content.decode()


def test_cognito_failing_during_a_change_is_a_page_saying_so(signed_in: Client, faults: Any) -> None:
    faults.inject("GetUser", "internal_error")
    response = signed_in.post(PROFILE, {"action": "update", "custom:telnum": "1"})
    assert response.status_code == 503
    assert "Try again shortly." in response.content.decode()
