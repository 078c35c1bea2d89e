"""How the signed-in endpoints find the caller and the raw access token Cognito's user APIs need.

Authentication is ``cognito_backend``'s ``CognitoAuthentication`` (verified token, revocation checked, local
user); these views accept access tokens only, because GetUser, ChangePassword, GlobalSignOut ... take one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from cognito_backend.authentication import CognitoAuthentication
from cognito_backend.tokens import VerifiedToken

ACCESS_ONLY = ("access",)


def access_token_of(request: Request) -> str:
    """The raw bearer token of an authenticated request (``CognitoAuthentication`` already verified it)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = str(header).partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("An access token is required.", code="not_authenticated")
    return token.strip()


def claims_of(request: Request) -> Mapping[str, Any]:
    """The verified token's claims, or nothing for an anonymous request."""
    auth = request.auth
    return auth.claims if isinstance(auth, VerifiedToken) else {}


def authenticators() -> list[CognitoAuthentication]:
    return [CognitoAuthentication()]
