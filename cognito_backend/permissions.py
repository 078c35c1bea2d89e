"""DRF permissions on what the Cognito token says: ``HasCognitoGroup("admins")``, ``HasScope("orders/read")``.

Each call returns a permission class, so it goes straight into ``permission_classes`` (and composes with
``&``/``|`` like any DRF permission). Several names mean "any of them", as in aws-jwt-verify. A request without
a Cognito token is refused with 401 by the authentication step; one whose token lacks the group or scope gets
403 with code ``insufficient_group`` / ``insufficient_scope``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .tokens import VerifiedToken


class TokenClaimPermission(BasePermission):
    """Base: the token must carry one of ``names`` in the claim ``values()`` reads."""

    names: frozenset[str] = frozenset()
    code = "permission_denied"

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
        raise exceptions.PermissionDenied(f"Requires one of: {', '.join(sorted(self.names))}.", code=self.code)


class CognitoGroupPermission(TokenClaimPermission):
    code = "insufficient_group"

    def values(self, token: VerifiedToken) -> frozenset[str]:
        return frozenset(token.groups)


class ScopePermission(TokenClaimPermission):
    code = "insufficient_scope"

    def values(self, token: VerifiedToken) -> frozenset[str]:
        return token.scopes


def _named(base: type[TokenClaimPermission], label: str, names: tuple[str, ...]) -> type[BasePermission]:
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{label} needs at least one name")
    return type(f"{label}({', '.join(names)})", (base,), {"names": frozenset(names)})


def HasCognitoGroup(*groups: str) -> type[BasePermission]:
    """The token's ``cognito:groups`` holds at least one of ``groups``."""
    return _named(CognitoGroupPermission, "HasCognitoGroup", groups)


def HasScope(*scopes: str) -> type[BasePermission]:
    """The access token's ``scope`` holds at least one of ``scopes``."""
    return _named(ScopePermission, "HasScope", scopes)
