"""How the signed-in endpoints find the caller and the raw access token Cognito's user APIs need.

Authentication itself is ``cognito_backend``'s (``CognitoAuthentication``: verified access token, revocation
checked, local user). Until that class is importable, a minimal stand-in verifies the access token with
``cognito_backend.tokens`` so the endpoints stay protected either way.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from cognito_backend.exceptions import TokenError
from cognito_backend.tokens import VerifiedToken, verify_token


def access_token_of(request: Request) -> str:
    """The raw bearer token of an authenticated request (the authentication class already checked it)."""
    raw = getattr(request.auth, "raw_token", None) or getattr(request, "_cognito_raw_token", None)
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if isinstance(raw, str) and raw:
        return raw
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("An access token is required.", code="not_authenticated")
    return str(token.strip())


def claims_of(request: Request) -> Mapping[str, Any]:
    auth = request.auth
    if isinstance(auth, VerifiedToken):
        return auth.claims
    claims = getattr(auth, "claims", None)
    return claims if isinstance(claims, Mapping) else {}


class _SignedInUser:
    """A request user known only by its verified token (no local row)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, token: VerifiedToken) -> None:
        self.token = token
        self.username = token.username or token.sub
        self.pk = None


class BearerAccessToken(BaseAuthentication):
    """Fallback: a verified Cognito access token in ``Authorization: Bearer``."""

    def authenticate(self, request: Request) -> tuple[Any, VerifiedToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            verified = verify_token(token.strip(), token_use=["access"])
        except TokenError as error:
            raise AuthenticationFailed(error.detail, code=error.code) from error
        return _SignedInUser(verified), verified

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def authenticators() -> list[BaseAuthentication]:
    try:
        module = importlib.import_module("cognito_backend.authentication")
    except ImportError:
        return [BearerAccessToken()]
    cls = getattr(module, "CognitoAuthentication", None)
    return [cls()] if cls is not None else [BearerAccessToken()]
