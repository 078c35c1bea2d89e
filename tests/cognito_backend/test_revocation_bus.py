"""The invalidation bus against a real Redis of this module: memo answers expire even while the bus is live, a
silent Redis (SIGSTOP) stops the memo within the liveness deadline, and a publish that fails is retried."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cognito_backend import revocation
from cognito_backend.cache import CHANNEL, bus, retrier
from cognito_backend.models import UserRevocation
from tests.cognito_backend.test_revocation import me
from tests.cognito_backend.test_revocation_processes import RedisServer, redis_server  # noqa: F401 - a fixture
from tests.conftest import CognitoUser, UserPool

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_bus(redis_server: RedisServer, user_pool: UserPool, settings: Any) -> Iterator[RedisServer]:  # noqa: F811
    """Redis as cache and bus, for ``user_pool`` (whose fixture sets ``COGNITO`` first)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{redis_server.port}/0",
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
    }
    settings.COGNITO = {**settings.COGNITO, "REVOCATION_MEMO_SECONDS": 1.0, "INVALIDATION_LIVENESS_SECONDS": 1.5}
    assert bus.wait_until_active()
    yield redis_server
    redis_server.process.send_signal(signal.SIGCONT)
    bus.stop()


def test_memo_answers_expire_while_the_bus_is_live(live_bus: RedisServer, cognito_user: CognitoUser) -> None:
    """Another process revoked but its message never came (its publish failed): the TTL still bounds it."""
    token = cognito_user.tokens.access_token
    assert me(token).status_code == 200
    assert me(token).status_code == 200
    assert ("sub", cognito_user.sub) in bus._memo
    UserRevocation.objects.create(sub=cognito_user.sub, not_valid_before=datetime.now(UTC))
    from django.core.cache import cache

    cache.set(revocation.SUB_PREFIX + cognito_user.sub, time.time())  # what the other process wrote
    start = time.monotonic()
    while me(token).status_code == 200:
        assert time.monotonic() - start < 5, "the memo answer never expired"
        time.sleep(0.05)
    assert time.monotonic() - start <= 1.0 + 1.0  # the TTL, plus one request on a busy machine
    assert bus.bus_live()  # it was the TTL, not a lost subscription


def test_a_silent_redis_stops_the_memo_within_the_liveness_deadline(live_bus: RedisServer) -> None:
    live_bus.process.send_signal(signal.SIGSTOP)
    start = time.monotonic()
    while bus.active():
        assert time.monotonic() - start < 5, "the bus still looks healthy"
        time.sleep(0.02)
    assert time.monotonic() - start <= 1.5 + 0.6
    live_bus.process.send_signal(signal.SIGCONT)
    assert bus.wait_until_active(timeout=10)  # reconnected and subscribed again


def test_a_failed_publish_is_retried_until_it_lands(live_bus: RedisServer, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "REVOCATION_MEMO_SECONDS": 10.0}
    assert bus.wait_until_active()
    listener = live_bus.admin.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(CHANNEL)
    live_bus.process.send_signal(signal.SIGSTOP)
    bus.publish(sub="retried-sub", kind="revoked")
    time.sleep(2.0)  # the first attempt times out
    live_bus.process.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 10
    received: list[dict[str, Any]] = []
    while not received and time.monotonic() < deadline:
        message = listener.get_message(timeout=0.2)
        if message and message["type"] == "message":
            received.append(json.loads(message["data"]))
    listener.close()
    assert [m["sub"] for m in received] == ["retried-sub"]
    assert retrier.pending() == 0
