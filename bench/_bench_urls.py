"""The site's URLs plus ``/bench/me-noauth/``: the ``/api/auth/me/`` view with authentication off (the baseline)."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from cognito_backend.tokens import VerifiedToken, verify_token
from cognito_backend.views import MeView, me_payload

_fixed: tuple[Any, VerifiedToken] | None = None


class NoAuthMeView(MeView):
    """Same view, same payload; the user and the claims are looked up once instead of per request."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        global _fixed
        if _fixed is None:
            token = verify_token(os.environ["BENCH_TOKEN"])
            _fixed = (get_user_model().objects.get(cognito_identity__sub=token.sub), token)
        return Response(me_payload(*_fixed))


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/me-noauth/", NoAuthMeView.as_view()),
    path("", include("config.urls")),
]
