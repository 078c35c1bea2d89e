"""DRF authentication with Cognito bearer tokens, step for step like simplejwt's ``JWTAuthentication``.

``authenticate()`` = ``get_header()`` -> ``get_raw_token()`` -> ``get_validated_token()`` -> ``get_user()``, each
overridable. It returns ``(user, VerifiedToken)``; ``request.auth`` is the verified token (claims, groups,
scopes). ``authenticate_header()`` makes DRF answer 401 with ``WWW-Authenticate: Bearer`` instead of 403.

A refused token raises ``AuthenticationFailed`` carrying the ``TokenError``'s code; an unreachable key set or
Cognito (fail closed) is a 503; a missing group or scope demanded by settings is a 403. Views opt into the
online check with ``cognito_online_check = True`` (or off with False), and narrow accepted token kinds with
``cognito_token_use = ("access",)``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from .backends import CognitoBackend
from .exceptions import TokenError
from .tokens import VerifiedToken

AUTH_HEADER_TYPES = ("Bearer",)


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "The identity service is unavailable; try again shortly."
    default_code = "service_unavailable"


def to_api_exception(error: TokenError) -> exceptions.APIException:
    """Map a ``TokenError`` to the DRF exception whose status fits: 401, 403 or 503."""
    if error.status_code == 503:
        return ServiceUnavailable(detail=error.detail, code=error.code)
    if error.status_code == 403:
        return exceptions.PermissionDenied(detail=error.detail, code=error.code)
    return exceptions.AuthenticationFailed(detail=error.detail, code=error.code)


class CognitoAuthentication(BaseAuthentication):
    """``Authorization: Bearer <Cognito id or access token>``."""

    www_authenticate_realm = "api"
    backend_class: type[CognitoBackend] = CognitoBackend

    def authenticate(self, request: Request) -> tuple[Any, VerifiedToken] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        view = (getattr(request, "parser_context", None) or {}).get("view")
        try:
            return self.get_validated_token_and_user(
                raw_token,
                token_use=getattr(view, "cognito_token_use", None),
                online=getattr(view, "cognito_online_check", None),
            )
        except TokenError as exc:
            raise to_api_exception(exc) from None

    def authenticate_header(self, request: Request) -> str:
        return f'{AUTH_HEADER_TYPES[0]} realm="{self.www_authenticate_realm}"'

    def get_header(self, request: Request) -> bytes | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        if isinstance(header, str):
            try:
                return header.encode("iso-8859-1")
            except UnicodeEncodeError:
                raise exceptions.AuthenticationFailed("Authorization header is not valid.", code="bad_header") from None
        return bytes(header)

    def get_raw_token(self, header: bytes) -> str | None:
        """The token of a ``Bearer`` header; None for other schemes (another authenticator may take them)."""
        parts = header.split()
        if not parts or parts[0].decode("latin-1").lower() not in {t.lower() for t in AUTH_HEADER_TYPES}:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <token>'.", code="bad_authorization_header"
            )
        try:
            return parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is malformed.", code="token_malformed") from None

    def get_validated_token_and_user(
        self, raw_token: str, *, token_use: Collection[str] | None = None, online: bool | None = None
    ) -> tuple[Any, VerifiedToken]:
        """Verification, revocation and the user in one step of the backend (so its hooks apply here too)."""
        user, token = self.backend_class().authenticate_token(raw_token, token_use=token_use, online=online)
        return user, token

    def get_validated_token(self, raw_token: str, *, token_use: Collection[str] | None = None) -> VerifiedToken:
        from .tokens import verify_token

        try:
            return verify_token(raw_token, token_use=token_use)
        except TokenError as exc:
            raise to_api_exception(exc) from None

    def get_user(self, validated_token: VerifiedToken) -> Any:
        try:
            user, _ = self.backend_class().authenticate_token(validated_token)
        except TokenError as exc:
            raise to_api_exception(exc) from None
        return user


class CognitoOnlineAuthentication(CognitoAuthentication):
    """Always confirms access tokens with Cognito (GetUser), whatever ``ONLINE_CHECK`` says."""

    def get_validated_token_and_user(
        self, raw_token: str, *, token_use: Collection[str] | None = None, online: bool | None = None
    ) -> tuple[Any, VerifiedToken]:
        return super().get_validated_token_and_user(raw_token, token_use=token_use, online=True)
