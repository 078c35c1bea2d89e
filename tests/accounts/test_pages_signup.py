"""Sign-up pages: sign up with the pool's custom attributes, confirm with the code, send a new code.

moto accepts any confirmation code, so the wrong-code and resend tests run against cognito-local, which checks
codes for real and writes the ones it "sends" to its log.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tests.accounts.conftest import LocalPool
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, UserPool

SIGN_UP = "/accounts/sign-up/"
CONFIRM = "/accounts/sign-up/confirm/"


def form(**extra: str) -> dict[str, str]:
    return {"username": "zoe", "email": "zoe@example.com", "password": DEFAULT_PASSWORD, **extra}


@pytest.mark.django_db
def test_the_sign_up_form_offers_the_pools_custom_attributes_and_its_password_policy(
    client: Client, user_pool: UserPool
) -> None:
    body = client.get(SIGN_UP).content.decode()
    assert 'name="custom:telnum"' in body
    assert 'id="password-policy"' in body
    assert 'autocomplete="new-password"' in body and 'autocomplete="email"' in body
    assert "csrfmiddlewaretoken" in body
    assert '<label for="id_username">' in body


@pytest.mark.django_db
def test_sign_up_then_confirm_then_sign_in(client: Client, cognito: CognitoFactory, user_pool: UserPool) -> None:
    # moto accepts any confirmation code.
    response = client.post(SIGN_UP, form(**{"custom:telnum": "42", "phone_number": "+1 202 555 0143"}))
    assert response.status_code == 302
    assert response["Location"] == CONFIRM + "?username=zoe"
    user = cognito.idp.admin_get_user(UserPoolId=user_pool.pool_id, Username="zoe")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["custom:telnum"] == "42"
    assert attributes["phone_number"] == "+12025550143"
    page = client.get(response["Location"]).content.decode()
    assert "We sent a confirmation code" in page and 'value="zoe"' in page
    confirmed = client.post(CONFIRM, {"username": "zoe", "code": "123456"})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/accounts/sign-in/"
    assert cognito.idp.admin_get_user(UserPoolId=user_pool.pool_id, Username="zoe")["UserStatus"] == "CONFIRMED"
    assert "Account confirmed" in client.get("/accounts/sign-in/").content.decode()


@pytest.mark.django_db
def test_a_refused_sign_up_keeps_what_was_typed_but_never_the_password(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    weak = client.post(SIGN_UP, form(password="weakpass1", **{"custom:telnum": "7"}))
    assert weak.status_code == 400
    body = weak.content.decode()
    assert "password policy" in body
    assert 'value="zoe"' in body and 'value="zoe@example.com"' in body and 'value="7"' in body
    assert "weakpass1" not in body
    cognito.create_user(user_pool, "zoe", sign_in=False)
    taken = client.post(SIGN_UP, form(email="zoe2@example.com"))
    assert taken.status_code == 409
    assert DEFAULT_PASSWORD not in taken.content.decode()
    bad_phone = client.post(SIGN_UP, form(username="zed", phone_number="12"))
    assert bad_phone.status_code == 400
    assert "international form" in bad_phone.content.decode()


@pytest.mark.django_db
def test_confirm_without_a_code_says_what_to_do(client: Client, user_pool: UserPool) -> None:
    response = client.post(CONFIRM, {"username": "zoe", "code": ""})
    assert response.status_code == 400
    assert "Enter the code we sent, or send a new one." in response.content.decode()
    assert 'value="zoe"' in response.content.decode()


@pytest.mark.django_db
def test_sign_up_spends_the_apis_per_email_budget(client: Client, user_pool: UserPool, settings: Any) -> None:
    cache.clear()
    settings.ACCOUNTS = {**getattr(settings, "ACCOUNTS", {}), "THROTTLE_RATES": {"sign_up_username": "1/min"}}
    assert client.post(SIGN_UP, form()).status_code == 302
    response = client.post(SIGN_UP, form(username="zoe-again"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many attempts" in response.content.decode()


@pytest.mark.django_db
def test_resend_says_the_same_whether_or_not_the_user_exists(client: Client, user_pool: UserPool, faults: Any) -> None:
    # Neither moto nor cognito-local implements ResendConfirmationCode: Cognito's answers are injected.
    from tests.accounts.conftest import aws_error

    delivery = {"Destination": "z***@e***.com", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    faults.answer("ResendConfirmationCode", {"CodeDeliveryDetails": delivery})
    known = client.post(CONFIRM, {"username": "zoe", "action": "resend"})
    assert known.status_code == 302 and known["Location"] == CONFIRM + "?username=zoe"
    known_page = client.get(known["Location"]).content.decode()
    assert "If the account exists" in known_page and "z***" not in known_page
    faults.inject("ResendConfirmationCode", lambda request: aws_error(400, "UserNotFoundException", "User not found"))
    unknown = client.post(CONFIRM, {"username": "nobody", "action": "resend"})
    assert unknown.status_code == 302
    assert "If the account exists" in client.get(unknown["Location"]).content.decode()


@pytest.mark.cognito_local
@pytest.mark.django_db
def test_confirm_refuses_a_wrong_code_then_the_sent_code_confirms(client: Client, local_pool: LocalPool) -> None:
    assert client.post(SIGN_UP, form()).status_code == 302
    sent = len(local_pool.local.codes_for("zoe"))
    wrong = client.post(CONFIRM, {"username": "zoe", "code": "000000"})
    assert wrong.status_code == 400
    assert "The code is not valid or has expired" in wrong.content.decode()
    assert 'value="zoe"' in wrong.content.decode()
    code = local_pool.local.code_for("zoe", after=sent - 1)
    done = client.post(CONFIRM, {"username": "zoe", "code": code})
    assert done.status_code == 302
    assert local_pool.idp.admin_get_user(UserPoolId=local_pool.pool_id, Username="zoe")["UserStatus"] == "CONFIRMED"
