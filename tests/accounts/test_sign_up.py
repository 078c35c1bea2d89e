"""Sign-up (moto), confirmation with real codes (cognito-local), resend (injected: no stand-in implements it)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import Faults, LocalPool
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool

URL = "/api/auth/sign-up/"
CONFIRM = "/api/auth/sign-up/confirm/"
RESEND = "/api/auth/sign-up/resend/"


def sign_up(api: APIClient, username: str = "bob", **extra: Any) -> Any:
    payload = {"username": username, "password": DEFAULT_PASSWORD, "email": f"{username}@example.com", **extra}
    return api.post(URL, payload, format="json")


def test_sign_up_creates_an_unconfirmed_user_and_says_where_the_code_went(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    response = sign_up(api)
    assert response.status_code == 201
    body = response.json()
    assert body["confirmed"] is False
    assert body["user_sub"]
    user = cognito.idp.admin_get_user(UserPoolId=user_pool.pool_id, Username="bob")
    assert user["UserStatus"] == "UNCONFIRMED"


def test_sign_up_stores_phone_and_custom_attributes(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    response = sign_up(api, phone_number="+1 (202) 555-0143", attributes={"custom:telnum": "42"})
    assert response.status_code == 201
    user = cognito.idp.admin_get_user(UserPoolId=user_pool.pool_id, Username="bob")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["phone_number"] == "+12025550143"
    assert attributes["custom:telnum"] == "42"


def test_a_taken_username_is_a_409(api: APIClient, cognito_user: CognitoUser) -> None:
    response = sign_up(api, "alice")
    assert response.status_code == 409
    assert response.json()["code"] == "username_exists"


@pytest.mark.parametrize(
    ("password", "reasons"),
    [
        ("short1A", ["at least 8 characters"]),
        ("alllowercase1", ["an uppercase letter"]),
        ("ALLUPPERCASE1", ["a lowercase letter"]),
        ("NoDigitsHere", ["a number"]),
        ("weak", ["at least 8 characters", "an uppercase letter", "a number"]),
    ],
)
def test_a_weak_password_is_a_400_on_password_with_the_policys_reasons(
    api: APIClient, user_pool: UserPool, password: str, reasons: list[str]
) -> None:
    response = sign_up(api, password=password)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_password"
    message = body["fields"]["password"][0]
    for reason in reasons:
        assert reason in message


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
        ({"phone_number": "12345"}, "phone_number"),
        ({"phone_number": "+1 555 0100 999 999 999"}, "phone_number"),
        ({"phone_number": "call me"}, "phone_number"),
        ({"attributes": {"is_admin": "true"}}, "attributes"),
        ({"attributes": {"custom:" + "x" * 30: "1"}}, "attributes"),
        ({"attributes": {"email_verified": "true"}}, "attributes"),
        ({"attributes": "custom:telnum=1"}, "attributes"),
        ({"username": "white space"}, "username"),
        ({"username": "\u0000"}, "username"),
        ({"username": "a" * 200}, "username"),
    ],
)
def test_invalid_sign_up_input_is_a_400_naming_the_field(
    api: APIClient, user_pool: UserPool, extra: dict[str, Any], field: str
) -> None:
    response = sign_up(api, **extra)
    assert response.status_code == 400
    assert field in response.json()["fields"]


# --- confirmation codes checked for real: cognito-local ---------------------------------------------------------


@pytest.mark.cognito_local
def test_the_emailed_code_confirms_the_account_and_sign_in_then_works(api: APIClient, local_pool: LocalPool) -> None:
    assert sign_up(api, "erin").status_code == 201
    code = local_pool.local.code_for("erin")
    response = api.post(CONFIRM, {"username": "erin", "code": code}, format="json")
    assert response.status_code == 200
    signed_in = api.post("/api/auth/sign-in/", {"username": "erin", "password": DEFAULT_PASSWORD}, format="json")
    assert signed_in.status_code == 200


@pytest.mark.cognito_local
def test_a_wrong_code_is_a_400_code_mismatch(api: APIClient, local_pool: LocalPool) -> None:
    sign_up(api, "frank")
    real = local_pool.local.code_for("frank")
    wrong = "000000" if real != "000000" else "111111"
    response = api.post(CONFIRM, {"username": "frank", "code": wrong}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_mismatch"
    assert "code" in response.json()["fields"]


@pytest.mark.cognito_local
def test_a_reused_code_is_refused_like_a_wrong_one(api: APIClient, local_pool: LocalPool) -> None:
    sign_up(api, "gina")
    code = local_pool.local.code_for("gina")
    assert api.post(CONFIRM, {"username": "gina", "code": code}, format="json").status_code == 200
    again = api.post(CONFIRM, {"username": "gina", "code": code}, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "code_mismatch"


def test_an_expired_code_is_refused_like_a_wrong_one(api: APIClient, user_pool: UserPool, faults: Faults) -> None:
    # No stand-in lets a code age: Cognito's ExpiredCodeException is injected at botocore's before-send hook.
    # Cognito also answers it for a user with no code outstanding, so it must not differ from a wrong code.
    sign_up(api, "hank")
    faults.inject("ConfirmSignUp", lambda request: _expired())
    response = api.post(CONFIRM, {"username": "hank", "code": "123456"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_mismatch"
    assert "code" in response.json()["fields"]


def _expired() -> Any:
    from tests.accounts.conftest import aws_error

    return aws_error(400, "ExpiredCodeException", "Invalid code provided, please request a code again.")


def test_resend_sends_the_code_without_saying_where_it_went(
    api: APIClient, user_pool: UserPool, faults: Faults
) -> None:
    # Neither moto nor cognito-local implements ResendConfirmationCode: Cognito's answer is injected at the
    # before-send hook. The masked destination exists only for a real user, so it is never rendered.
    sign_up(api, "ivan")
    delivery = {"Destination": "i***@e***.com", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    faults.answer("ResendConfirmationCode", {"CodeDeliveryDetails": delivery})
    response = api.post(RESEND, {"username": "ivan"}, format="json")
    assert response.status_code == 200
    assert response.json()["delivery"] is None
    assert "i***" not in response.content.decode()
    assert faults.calls == ["ResendConfirmationCode"]


@pytest.mark.cognito_local
def test_resend_where_cognito_local_lacks_it_is_a_502_not_supported(api: APIClient, local_pool: LocalPool) -> None:
    # cognito-local answers ResendConfirmationCode with its "Unsupported" error.
    sign_up(api, "judy")
    response = api.post(RESEND, {"username": "judy"}, format="json")
    assert response.status_code == 502
    assert response.json()["code"] == "not_supported"


def test_resend_where_moto_fails_with_a_server_error_is_a_503(api: APIClient, user_pool: UserPool) -> None:
    # moto answers ResendConfirmationCode with a bare HTTP 500: a failing identity service, not our error.
    sign_up(api, "kate")
    response = api.post(RESEND, {"username": "kate"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
