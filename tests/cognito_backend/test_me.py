"""``GET /api/auth/me/``: the contract every REST client relies on."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db(transaction=True)

ME = "/api/auth/me/"


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.parametrize("kind", ["access_token", "id_token"])
def test_me_returns_the_user_of_a_valid_token(cognito_user: Any, kind: str) -> None:
    response = APIClient().get(ME, **bearer(getattr(cognito_user.tokens, kind)))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == "alice"
    assert body["sub"] == cognito_user.sub
    assert body["groups"] == ["users"]
    assert body["email"] == "alice@example.com"


def test_me_without_a_token_is_401_with_bearer_challenge(cognito_user: Any) -> None:
    response = APIClient().get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"
