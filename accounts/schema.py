"""OpenAPI extensions: how the schema describes the bearer authentication of the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import extend_schema


class CognitoBearerScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "cognito_backend.authentication.CognitoAuthentication"
    name = "cognitoBearer"
    match_subclasses = True

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Cognito access token (`tokens.access_token` from sign-in).",
        }


class CognitoSessionScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The session cookie (DRF's own session scheme does not match subclasses)."""

    target_class = "cognito_backend.authentication.CognitoSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


class MeViewSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    """The reusable app's ``GET /api/auth/me/`` (an APIView that knows nothing of drf-spectacular) described here,
    so the schema has it and ``check --deploy`` raises no drf_spectacular.W002."""

    target_class = "cognito_backend.views.MeView"

    def view_replacement(self) -> type[Any]:
        from cognito_backend.views import MeSerializer

        @extend_schema(tags=["auth"], summary="The bearer of the token", responses={200: MeSerializer})
        class Fixed(self.target_class):  # type: ignore[name-defined,misc]
            pass

        return Fixed
