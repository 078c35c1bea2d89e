"""The site's URLs plus six for the benchmarks and the revocation process tests (bench settings only):

- ``/bench/me-noauth/``: the ``/api/auth/me/`` view with authentication off (the baseline);
- ``/bench/me-online/``: the same view with the online check on (``cognito_online_check = True``);
- ``POST /bench/revoke/<sub>/``: ``revoke_user_tokens(sub)`` in this process;
- ``POST /bench/session-count/``: adds one to a counter in the session and answers it with this process's id;
- ``POST /bench/echo/``: answers the request body as it came, with no authentication, session or database: the
  cost of the HTTP hop to the site through Django's middleware (bench/bench_dashboard.py's baseline of the hop);
- ``POST /bench/echo-signed-in/``: the same answer from a DRF view with the project's authentication (the session,
  CSRF enforced) and permission: what a signed-in POST costs before the dashboard's own work.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cognito_backend import revocation
from cognito_backend.tokens import VerifiedToken, verify_token
from cognito_backend.views import MeView, me_payload
from dashboard.api import RawJSONParser
from dashboard.services import RawPayload

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


class OnlineMeView(MeView):
    cognito_online_check = True


@csrf_exempt
@require_POST
def revoke(request: HttpRequest, sub: str) -> HttpResponse:
    revocation.revoke_user_tokens(sub, reason="bench")
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def session_count(request: HttpRequest) -> JsonResponse:
    request.session["count"] = int(request.session.get("count", 0)) + 1
    return JsonResponse({"count": request.session["count"], "pid": os.getpid()})


@csrf_exempt
@require_POST
def echo(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.body, content_type="application/json")


class SignedInEchoView(APIView):
    """Answers the request body to a signed-in caller (the project's default authentication and permission)."""

    parser_classes = [RawJSONParser]
    renderer_classes = [JSONRenderer]

    def post(self, request: Request) -> HttpResponse:
        raw = request.data  # RawPayload, as the endpoint receives it
        return HttpResponse(raw.data if isinstance(raw, RawPayload) else b"", content_type="application/json")


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/echo/", echo),
    path("bench/echo-signed-in/", SignedInEchoView.as_view()),
    path("bench/session-count/", session_count),
    path("bench/me-noauth/", NoAuthMeView.as_view()),
    path("bench/me-online/", OnlineMeView.as_view()),
    path("bench/revoke/<str:sub>/", revoke),
    path("", include("config.urls")),
]
