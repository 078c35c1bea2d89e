"""Authentication backend: Django's door for Cognito tokens.

Modelled on Django's ``RemoteUserBackend``. ``authenticate(request, *, cognito_token=...)`` takes its credential
as a keyword-only argument, so Django skips this backend for password logins. It does no work of its own: the
token goes through ``services.authenticator()``, the same path as the DRF class, so the verifier, the
revocation checker and the user mapper the settings name (``mapping.UserMapper`` by default) apply to both.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from . import services
from .exceptions import TokenError
from .tokens import VerifiedToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


class CognitoBackend(BaseBackend):
    """Authenticate a Cognito id or access token; the user mapper creates, links and updates its user."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, *, cognito_token: str | VerifiedToken | None = None
    ) -> AbstractBaseUser | None:
        """Django's contract: a user, or None when the token is refused (the reason lands on ``request``)."""
        if cognito_token is None:
            return None
        try:
            user, token = services.authenticate_token(cognito_token)
        except TokenError as exc:
            if request is not None:
                request.cognito_error = exc  # type: ignore[attr-defined]
            logger.info("cognito token refused: code=%s", exc.code)
            return None
        if request is not None:
            request.cognito_token = token  # type: ignore[attr-defined] # sessions.record_identity reads it at login
        return cast(AbstractBaseUser, user)

    def get_user(self, user_id: Any) -> User | None:
        """Session support: Django's ``login()`` stores the backend and reloads users through it."""
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def user_can_authenticate(self, user: Any) -> bool:
        """Deactivated local users are refused, as Django's ``ModelBackend`` does."""
        return getattr(user, "is_active", True) is not False
