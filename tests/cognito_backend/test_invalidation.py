"""Revocations made by another process reach this one at once through a real Redis (shared cache + pub/sub)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient

from cognito_backend import revocation
from cognito_backend.cache import CHANNEL, bus
from cognito_backend.models import UserRevocation
from tests.conftest import CognitoUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_cache(redis_url: str, settings: Any) -> Iterator[str]:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    assert bus.wait_until_active()
    yield redis_url
    bus.stop()


def me(token: str) -> Any:
    return APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}")


def another_process_revokes(redis_url: str, sub: str) -> None:
    """What ``revoke_user_tokens`` in another process does, done without touching this process's memory."""
    UserRevocation.objects.create(sub=sub, not_valid_before=datetime.now(UTC))
    # The shared cache entry goes through Django's cache API (its key format), as the other process would.
    from django.core.cache import cache

    cache.set(revocation.SUB_PREFIX + sub, time.time())
    client = redis.Redis.from_url(redis_url)
    client.publish(CHANNEL, json.dumps({"sub": sub, "kind": "revoked"}))


def remembered(sub: str) -> bool:
    return ("sub", sub) in bus._memo


def test_answers_are_remembered_while_the_bus_is_live(redis_cache: str, cognito_user: CognitoUser) -> None:
    assert me(cognito_user.tokens.access_token).status_code == 200  # creates the user: its own change message
    assert me(cognito_user.tokens.access_token).status_code == 200
    assert remembered(cognito_user.sub)


def test_revocation_published_by_another_process_is_honoured(redis_cache: str, cognito_user: CognitoUser) -> None:
    assert me(cognito_user.tokens.access_token).status_code == 200
    assert me(cognito_user.tokens.access_token).status_code == 200  # answered from memory now
    assert remembered(cognito_user.sub)
    another_process_revokes(redis_cache, cognito_user.sub)
    deadline = time.monotonic() + 5
    while remembered(cognito_user.sub) and time.monotonic() < deadline:
        time.sleep(0.01)  # delivery is asynchronous (milliseconds); wait for it, not for a fixed time
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"


def test_revocation_in_this_process_is_honoured_without_waiting(redis_cache: str, cognito_user: CognitoUser) -> None:
    me(cognito_user.tokens.access_token)
    revocation.revoke_user_tokens(cognito_user.sub, reason="test")
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"


def test_without_a_live_bus_nothing_is_answered_from_memory(
    redis_url: str, settings: Any, cognito_user: CognitoUser
) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    settings.COGNITO = {**settings.COGNITO, "INVALIDATION_REDIS_URL": "redis://127.0.0.1:1/0"}
    assert not bus.wait_until_active(timeout=0.5)
    assert me(cognito_user.tokens.access_token).status_code == 200
    assert bus._memo == {}
    UserRevocation.objects.create(sub=cognito_user.sub, not_valid_before=datetime.now(UTC))
    from django.core.cache import cache

    cache.set(revocation.SUB_PREFIX + cognito_user.sub, time.time())  # the shared cache another process wrote
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"
    bus.stop()


def test_after_stop_a_bus_no_longer_configured_is_not_live_on_the_first_ask(redis_url: str, settings: Any) -> None:
    # stop() then a settings change (the tests' way, or a process configured anew): the first answer must already
    # come from the new settings, not from the URL the stopped subscriber had.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    assert bus.wait_until_active() and bus.bus_live()
    bus.stop()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert not bus.bus_live()
    assert bus.active()  # no bus configured: the memo lives by its TTL
