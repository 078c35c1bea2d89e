"""The REST contract every client relies on: ``GET /api/auth/me/`` describes the bearer of the token."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import CognitoAuthentication, CognitoSessionAuthentication
from .tokens import VerifiedToken


class MeSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)
    sub = serializers.CharField()
    groups = serializers.ListField(child=serializers.CharField())
    token_use = serializers.CharField()
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    is_staff = serializers.BooleanField()


def me_payload(user: Any, token: VerifiedToken) -> dict[str, Any]:
    """Local username and profile, Cognito's ``sub`` and groups (from the token: what Cognito says now)."""
    return {
        "username": user.get_username(),
        "email": getattr(user, "email", "") or token.email,
        "sub": token.sub,
        "groups": list(token.groups),
        "token_use": token.token_use,
        "first_name": getattr(user, "first_name", ""),
        "last_name": getattr(user, "last_name", ""),
        "is_staff": bool(getattr(user, "is_staff", False)),
    }


class MeView(APIView):
    """``GET``: 200 with the user, or 401 ``{"code", "detail"}`` and ``WWW-Authenticate: Bearer``."""

    # A session opened with a Cognito token serves too (its token is the identity recorded at sign-in).
    authentication_classes = [CognitoAuthentication, CognitoSessionAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        token = request.auth
        if not isinstance(token, VerifiedToken):  # a session not opened with a Cognito token
            raise NotAuthenticated()
        return Response(me_payload(request.user, token))
