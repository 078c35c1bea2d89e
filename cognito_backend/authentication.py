"""DRF authentication with Cognito bearer tokens, step for step like simplejwt's ``JWTAuthentication``.

``authenticate()`` = ``get_header()`` -> ``get_raw_token()`` -> ``get_validated_token()`` -> ``get_user()``, each
overridable and each the real step: ``get_validated_token`` verifies and checks revocation, ``get_user`` maps the
token to the local user, both through ``services.authenticator()`` (the Django backend's path too). It returns
``(user, VerifiedToken)``; ``request.auth`` is the verified token (claims, groups, scopes).
``authenticate_header()`` makes DRF answer 401 with ``WWW-Authenticate: Bearer`` instead of 403.

A refused token raises ``AuthenticationFailed`` carrying the ``TokenError``'s code; an unreachable key set or
Cognito (fail closed) is a 503; a missing group or scope demanded by settings is a 403. Views opt into the
online check with ``cognito_online_check = True`` (or off with False), and narrow accepted token kinds with
``cognito_token_use = ("access",)``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from . import services
from .exceptions import TokenError
from .services import TokenAuthenticator
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
    """``Authorization: Bearer <Cognito id or access token>``.

    DRF makes one instance per request, so the view's options and the revocation check's result ride on it
    from ``get_validated_token`` to ``get_user``.
    """

    www_authenticate_realm = "api"
    # True/False forces the online check for every view using this class; None leaves it to the view/settings.
    online_check: bool | None = None

    cognito_token_use: Collection[str] | None = None
    cognito_online: bool | None = None
    _validated: tuple[VerifiedToken, int] | None = None

    def authenticate(self, request: Request) -> tuple[Any, VerifiedToken] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        view = (getattr(request, "parser_context", None) or {}).get("view")
        self.cognito_token_use = getattr(view, "cognito_token_use", None)
        self.cognito_online = (
            self.online_check if self.online_check is not None else getattr(view, "cognito_online_check", None)
        )
        validated_token = self.get_validated_token(raw_token)
        return self.get_user(validated_token), validated_token

    def authenticate_header(self, request: Request) -> str:
        return f'{AUTH_HEADER_TYPES[0]} realm="{self.www_authenticate_realm}"'

    def get_authenticator(self) -> TokenAuthenticator:
        """The shared orchestration (verifier, revocation checker, user mapper from the settings)."""
        return services.authenticator()

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

    def get_validated_token(self, raw_token: str) -> VerifiedToken:
        """Verified and not revoked (and confirmed with Cognito when the online check applies)."""
        try:
            token, version = self.get_authenticator().validate(
                raw_token, token_use=self.cognito_token_use, online=self.cognito_online
            )
        except TokenError as exc:
            raise to_api_exception(exc) from None
        self._validated = (token, version)
        return token

    def get_user(self, validated_token: VerifiedToken) -> Any:
        """The local user of the token, as the user mapper makes it."""
        authenticator = self.get_authenticator()
        try:
            validated = self._validated
            if validated is not None and validated[0] is validated_token:
                version = validated[1]
            else:  # a token this instance did not validate: check its revocation first
                _, version = authenticator.validate(validated_token, online=self.cognito_online)
            return authenticator.get_user(validated_token, version=version)
        except TokenError as exc:
            raise to_api_exception(exc) from None


class CognitoOnlineAuthentication(CognitoAuthentication):
    """Always confirms access tokens with Cognito (GetUser), whatever ``ONLINE_CHECK`` says."""

    online_check = True


class CognitoSessionAuthentication(SessionAuthentication):
    """DRF's session authentication; ``request.auth`` is the session's token (``sessions.session_token``, set by
    ``middleware.SessionRevocationMiddleware``) when the session was opened with a Cognito token, so views
    written for bearer tokens (``sub``, groups) serve sessions too."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        return result[0], getattr(request._request, "cognito_session_token", None)

    def enforce_csrf(self, request: Request) -> None:
        """Django's CSRF check accepts every safe method (GET, HEAD, OPTIONS, TRACE) without looking; building it
        for them cost as much as the rest of a session request's authentication."""
        if request.method in SAFE_METHODS:
            return
        super().enforce_csrf(request)
