"""One orchestration path for both doors (issue 11): the DRF class's steps are real, and the verifier, the
revocation checker and the user mapper are import-string settings that both doors honour."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from cognito_backend.authentication import CognitoAuthentication
from cognito_backend.cache import bus
from cognito_backend.exceptions import TokenRevoked
from cognito_backend.mapping import UserMapper
from cognito_backend.services import authenticator, check_revocation
from cognito_backend.tokens import VerifiedToken, verify_token

from .conftest import SigningKey, forged_claims

pytestmark = pytest.mark.django_db

User = get_user_model()
HEADER = {"alg": "RS256", "kid": "dummy"}
HERE = __name__


def id_token(key: SigningKey, **claims: Any) -> str:
    return key.sign(HEADER, forged_claims("id", **claims))


def call(authentication: type[CognitoAuthentication], token: str) -> Any:
    class View(APIView):
        authentication_classes = [authentication]
        permission_classes = [IsAuthenticated]

        def get(self, request: Any) -> Response:
            return Response({"username": request.user.get_username()})

    response = View.as_view()(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))
    response.render()
    return response


# --- the DRF class's steps are the real steps ------------------------------------------------------------------


class RefusesMallory(CognitoAuthentication):
    def get_validated_token(self, raw_token: str) -> VerifiedToken:
        token = super().get_validated_token(raw_token)
        if token.username == "mallory":
            raise exceptions.AuthenticationFailed("Not you.", code="blocked")
        return token


class EveryoneIsGuest(CognitoAuthentication):
    def get_user(self, validated_token: VerifiedToken) -> Any:
        return User.objects.get_or_create(username="guest")[0]


def test_overriding_get_validated_token_changes_what_is_accepted(forged_pool: Any, moto_key: SigningKey) -> None:
    response = call(RefusesMallory, id_token(moto_key))
    assert response.status_code == 401
    assert response.data["code"] == "blocked"
    assert not User.objects.exists()  # refused before any user was looked up


def test_overriding_get_user_changes_the_user(forged_pool: Any, moto_key: SigningKey) -> None:
    response = call(EveryoneIsGuest, id_token(moto_key))
    assert response.status_code == 200
    assert response.data == {"username": "guest"}
    assert not User.objects.filter(username="mallory").exists()  # the mapper never ran


def test_get_user_of_a_token_it_did_not_validate_still_checks_revocation(
    forged_pool: Any, moto_key: SigningKey, settings: Any
) -> None:
    token = verify_token(id_token(moto_key))
    settings.COGNITO = {**settings.COGNITO, "REVOCATION_CHECKER": f"{HERE}.refuse_everything"}
    with pytest.raises(exceptions.AuthenticationFailed) as caught:
        CognitoAuthentication().get_user(token)
    assert caught.value.get_codes() == "token_revoked"


# --- swappable parts, named by import strings, used by both doors ----------------------------------------------

verified: list[str] = []


def counting_verifier(token: str, *, token_use: Collection[str] | None = None) -> VerifiedToken:
    result = verify_token(token, token_use=token_use)
    verified.append(result.sub)
    return result


def refuse_everything(token: VerifiedToken, *, online: bool) -> int:
    raise TokenRevoked()


checked: list[bool] = []


def recording_checker(token: VerifiedToken, *, online: bool) -> int:
    checked.append(online)
    return check_revocation(token, online=False)


class UpperMapper(UserMapper):
    def create_user(self, token: VerifiedToken, attributes: Any) -> Any:
        return User.objects.create_user(token.username.upper())


@pytest.fixture(autouse=True)
def _clear_records() -> Iterator[None]:
    verified.clear()
    checked.clear()
    yield


def both_doors(token: str) -> tuple[Any, Any]:
    """The DRF answer and Django's ``authenticate`` answer for the same token."""
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    return response, authenticate(None, cognito_token=token)


def test_token_verifier_setting_is_used_by_both_doors(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "TOKEN_VERIFIER": f"{HERE}.counting_verifier"}
    response, user = both_doors(id_token(moto_key))
    assert response.status_code == 200 and user is not None
    assert len(verified) == 2


def test_revocation_checker_setting_is_used_by_both_doors(
    forged_pool: Any, moto_key: SigningKey, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "REVOCATION_CHECKER": f"{HERE}.refuse_everything"}
    response, user = both_doors(id_token(moto_key))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert user is None


def test_revocation_checker_is_told_when_the_online_check_applies(
    forged_pool: Any, moto_key: SigningKey, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "REVOCATION_CHECKER": f"{HERE}.recording_checker"}
    both_doors(id_token(moto_key))

    class Online(CognitoAuthentication):
        online_check = True

    call(Online, id_token(moto_key))
    assert checked == [False, False, True]


def test_user_mapper_setting_is_used_by_both_doors(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "USER_MAPPER": f"{HERE}.UpperMapper"}
    user = authenticate(None, cognito_token=id_token(moto_key))  # Django's door first: it creates the user
    assert user is not None and user.get_username() == "MALLORY"
    token = id_token(moto_key, sub="another-sub", **{"cognito:username": "trudy"}, email="t@example.com")
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}")  # then DRF's
    assert response.json()["username"] == "TRUDY"
    assert isinstance(authenticator().mapper, UpperMapper)


# --- speed: a cached authenticated request asks the database nothing ------------------------------------------


@pytest.fixture
def redis_cache(redis_url: str, settings: Any) -> Iterator[str]:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    assert bus.wait_until_active()
    yield redis_url
    bus.stop()


def test_cached_request_costs_no_database_query(
    redis_cache: str, forged_pool: Any, moto_key: SigningKey, django_assert_num_queries: Any
) -> None:
    token = id_token(moto_key)
    client = APIClient()
    for _ in range(3):  # create, then the reload our own writes cause, then cached
        assert client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    with django_assert_num_queries(0):
        response = client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["username"] == "mallory"
