"""Cognito throttling and outages (faults injected at botocore's before-send hook, or a closed port), and our own
rate limits per IP and per username. Never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import Faults, bearer
from tests.conftest import DEFAULT_PASSWORD, CognitoUser, UserPool, free_port

URL_CHALLENGE = "/api/auth/sign-in/challenge/"
PUBLIC_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("InitiateAuth", "/api/auth/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}),
    ("SignUp", "/api/auth/sign-up/", {"username": "bob", "password": DEFAULT_PASSWORD, "email": "b@example.com"}),
    ("ConfirmSignUp", "/api/auth/sign-up/confirm/", {"username": "bob", "code": "123456"}),
    ("ForgotPassword", "/api/auth/password/forgot/", {"username": "alice"}),
    (
        "ConfirmForgotPassword",
        "/api/auth/password/reset/",
        {"username": "alice", "code": "1", "new_password": "N3w-Pass"},
    ),
    ("InitiateAuth", "/api/auth/token/refresh/", {"refresh_token": "r"}),
]
SIGNED_IN_CALLS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("GetUser", "get", "/api/auth/profile/", None),
    ("ChangePassword", "post", "/api/auth/password/change/", {"old_password": "x", "new_password": "N3w-Passw0rd"}),
    # Not sign-out/global/: its Cognito part is queued when Cognito fails (test_tasks_sign_out.py).
    ("AssociateSoftwareToken", "post", "/api/auth/mfa/totp/", None),
]
ids = [f"{op}:{url}" for op, url, _ in PUBLIC_CALLS]


@pytest.mark.parametrize(("operation", "url", "payload"), PUBLIC_CALLS, ids=ids)
def test_cognito_throttling_is_a_429_with_retry_after(
    api: APIClient, cognito_user: CognitoUser, faults: Faults, operation: str, url: str, payload: dict[str, Any]
) -> None:
    # Injected: Cognito's TooManyRequestsException (no stand-in throttles).
    faults.inject(operation, "throttled")
    response = api.post(url, payload, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("limit_exceeded", 429, "throttled"),
        ("internal_error", 503, "service_unavailable"),
        ("read_timeout", 504, "gateway_timeout"),
        ("connect_timeout", 503, "service_unavailable"),
        ("connection_refused", 503, "service_unavailable"),
    ],
)
@pytest.mark.parametrize(("operation", "url", "payload"), PUBLIC_CALLS[::2], ids=ids[::2])
def test_cognito_faults_on_public_endpoints_are_answered_without_a_500(
    api: APIClient,
    cognito_user: CognitoUser,
    faults: Faults,
    operation: str,
    url: str,
    payload: dict[str, Any],
    fault: str,
    status: int,
    code: str,
) -> None:
    # Injected at before-send: the fault named by ``fault`` (a Cognito error answer, or a botocore timeout or
    # connection error raised as if the network failed).
    faults.inject(operation, fault)
    response = api.post(url, payload, format="json")
    assert response.status_code == status
    assert response.json()["code"] == code


@pytest.mark.parametrize(("fault", "status"), [("throttled", 429), ("read_timeout", 504), ("connection_refused", 503)])
@pytest.mark.parametrize(
    ("operation", "method", "url", "payload"), SIGNED_IN_CALLS, ids=[c[2] for c in SIGNED_IN_CALLS]
)
def test_cognito_faults_on_signed_in_endpoints_are_answered_without_a_500(
    api: APIClient,
    cognito_user: CognitoUser,
    faults: Faults,
    operation: str,
    method: str,
    url: str,
    payload: dict[str, Any] | None,
    fault: str,
    status: int,
) -> None:
    faults.inject(operation, fault)
    response = getattr(bearer(api, cognito_user.tokens.access_token), method)(url, payload, format="json")
    assert response.status_code == status


def test_cognito_on_a_closed_port_is_a_503(api: APIClient, user_pool: UserPool, settings: Any) -> None:
    # Real fault: the Cognito endpoint points at a loopback port nothing listens on.
    settings.COGNITO_AWS = {**settings.COGNITO_AWS, "ENDPOINT_URLS": {"cognito-idp": f"http://127.0.0.1:{free_port()}"}}
    response = api.post("/api/auth/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 503
    assert response.json() == {
        "code": "service_unavailable",
        "detail": "The identity service is unavailable; try again shortly.",
    }


# --- our own rate limits ----------------------------------------------------------------------------------------


@pytest.fixture
def tight_limits(settings: Any, user_pool: UserPool) -> None:
    rates = dict.fromkeys(("sign_in", "sign_up", "confirm", "forgot_password"), "2/min")
    rates.update({f"{scope}_username": "3/min" for scope in ("sign_in", "sign_up", "confirm", "forgot_password")})
    settings.ACCOUNTS = {**settings.ACCOUNTS, "THROTTLE_RATES": rates}


LIMITED = [
    ("/api/auth/sign-in/", lambda name: {"username": name, "password": "Wrong-Passw0rd"}),
    ("/api/auth/sign-up/", lambda name: {"username": name, "password": "weak", "email": f"{name}@example.com"}),
    ("/api/auth/sign-up/confirm/", lambda name: {"username": name, "code": "000000"}),
    ("/api/auth/password/forgot/", lambda name: {"username": name}),
    ("/api/auth/password/reset/", lambda name: {"username": name, "code": "0", "new_password": "weak"}),
]


@pytest.mark.parametrize(("url", "payload"), LIMITED, ids=[u for u, _ in LIMITED])
def test_our_per_ip_limit_answers_429_with_retry_after(
    api: APIClient, tight_limits: None, url: str, payload: Any
) -> None:
    answers = [api.post(url, payload(f"user{i}"), format="json", REMOTE_ADDR="10.0.0.1") for i in range(3)]
    assert [a.status_code for a in answers[:2]] != [429, 429]
    assert answers[2].status_code == 429
    assert answers[2].json()["code"] == "throttled"
    assert int(answers[2]["Retry-After"]) > 0


@pytest.mark.parametrize(("url", "payload"), LIMITED, ids=[u for u, _ in LIMITED])
def test_our_per_username_limit_holds_across_ips(api: APIClient, tight_limits: None, url: str, payload: Any) -> None:
    answers = [api.post(url, payload("Alice"), format="json", REMOTE_ADDR=f"10.0.1.{i}") for i in range(4)]
    assert answers[3].status_code == 429
    other = api.post(url, payload("someone-else"), format="json", REMOTE_ADDR="10.0.2.1")
    assert other.status_code != 429


def test_the_username_limit_ignores_case(api: APIClient, tight_limits: None) -> None:
    for i, name in enumerate(["alice", "ALICE", "Alice"]):
        api.post("/api/auth/sign-in/", {"username": name, "password": "x"}, format="json", REMOTE_ADDR=f"10.0.3.{i}")
    response = api.post(
        "/api/auth/sign-in/", {"username": "aLiCe", "password": "x"}, format="json", REMOTE_ADDR="10.0.3.9"
    )
    assert response.status_code == 429


def test_challenge_answers_are_limited_per_user_across_ips(
    api: APIClient, cognito: Any, user_pool: UserPool, tight_limits: None
) -> None:
    from accounts.services import seal_session

    session = seal_session("SOFTWARE_TOKEN_MFA", "cognito-session", "alice")
    answers = [
        api.post(URL_CHALLENGE, {"session": session, "code": "000000"}, format="json", REMOTE_ADDR=f"10.0.4.{i}")
        for i in range(4)
    ]
    assert answers[3].status_code == 429
