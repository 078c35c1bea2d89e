"""Sensitive changes need more than an access token: the current password, or a recent sign-in (``auth_time``).

moto checks the password of USER_PASSWORD_AUTH for real (the current-password check uses it) and stamps
``auth_time`` with the time of the sign-in; a stale sign-in is made by setting ``REAUTH_MAX_AGE`` to 0.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import bearer
from tests.conftest import DEFAULT_PASSWORD, CognitoUser

PROFILE = "/api/auth/profile/"
SENSITIVE: list[tuple[str, str, dict[str, Any]]] = [
    ("patch", PROFILE, {"attributes": {"email": "new-alice@example.com"}}),
    ("patch", PROFILE, {"attributes": {"phone_number": "+14155552671"}}),
    ("post", "/api/auth/mfa/totp/", {}),
    ("put", "/api/auth/mfa/preference/", {"totp": {"enabled": False}}),
    ("post", "/api/auth/mfa/totp/verify/", {"code": "123456"}),
]
ids = [f"{method}:{url}:{sorted(body)}" for method, url, body in SENSITIVE]


@pytest.fixture
def stale_sign_in(settings: Any) -> None:
    """Every sign-in counts as too old: only the current password will do."""
    settings.ACCOUNTS = {**settings.ACCOUNTS, "REAUTH_MAX_AGE": 0}


def _send(api: APIClient, method: str, url: str, body: dict[str, Any]) -> Any:
    return getattr(api, method)(url, body, format="json")


@pytest.mark.parametrize(("method", "url", "body"), SENSITIVE, ids=ids)
def test_an_access_token_alone_is_not_enough_after_the_sign_in_grew_old(
    api: APIClient, cognito_user: CognitoUser, stale_sign_in: None, method: str, url: str, body: dict[str, Any]
) -> None:
    response = _send(bearer(api, cognito_user.tokens.access_token), method, url, body)
    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"


@pytest.mark.parametrize(("method", "url", "body"), SENSITIVE[:4], ids=ids[:4])
def test_the_current_password_allows_the_change(
    api: APIClient, cognito_user: CognitoUser, stale_sign_in: None, method: str, url: str, body: dict[str, Any]
) -> None:
    response = _send(
        bearer(api, cognito_user.tokens.access_token), method, url, {**body, "current_password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(("method", "url", "body"), SENSITIVE[:4], ids=ids[:4])
def test_a_recent_sign_in_allows_the_change_without_the_password(
    api: APIClient, cognito_user: CognitoUser, method: str, url: str, body: dict[str, Any]
) -> None:
    response = _send(bearer(api, cognito_user.tokens.access_token), method, url, body)
    assert response.status_code == 200, response.content


def test_a_wrong_current_password_is_a_403_naming_the_field_and_changes_nothing(
    api: APIClient, cognito_user: CognitoUser, stale_sign_in: None
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    body = {"attributes": {"email": "mallory@example.com"}, "current_password": "Wrong-Passw0rd!"}
    response = api.patch(PROFILE, body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"
    assert "current_password" in response.json()["fields"]
    assert "Wrong-Passw0rd!" not in response.content.decode()
    assert api.get(PROFILE).json()["attributes"]["email"] == "alice@example.com"


def test_guessing_the_current_password_spends_the_sign_in_budget_of_the_user(
    api: APIClient, cognito_user: CognitoUser, stale_sign_in: None, settings: Any
) -> None:
    settings.ACCOUNTS = {**settings.ACCOUNTS, "THROTTLE_RATES": {"sign_in": "1000/min", "sign_in_username": "3/min"}}
    bearer(api, cognito_user.tokens.access_token)
    for _ in range(3):
        body = {"attributes": {"email": "mallory@example.com"}, "current_password": "Wrong-Passw0rd!"}
        assert api.patch(PROFILE, body, format="json").status_code == 403
    right = {"attributes": {"email": "mallory@example.com"}, "current_password": DEFAULT_PASSWORD}
    assert api.patch(PROFILE, right, format="json").status_code == 429
    api.credentials()
    signed_in = api.post("/api/auth/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}, format="json")
    assert signed_in.status_code == 429


def test_other_profile_changes_need_no_reauthentication(
    api: APIClient, cognito_user: CognitoUser, stale_sign_in: None
) -> None:
    response = bearer(api, cognito_user.tokens.access_token).patch(
        PROFILE, {"attributes": {"name": "Alice A."}}, format="json"
    )
    assert response.status_code == 200


def test_the_openapi_document_names_the_reauthentication(settings: Any) -> None:
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    for path, method in [
        ("/api/auth/profile/", "patch"),
        ("/api/auth/mfa/totp/", "post"),
        ("/api/auth/mfa/preference/", "put"),
    ]:
        operation = document["paths"][path][method]
        assert "reauthentication_required" in operation["responses"]["403"]["description"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert "current_password" in document["components"]["schemas"][body]["properties"]
