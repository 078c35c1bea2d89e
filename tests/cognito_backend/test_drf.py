"""DRF pieces: permissions on groups and scopes, token kinds per view, and the JSON error shape."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from cognito_backend import exceptions
from cognito_backend.authentication import CognitoAuthentication
from cognito_backend.permissions import HasCognitoGroup, HasScope
from tests.conftest import CognitoUser

pytestmark = pytest.mark.django_db


def call(view: Any, token: str | None = None) -> Any:
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = view.as_view()(APIRequestFactory().get("/", **headers))
    response.render()
    return response


class UsersOnly(APIView):
    authentication_classes = [CognitoAuthentication]
    permission_classes = [HasCognitoGroup("users", "staff")]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


class AdminsOnly(UsersOnly):
    permission_classes = [HasCognitoGroup("admins")]


class AdminScope(UsersOnly):
    permission_classes = [HasScope("aws.cognito.signin.user.admin")]


class OtherScope(UsersOnly):
    permission_classes = [HasScope("orders/read")]


class AccessTokensOnly(UsersOnly):
    cognito_token_use = ("access",)


@pytest.mark.parametrize(
    ("view", "kind", "status", "code"),
    [
        (UsersOnly, "access_token", 200, None),
        (UsersOnly, "id_token", 200, None),
        (AdminsOnly, "access_token", 403, "insufficient_group"),
        (AdminScope, "access_token", 200, None),
        (OtherScope, "access_token", 403, "insufficient_scope"),
        (OtherScope, "id_token", 403, "insufficient_scope"),
        (AccessTokensOnly, "access_token", 200, None),
        (AccessTokensOnly, "id_token", 401, "invalid_token_use"),
    ],
)
def test_view_rules_on_groups_scopes_and_token_kinds(
    cognito_user: CognitoUser, view: Any, kind: str, status: int, code: str | None
) -> None:
    response = call(view, getattr(cognito_user.tokens, kind))
    assert response.status_code == status, response.content
    if code:
        assert response.data["code"] == code


def test_group_permission_without_a_token_is_401(cognito_user: CognitoUser) -> None:
    response = call(AdminsOnly)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_required_groups_setting_applies_to_every_token(cognito_user: CognitoUser, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "REQUIRED_GROUPS": ["admins"]}
    response = call(UsersOnly, cognito_user.tokens.access_token)
    assert response.status_code == 403
    assert response.data["code"] == "insufficient_group"


def test_id_tokens_can_be_refused_by_settings(cognito_user: CognitoUser, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "TOKEN_USE": ["access"]}
    assert call(UsersOnly, cognito_user.tokens.id_token).data["code"] == "invalid_token_use"
    assert call(UsersOnly, cognito_user.tokens.access_token).status_code == 200


class Failing(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    error: Exception = RuntimeError("boom")

    def get(self, request: Any) -> Response:
        raise self.error


class Form(serializers.Serializer[Any]):
    name = serializers.CharField()
    age = serializers.IntegerField()


class Validating(Failing):
    def get(self, request: Any) -> Response:
        Form(data={"age": "x"}).is_valid(raise_exception=True)
        return Response()


def failing(error: Exception) -> Any:
    return type("F", (Failing,), {"error": error})


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (exceptions.TokenExpired(), 401, "token_expired"),
        (exceptions.UsernameExists(field="username"), 409, "username_exists"),
        (exceptions.Throttled(retry_after=7), 429, "throttled"),
        (exceptions.ServiceUnavailable(), 503, "service_unavailable"),
        (RuntimeError("secret detail"), 500, "server_error"),
    ],
)
def test_exception_handler_renders_code_and_detail(error: Exception, status: int, code: str) -> None:
    response = call(failing(error))
    assert response.status_code == status
    assert response.data["code"] == code
    assert isinstance(response.data["detail"], str)
    assert "secret detail" not in response.content.decode()


def test_exception_handler_adds_challenge_to_401_and_retry_after_to_429() -> None:
    assert call(failing(exceptions.NotAuthorized()))["WWW-Authenticate"] == 'Bearer realm="api"'
    assert call(failing(exceptions.Throttled(retry_after=7)))["Retry-After"] == "7"


def test_exception_handler_names_fields() -> None:
    response = call(Validating)
    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert set(response.data["fields"]) == {"name", "age"}
    assert call(failing(exceptions.UsernameExists(field="username"))).data["fields"] == {
        "username": ["This username is already taken."]
    }
