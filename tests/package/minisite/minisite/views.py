"""The site's one DRF view: who the Cognito token maps to."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmI(APIView):
    def get(self, request: Request) -> Response:
        user: Any = request.user
        identity = getattr(user, "cognito_identity", None)
        return Response({"id": user.pk, "username": user.get_username(), "sub": getattr(identity, "sub", None)})
