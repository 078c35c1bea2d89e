"""DRF permissions on what the Cognito token says: ``HasCognitoGroup("admins")``, ``HasScope("orders/read")``.

Instances are used directly in ``permission_classes`` (DRF accepts any object with ``has_permission``; calling
the instance returns itself, which is what DRF does with a class). Several names mean "any of them", as in
aws-jwt-verify. A request not authenticated by Cognito is refused with 401 by the authentication step; one
whose token lacks the group or scope gets 403 with code ``insufficient_group`` / ``insufficient_scope``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .tokens import VerifiedToken


class _TokenPermission(BasePermission):
    code = "permission_denied"

    def __init__(self, *names: str) -> None:
        if not names:
            raise ValueError(f"{type(self).__name__} needs at least one name")
        self.names = frozenset(names)

    def __call__(self) -> _TokenPermission:
        return self

    def values(self, token: VerifiedToken) -> frozenset[str]:
        raise NotImplementedError

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, VerifiedToken):
            if request.user is None or not request.user.is_authenticated:
                raise exceptions.NotAuthenticated()
            raise exceptions.PermissionDenied("A Cognito token is required.", code=self.code)
        if self.values(token) & self.names:
            return True
        raise exceptions.PermissionDenied(
            f"Requires one of: {', '.join(sorted(self.names))}.",
            code=self.code,
        )


class HasCognitoGroup(_TokenPermission):
    """The token's ``cognito:groups`` holds at least one of the names."""

    code = "insufficient_group"

    def values(self, token: VerifiedToken) -> frozenset[str]:
        return frozenset(token.groups)


class HasScope(_TokenPermission):
    """The access token's ``scope`` holds at least one of the names."""

    code = "insufficient_scope"

    def values(self, token: VerifiedToken) -> frozenset[str]:
        return token.scopes
