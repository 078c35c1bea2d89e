"""The sign-in page carries every sign-in challenge as a step-by-step form (moto stands in for Cognito).

moto accepts any SMS code; the TOTP codes here are real (moto checks them against the secret).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.accounts.conftest import totp_now
from tests.accounts.test_challenges import NEW_PASSWORD, admin_created, enable_totp
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool

SIGN_IN = "/accounts/sign-in/"


def step_of(response: Any) -> str:
    body: str = response.content.decode()
    marker = 'data-step="'
    assert marker in body, body
    return body.split(marker, 1)[1].split('"', 1)[0]


@pytest.mark.django_db
def test_new_password_required_is_a_form_showing_the_policy_then_signs_in(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    admin_created(cognito, user_pool)
    first = client.post(SIGN_IN, {"username": "newbie", "password": "Temp-Passw0rd1", "next": "/dashboard/?x=1"})
    assert first.status_code == 200
    assert step_of(first) == "NEW_PASSWORD_REQUIRED"
    body = first.content.decode()
    assert 'id="password-policy"' in body and "at least" in body
    assert 'autocomplete="new-password"' in body
    assert "Temp-Passw0rd1" not in body
    assert "csrfmiddlewaretoken" in body
    before = client.session.session_key

    weak = client.post(SIGN_IN, {"step": "NEW_PASSWORD_REQUIRED", "new_password": "weak"})
    assert weak.status_code == 400
    assert "password policy" in weak.content.decode()
    assert 'value="weak"' not in weak.content.decode()

    done = client.post(SIGN_IN, {"step": "NEW_PASSWORD_REQUIRED", "new_password": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/dashboard/?x=1"
    assert client.session["_auth_user_id"]
    assert client.session.session_key != before  # the session key rotates at sign-in
    assert "accounts.sign_in_challenge" not in client.session


@pytest.mark.django_db
def test_software_token_mfa_asks_for_the_code_and_a_wrong_one_keeps_the_step(
    client: Client, cognito: CognitoFactory, cognito_user: CognitoUser
) -> None:
    secret = enable_totp(cognito, cognito_user)
    first = client.post(SIGN_IN, {"username": "alice", "password": DEFAULT_PASSWORD})
    assert step_of(first) == "SOFTWARE_TOKEN_MFA"
    assert 'autocomplete="one-time-code"' in first.content.decode()
    good = totp_now(secret)
    wrong = f"{(int(good) + 500000) % 1000000:06d}"
    refused = client.post(SIGN_IN, {"step": "SOFTWARE_TOKEN_MFA", "code": wrong})
    assert refused.status_code == 400
    assert step_of(refused) == "SOFTWARE_TOKEN_MFA"
    assert "_auth_user_id" not in client.session
    done = client.post(SIGN_IN, {"step": "SOFTWARE_TOKEN_MFA", "code": totp_now(secret)})
    assert done.status_code == 302
    assert client.session["_auth_user_id"]


@pytest.mark.django_db
def test_sms_mfa_names_where_the_code_went(client: Client, cognito: CognitoFactory, user_pool: UserPool) -> None:
    # moto sends no SMS and accepts any code: this shows the page's round trip with the code field.
    cognito.create_user(user_pool, "sam", attributes={"phone_number": "+12025550143"}, sign_in=False)
    cognito.idp.admin_set_user_mfa_preference(
        UserPoolId=user_pool.pool_id, Username="sam", SMSMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    first = client.post(SIGN_IN, {"username": "sam", "password": DEFAULT_PASSWORD})
    assert step_of(first) == "SMS_MFA"
    assert "text message" in first.content.decode()
    done = client.post(SIGN_IN, {"step": "SMS_MFA", "code": "123456"})
    assert done.status_code == 302
    assert client.session["_auth_user_id"]


@pytest.mark.django_db
def test_select_mfa_type_offers_the_choices_then_asks_for_that_code(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, faults: Any
) -> None:
    # moto never offers SELECT_MFA_TYPE: Cognito's answers are injected (botocore hook); cognito-local's real
    # SELECT_MFA_TYPE is covered by the REST tests in test_cognito_local_sign_in.py.
    faults.answer(
        "InitiateAuth",
        {
            "ChallengeName": "SELECT_MFA_TYPE",
            "Session": "cognito-session-" + "x" * 20,
            "ChallengeParameters": {"USER_ID_FOR_SRP": "alice", "MFAS_CAN_CHOOSE": '["SMS_MFA","SOFTWARE_TOKEN_MFA"]'},
        },
    )
    faults.answer(
        "RespondToAuthChallenge",
        {
            "ChallengeName": "SOFTWARE_TOKEN_MFA",
            "Session": "next-session-" + "x" * 20,
            "ChallengeParameters": {"USER_ID_FOR_SRP": "alice"},
        },
    )
    first = client.post(SIGN_IN, {"username": "alice", "password": DEFAULT_PASSWORD})
    assert step_of(first) == "SELECT_MFA_TYPE"
    body = first.content.decode()
    assert 'type="radio"' in body and "Authenticator app" in body and "Text message (SMS)" in body
    assert "<fieldset>" in body  # the radio group has a legend
    nothing = client.post(SIGN_IN, {"step": "SELECT_MFA_TYPE"})
    assert nothing.status_code == 400
    assert step_of(nothing) == "SELECT_MFA_TYPE"
    chosen = client.post(SIGN_IN, {"step": "SELECT_MFA_TYPE", "mfa_type": "SOFTWARE_TOKEN_MFA"})
    assert chosen.status_code == 200, chosen.content.decode()
    assert step_of(chosen) == "SOFTWARE_TOKEN_MFA"


@pytest.mark.django_db
def test_mfa_setup_shows_a_qr_code_and_the_secret_then_signs_in(
    client: Client, cognito: CognitoFactory, settings: Any
) -> None:
    pool = cognito.create_pool_with_client(MfaConfiguration="ON")
    cognito.idp.set_user_pool_mfa_config(
        UserPoolId=pool.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    settings.COGNITO = pool.settings()
    admin_created(cognito, pool)
    client.post(SIGN_IN, {"username": "newbie", "password": "Temp-Passw0rd1"})
    setup = client.post(SIGN_IN, {"step": "NEW_PASSWORD_REQUIRED", "new_password": NEW_PASSWORD})
    assert setup.status_code == 200
    assert step_of(setup) == "MFA_SETUP"
    body = setup.content.decode()
    assert "<svg" in body and "<title>QR code for your authenticator app</title>" in body
    secret = body.split('<code id="totp-secret">', 1)[1].split("<", 1)[0]
    assert secret  # moto hands out a fixed secret
    assert secret not in str(dict(client.session))  # kept encrypted in the session
    done = client.post(SIGN_IN, {"step": "MFA_SETUP", "code": totp_now(secret), "device_name": "phone"})
    assert done.status_code == 302
    assert client.session["_auth_user_id"]


@pytest.mark.django_db
def test_a_step_without_a_pending_challenge_starts_over(client: Client, user_pool: UserPool) -> None:
    response = client.post(SIGN_IN, {"step": "SMS_MFA", "code": "123456"})
    assert response.status_code == 302
    assert response["Location"] == SIGN_IN
    assert "no longer open" in client.get(SIGN_IN).content.decode()


@pytest.mark.django_db
def test_a_fresh_sign_in_form_forgets_the_pending_step(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    admin_created(cognito, user_pool)
    client.post(SIGN_IN, {"username": "newbie", "password": "Temp-Passw0rd1"})
    client.get(SIGN_IN)
    response = client.post(SIGN_IN, {"step": "NEW_PASSWORD_REQUIRED", "new_password": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == SIGN_IN
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_an_account_refused_here_gets_a_403_saying_so(
    client: Client, cognito: CognitoFactory, cognito_user: CognitoUser, django_user_model: Any
) -> None:
    assert client.post(SIGN_IN, {"username": "alice", "password": DEFAULT_PASSWORD}).status_code == 302
    django_user_model.objects.update(is_active=False)
    other = Client()
    response = other.post(SIGN_IN, {"username": "alice", "password": DEFAULT_PASSWORD})
    assert response.status_code == 403
    body = response.content.decode()
    assert "This account cannot sign in here." in body and 'value="alice"' in body
    assert DEFAULT_PASSWORD not in body


@pytest.mark.django_db
def test_a_stale_challenge_starts_over_with_a_message(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, settings: Any
) -> None:
    admin_created(cognito, user_pool)
    client.post(SIGN_IN, {"username": "newbie", "password": "Temp-Passw0rd1"})
    settings.ACCOUNTS = {**settings.ACCOUNTS, "CHALLENGE_MAX_AGE": -1}  # every sealed session is now too old
    response = client.post(SIGN_IN, {"step": "NEW_PASSWORD_REQUIRED", "new_password": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == SIGN_IN
    assert "The sign-in took too long" in client.get(SIGN_IN).content.decode()
    assert "_auth_user_id" not in client.session
