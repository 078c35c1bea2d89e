"""Our rate limits cannot be sidestepped: not by a forged X-Forwarded-For, not by the session sign-in page, not by
a username added to a challenge answer, not by typing the email (or another case) instead of the username."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, UserPool

SIGN_IN = "/api/auth/sign-in/"
PAGE = "/accounts/sign-in/"
CHALLENGE = "/api/auth/sign-in/challenge/"
SCOPES = ("sign_in", "sign_up", "confirm", "forgot_password")


@pytest.fixture
def tight_limits(settings: Any, user_pool: UserPool) -> None:
    """2 requests a minute per client address, 3 per user."""
    rates = dict.fromkeys(SCOPES, "2/min")
    rates.update({f"{scope}_username": "3/min" for scope in SCOPES})
    settings.ACCOUNTS = {**settings.ACCOUNTS, "THROTTLE_RATES": rates}


@pytest.fixture
def loose_address_limit(settings: Any, user_pool: UserPool) -> None:
    """Only the per-user limits bite (3 a minute)."""
    rates = dict.fromkeys(SCOPES, "1000/min")
    rates.update({f"{scope}_username": "3/min" for scope in SCOPES})
    settings.ACCOUNTS = {**settings.ACCOUNTS, "THROTTLE_RATES": rates}


LIMITED = [
    ("/api/auth/sign-in/", lambda name: {"username": name, "password": "Wrong-Passw0rd"}),
    ("/api/auth/sign-up/", lambda name: {"username": name, "password": "weak", "email": "x@example.com"}),
    ("/api/auth/sign-up/confirm/", lambda name: {"username": name, "code": "000000"}),
    ("/api/auth/sign-up/resend/", lambda name: {"username": name}),
    ("/api/auth/password/forgot/", lambda name: {"username": name}),
    ("/api/auth/password/reset/", lambda name: {"username": name, "code": "0", "new_password": "weak"}),
]


# --- the client address -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "payload"), LIMITED, ids=[u for u, _ in LIMITED])
def test_a_fresh_forged_forwarded_for_per_request_does_not_escape_the_address_limit(
    api: APIClient, tight_limits: None, url: str, payload: Any
) -> None:
    answers = [
        api.post(
            url, payload(f"user{i}"), format="json", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"10.1.{i}.1"
        )
        for i in range(3)
    ]
    assert answers[2].status_code == 429
    assert answers[2].json()["code"] == "throttled"
    assert int(answers[2]["Retry-After"]) > 0


def test_behind_a_trusted_proxy_each_client_has_its_own_budget_whatever_it_forges(
    api: APIClient, tight_limits: None, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]

    def post(i: int, forwarded: str) -> int:
        body = {"username": f"user{i}"}
        response = api.post(
            "/api/auth/password/forgot/", body, format="json", REMOTE_ADDR="10.9.0.1", HTTP_X_FORWARDED_FOR=forwarded
        )
        return response.status_code

    # The proxy appends the address it saw; whatever the client wrote before it is ignored.
    assert post(0, "1.1.1.1, 203.0.113.5") == 202
    assert post(1, "2.2.2.2, 203.0.113.5") == 202
    assert post(2, "3.3.3.3, 203.0.113.5") == 429
    # Another client behind the same proxy is not held back by the first one.
    assert post(3, "203.0.113.5, 203.0.113.6") == 202


def test_forwarded_for_is_ignored_from_an_address_that_is_not_a_trusted_proxy(
    api: APIClient, tight_limits: None, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    codes = [
        api.post(
            "/api/auth/password/forgot/",
            {"username": f"user{i}"},
            format="json",
            REMOTE_ADDR="198.51.100.9",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        ).status_code
        for i in range(3)
    ]
    assert codes == [202, 202, 429]


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("198.51.100.1", "203.0.113.9", [], "198.51.100.1"),
        ("10.0.0.1", "203.0.113.9", [], "10.0.0.1"),
        ("10.0.0.1", "6.6.6.6, 203.0.113.9", ["10.0.0.0/8"], "203.0.113.9"),
        ("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", ["10.0.0.0/8"], "203.0.113.9"),
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", ["10.0.0.0/8"], "10.0.0.3"),
        ("10.0.0.1", "", ["10.0.0.0/8"], "10.0.0.1"),
        ("2001:db8::1", "6.6.6.6, 2001:db8:1::7", ["2001:db8::/64"], "2001:db8:1::7"),
        ("198.51.100.1", "203.0.113.9", ["10.0.0.0/8", "not-an-address"], "198.51.100.1"),
    ],
)
def test_the_client_address_is_the_right_most_address_not_a_trusted_proxy(
    settings: Any, remote: str, forwarded: str, proxies: list[str], expected: str
) -> None:
    from django.test import RequestFactory

    from accounts.throttles import client_ip

    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# --- the session sign-in page ---------------------------------------------------------------------------------------


def _page(client: Client, username: str, password: str, ip: str) -> Any:
    return client.post(PAGE, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_sign_in_page_answers_a_429_page_with_retry_after_and_the_right_password_waits_too(
    client: Client, cognito: CognitoFactory, tight_limits: None, user_pool: UserPool
) -> None:
    cognito.create_user(user_pool, "carol", sign_in=False)
    assert [_page(client, "carol", "Wrong-Passw0rd!", "198.51.100.20").status_code for _ in range(2)] == [401, 401]
    refused = _page(client, "carol", DEFAULT_PASSWORD, "198.51.100.20")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    body = refused.content.decode()
    assert "Too many sign-in attempts" in body
    assert DEFAULT_PASSWORD not in body
    assert "_auth_user_id" not in client.session


def test_wrong_passwords_on_the_page_spend_the_api_budget_of_that_user(
    client: Client, api: APIClient, cognito: CognitoFactory, loose_address_limit: None, user_pool: UserPool
) -> None:
    cognito.create_user(user_pool, "carol", sign_in=False)
    for i in range(3):
        assert _page(client, "carol", "Wrong-Passw0rd!", f"198.51.100.{30 + i}").status_code == 401
    response = api.post(SIGN_IN, {"username": "carol", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 429


def test_wrong_passwords_on_the_api_spend_the_page_budget_of_that_address(
    client: Client, api: APIClient, cognito: CognitoFactory, tight_limits: None, user_pool: UserPool
) -> None:
    cognito.create_user(user_pool, "carol", sign_in=False)
    for i in range(2):
        payload = {"username": f"nobody{i}", "password": "Wrong-Passw0rd!"}
        assert api.post(SIGN_IN, payload, format="json", REMOTE_ADDR="198.51.100.40").status_code == 401
    assert _page(client, "carol", DEFAULT_PASSWORD, "198.51.100.40").status_code == 429


# --- challenge answers --------------------------------------------------------------------------------------------


def test_a_username_added_to_a_challenge_answer_does_not_choose_the_budget(
    api: APIClient, cognito: Any, loose_address_limit: None
) -> None:
    from accounts.services import seal_session

    session = seal_session("SOFTWARE_TOKEN_MFA", "cognito-session", "alice")
    answers = [
        api.post(CHALLENGE, {"session": session, "code": "000000", "username": f"decoy{i}"}, format="json")
        for i in range(4)
    ]
    assert answers[3].status_code == 429


def test_challenge_answers_for_one_user_do_not_spend_the_budget_of_the_user_the_body_names(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool, loose_address_limit: None
) -> None:
    from accounts.services import seal_session

    cognito.create_user(user_pool, "alice", sign_in=False)
    session = seal_session("SOFTWARE_TOKEN_MFA", "cognito-session", "mallory")
    for _ in range(3):
        api.post(CHALLENGE, {"session": session, "code": "000000", "username": "alice"}, format="json")
    response = api.post(SIGN_IN, {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200


# --- one budget per pool user ---------------------------------------------------------------------------------------


def test_a_username_its_email_and_another_case_share_one_budget(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool, loose_address_limit: None
) -> None:
    cognito.create_user(user_pool, "alice", email="alice@example.com", sign_in=False)
    for name in ["alice", "alice@example.com", "ALICE"]:
        response = api.post(SIGN_IN, {"username": name, "password": "Wrong-Passw0rd!"}, format="json")
        assert response.status_code == 401
    response = api.post(SIGN_IN, {"username": "alice@example.com", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 429


def test_the_budget_of_a_signed_in_challenge_user_is_the_budget_of_their_sign_in(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool, loose_address_limit: None
) -> None:
    from accounts.services import seal_session

    cognito.create_user(user_pool, "alice", email="alice@example.com", sign_in=False)
    session = seal_session("SOFTWARE_TOKEN_MFA", "cognito-session", "alice")
    for _ in range(3):
        api.post(CHALLENGE, {"session": session, "code": "000000"}, format="json")
    response = api.post(SIGN_IN, {"username": "alice@example.com", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 429


def test_other_users_keep_their_own_budget(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool, loose_address_limit: None
) -> None:
    cognito.create_user(user_pool, "alice", sign_in=False)
    cognito.create_user(user_pool, "bob", sign_in=False)
    for _ in range(3):
        api.post(SIGN_IN, {"username": "alice", "password": "Wrong-Passw0rd!"}, format="json")
    response = api.post(SIGN_IN, {"username": "bob", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200


def test_a_name_looked_up_before_its_sign_up_joins_the_new_users_budget(
    api: APIClient, cognito: CognitoFactory, user_pool: UserPool, loose_address_limit: None
) -> None:
    body = {"username": "nora", "password": DEFAULT_PASSWORD, "email": "nora@example.com"}
    assert api.post("/api/auth/sign-up/", body, format="json").status_code == 201
    cognito.idp.admin_confirm_sign_up(UserPoolId=user_pool.pool_id, Username="nora")
    for name in ["nora", "NORA", "nora"]:
        response = api.post(SIGN_IN, {"username": name, "password": "Wrong-Passw0rd!"}, format="json")
        assert response.status_code == 401
    response = api.post(SIGN_IN, {"username": "nora", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 429


def test_sign_ups_are_counted_per_email_whatever_the_username(
    api: APIClient, user_pool: UserPool, loose_address_limit: None
) -> None:
    # Each sign-up would mail a code to the same inbox: new usernames must not buy more mail.
    codes = [
        api.post(
            "/api/auth/sign-up/",
            {"username": f"bomb{i}", "password": DEFAULT_PASSWORD, "email": "Victim@example.com"},
            format="json",
            REMOTE_ADDR=f"198.51.100.{60 + i}",
        ).status_code
        for i in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    other = {"username": "bomb9", "password": DEFAULT_PASSWORD, "email": "someone@example.com"}
    assert api.post("/api/auth/sign-up/", other, format="json").status_code == 201
