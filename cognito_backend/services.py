"""One orchestration path for both doors: a raw token becomes (verified token, local user).

The Django backend (``backends.CognitoBackend``) and the DRF class (``authentication.CognitoAuthentication``)
both go through ``TokenAuthenticator``, in two steps a caller may take separately:

1. ``validate(raw_token)``: the token verifier, then the revocation checker (and Cognito's GetUser when the
   online check is on). Gives the verified token and the shared user version the check read.
2. ``get_user(token, version=...)``: the user mapper turns the verified token into the local user.

Each part is swapped by an import-string setting, as DRF and simplejwt do it:

- ``COGNITO["TOKEN_VERIFIER"]``: ``f(raw_token, *, token_use=None) -> VerifiedToken``, raising ``TokenError``.
- ``COGNITO["REVOCATION_CHECKER"]``: ``f(token, *, online) -> int``, raising ``TokenError`` for a revoked
  token; returns the shared user version (-1 when there is none, which turns the per-process user cache off).
- ``COGNITO["USER_MAPPER"]``: a class whose instances have ``get_user(token, *, version) -> user`` (usually a
  subclass of ``mapping.UserMapper`` overriding its hooks).

The authenticator is built once per configuration (``authenticator()``) and rebuilt when ``COGNITO`` changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import Any, Protocol

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from . import revocation
from .conf import cognito_settings
from .tokens import VerifiedToken


class TokenVerifier(Protocol):
    def __call__(self, token: str, *, token_use: Collection[str] | None = None) -> VerifiedToken: ...


class RevocationChecker(Protocol):
    def __call__(self, token: VerifiedToken, *, online: bool) -> int: ...


class UserMapperProtocol(Protocol):
    def get_user(self, token: VerifiedToken, *, version: int = -1) -> Any: ...


def check_revocation(token: VerifiedToken, *, online: bool) -> int:
    """The default ``REVOCATION_CHECKER``: recorded revocations, then (``online``) Cognito's own answer."""
    state = revocation.check_token(token)
    if online:
        revocation.confirm_online(token)
    return state.user_version


class TokenAuthenticator:
    """Verify, check revocation, map to a user: the steps both doors share."""

    def __init__(
        self,
        *,
        verifier: TokenVerifier,
        revocation_checker: RevocationChecker,
        mapper: UserMapperProtocol,
        online_check: bool = False,
    ) -> None:
        self.verifier = verifier
        self.revocation_checker = revocation_checker
        self.mapper = mapper
        self.online_check = online_check

    def validate(
        self,
        raw_token: str | VerifiedToken,
        *,
        token_use: Collection[str] | None = None,
        online: bool | None = None,
    ) -> tuple[VerifiedToken, int]:
        """The verified, unrevoked token and the user version its check read; raises ``TokenError``."""
        token = raw_token if isinstance(raw_token, VerifiedToken) else self.verifier(raw_token, token_use=token_use)
        version = self.revocation_checker(token, online=self.online_check if online is None else online)
        return token, version

    def get_user(self, token: VerifiedToken, *, version: int = -1) -> Any:
        """The local user of a token ``validate`` accepted; raises ``TokenError`` (inactive, not linked)."""
        return self.mapper.get_user(token, version=version)

    def authenticate(
        self,
        raw_token: str | VerifiedToken,
        *,
        token_use: Collection[str] | None = None,
        online: bool | None = None,
    ) -> tuple[Any, VerifiedToken]:
        """Both steps: ``(user, verified token)``."""
        token, version = self.validate(raw_token, token_use=token_use, online=online)
        return self.get_user(token, version=version), token


_authenticator: TokenAuthenticator | None = None
_lock = threading.Lock()


def _load(setting: str) -> Any:
    value = getattr(cognito_settings, setting)
    return import_string(value) if isinstance(value, str) else value


def authenticator() -> TokenAuthenticator:
    """The authenticator the settings describe, built on first use."""
    built = _authenticator
    if built is not None:
        return built
    with _lock:
        return _build()


def _build() -> TokenAuthenticator:
    global _authenticator
    if _authenticator is None:
        mapper_class: Callable[[], UserMapperProtocol] = _load("USER_MAPPER")
        _authenticator = TokenAuthenticator(
            verifier=_load("TOKEN_VERIFIER"),
            revocation_checker=_load("REVOCATION_CHECKER"),
            mapper=mapper_class(),
            online_check=bool(cognito_settings.ONLINE_CHECK),
        )
    return _authenticator


def authenticate_token(
    raw_token: str | VerifiedToken, *, token_use: Collection[str] | None = None, online: bool | None = None
) -> tuple[Any, VerifiedToken]:
    """``(user, verified token)`` for ``raw_token``, as the configured authenticator makes them."""
    return authenticator().authenticate(raw_token, token_use=token_use, online=online)


@receiver(setting_changed)
def _rebuild_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    global _authenticator
    if setting == "COGNITO":
        _authenticator = None
