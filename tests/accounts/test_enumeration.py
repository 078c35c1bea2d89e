"""One answer per flow, whatever the user's existence or state (unknown, unconfirmed, confirmed, disabled), except
where the user proved the password. Real codes come from cognito-local; what no stand-in answers (Cognito's
refusals of ResendConfirmationCode and ForgotPassword for a confirmed, disabled or unknown user) is injected at
botocore's before-send hook."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import Faults, LocalPool, aws_error, bearer
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, UserPool

FORGOT = "/api/auth/password/forgot/"
RESET = "/api/auth/password/reset/"
CONFIRM = "/api/auth/sign-up/confirm/"
RESEND = "/api/auth/sign-up/resend/"
SIGN_IN = "/api/auth/sign-in/"
NEW = "N3w-Passw0rd!"


def _same(*responses: Any) -> None:
    first = responses[0]
    for other in responses[1:]:
        assert (other.status_code, other.json()) == (first.status_code, first.json())


@pytest.mark.cognito_local
def test_a_wrong_reset_code_reads_the_same_for_a_real_user_and_an_unknown_one(
    api: APIClient, local_pool: LocalPool
) -> None:
    local_pool.create_user("ursula")
    api.post(FORGOT, {"username": "ursula"}, format="json")
    real = local_pool.local.code_for("ursula")
    wrong = "000000" if real != "000000" else "111111"
    existing = api.post(RESET, {"username": "ursula", "code": wrong, "new_password": NEW}, format="json")
    no_code_asked = api.post(RESET, {"username": "victor", "code": wrong, "new_password": NEW}, format="json")
    unknown = api.post(RESET, {"username": "nobody", "code": wrong, "new_password": NEW}, format="json")
    local_pool.create_user("victor")
    never_sent = api.post(RESET, {"username": "victor", "code": wrong, "new_password": NEW}, format="json")
    _same(existing, unknown, no_code_asked, never_sent)
    assert existing.status_code == 400
    assert existing.json()["code"] == "code_mismatch"


@pytest.mark.cognito_local
def test_confirm_sign_up_reads_the_same_for_confirmed_unconfirmed_and_unknown_users(
    api: APIClient, local_pool: LocalPool
) -> None:
    local_pool.create_user("walter")  # confirmed
    api.post(
        "/api/auth/sign-up/",
        {"username": "xena", "password": DEFAULT_PASSWORD, "email": "xena@example.com"},
        format="json",
    )
    real = local_pool.local.code_for("xena")
    wrong = "000000" if real != "000000" else "111111"
    confirmed = api.post(CONFIRM, {"username": "walter", "code": wrong}, format="json")
    unconfirmed = api.post(CONFIRM, {"username": "xena", "code": wrong}, format="json")
    unknown = api.post(CONFIRM, {"username": "nobody", "code": wrong}, format="json")
    _same(confirmed, unconfirmed, unknown)
    assert unknown.status_code == 400


@pytest.mark.parametrize(
    ("cognito_says", "message"),
    [
        ("UserNotFoundException", "Username/client id combination not found."),
        ("InvalidParameterException", "User is already confirmed."),
        ("NotAuthorizedException", "User is disabled."),
    ],
)
def test_resend_reads_the_same_whatever_cognito_knows_of_the_user(
    api: APIClient, user_pool: UserPool, faults: Faults, cognito_says: str, message: str
) -> None:
    # ResendConfirmationCode is missing from both stand-ins: Cognito's answers are injected.
    delivery = {"Destination": "y***@e***.com", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    faults.answer("ResendConfirmationCode", {"CodeDeliveryDetails": delivery})
    pending = api.post(RESEND, {"username": "yuri"}, format="json")
    faults.inject("ResendConfirmationCode", lambda request: aws_error(400, cognito_says, message))
    refused = api.post(RESEND, {"username": "zoe"}, format="json")
    _same(pending, refused)
    assert pending.status_code == 200
    assert pending.json()["delivery"] is None


@pytest.mark.parametrize(
    ("cognito_says", "message"),
    [
        ("InvalidParameterException", "Cannot reset password for the user as there is no registered/verified email"),
        ("NotAuthorizedException", "User is disabled."),
        ("UserNotConfirmedException", "User is not confirmed."),
    ],
)
def test_forgot_password_reads_the_same_for_users_that_cannot_reset(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool, faults: Faults, cognito_says: str, message: str
) -> None:
    cognito.create_user(user_pool, "alice", sign_in=False)
    able = api.post(FORGOT, {"username": "alice"}, format="json")
    faults.inject("ForgotPassword", lambda request: aws_error(400, cognito_says, message))
    unable = api.post(FORGOT, {"username": "alice"}, format="json")
    _same(able, unable)
    assert able.status_code == 202


# --- issue 10: a reset revokes the user's tokens, whatever name was typed -------------------------------------------


def test_a_reset_by_email_revokes_the_tokens_of_the_pool_user(
    api: APIClient, cognito: CognitoFactory, settings: Any
) -> None:
    # A pool that signs in by email: the Cognito username is not what the user types.
    pool = cognito.create_pool_with_client(UsernameAttributes=["email"], AliasAttributes=[])
    settings.COGNITO = pool.settings()
    user = cognito.create_user(pool, "carol@example.com", email="carol@example.com")
    bearer(api, user.tokens.access_token)
    assert api.get("/api/auth/me/").status_code == 200
    api.credentials()
    # moto accepts any reset code.
    reset = api.post(RESET, {"username": "carol@example.com", "code": "1", "new_password": NEW}, format="json")
    assert reset.status_code == 200
    bearer(api, user.tokens.access_token)
    assert api.get("/api/auth/me/").status_code == 401


def test_a_reset_revokes_by_sub_even_before_the_user_was_ever_seen_here(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    user = cognito.create_user(user_pool, "alice")
    reset = api.post(RESET, {"username": "alice", "code": "1", "new_password": NEW}, format="json")
    assert reset.status_code == 200
    bearer(api, user.tokens.access_token)
    assert api.get("/api/auth/me/").status_code == 401


@pytest.mark.parametrize(
    ("cognito_says", "message"),
    [
        ("CodeMismatchException", "Invalid code provided, please try again (as Cognito words it)."),
        ("ExpiredCodeException", "Invalid code provided, please request a code again."),
        ("NotAuthorizedException", "User is disabled."),
    ],
)
def test_a_refused_reset_code_is_worded_by_us_not_by_cognito(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool, faults: Faults, cognito_says: str, message: str
) -> None:
    # Cognito's own wording differs from ours; Cognito's answers are injected (cognito-local's wording happens to
    # equal ours, and moto answers an unknown user with ResourceNotFoundException where Cognito says
    # UserNotFoundException).
    cognito.create_user(user_pool, "alice", sign_in=False)
    answers = iter([("UserNotFoundException", "User does not exist."), (cognito_says, message)])
    faults.inject("ConfirmForgotPassword", lambda request: aws_error(400, *next(answers)))
    unknown = api.post(RESET, {"username": "nobody", "code": "123456", "new_password": NEW}, format="json")
    existing = api.post(RESET, {"username": "alice", "code": "123456", "new_password": NEW}, format="json")
    _same(existing, unknown)
    assert message not in existing.content.decode()
