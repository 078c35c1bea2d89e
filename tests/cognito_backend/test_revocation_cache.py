"""The shared cache never holds "not revoked" over a revocation, against a real Redis of this module.

A reader filling a miss races a revocation written between its database read and its cache write: the race is
produced by running the other process's revocation inside the reader's database read. A failed cache write is a
real Redis refusal: ``maxmemory 1`` with ``noeviction`` refuses SET and INCR ("OOM command not allowed") while
DEL still works.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cognito_backend import revocation
from cognito_backend.conf import cognito_settings
from cognito_backend.tokens import VerifiedToken, verify_token
from tests.cognito_backend.conftest import JwksServer, SigningKey, forged_claims
from tests.cognito_backend.test_revocation_processes import RedisServer, redis_server  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

HEADER = {"alg": "RS256", "kid": "dummy"}


@pytest.fixture
def shared_cache(redis_server: RedisServer, forged_pool: JwksServer, settings: Any) -> Iterator[Any]:  # noqa: F811
    """Redis as the Django cache; no memo and no bus, so every check reads the shared cache."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{redis_server.port}/0",
            "OPTIONS": {"socket_timeout": 2},
        }
    }
    settings.COGNITO = {**settings.COGNITO, "REVOCATION_MEMO_SECONDS": 0, "INVALIDATION_REDIS_URL": ""}
    admin = redis_server.admin
    admin.flushdb()
    yield admin
    admin.config_set("maxmemory", 0)


@pytest.fixture
def token(shared_cache: Any, moto_key: SigningKey) -> VerifiedToken:
    return verify_token(moto_key.sign(HEADER, forged_claims("access")))


def redis_key(key: str) -> str:
    return f":1:{key}"


def refuse_writes(admin: Any) -> None:
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", 1)


def during(monkeypatch: Any, name: str, action: Callable[[], None]) -> None:
    """Run ``action`` (another process's revocation) right after the reader's database read ``name``."""
    original = getattr(revocation, name)

    def read_then_race(*args: Any) -> Any:
        value = original(*args)
        action()
        return value

    monkeypatch.setattr(revocation, name, read_then_race)


def test_a_reader_never_overwrites_a_user_revocation_written_after_its_database_read(
    token: VerifiedToken, monkeypatch: Any
) -> None:
    during(monkeypatch, "_db_not_valid_before", lambda: revocation.revoke_user_tokens(token.sub))
    assert revocation.state_for(token).not_valid_before == 0  # the reader's own (older) answer
    monkeypatch.undo()
    assert revocation.is_revoked(token)  # the shared cache kept the revocation


def test_a_reader_never_overwrites_a_family_revocation_written_after_its_database_read(
    token: VerifiedToken, monkeypatch: Any
) -> None:
    during(monkeypatch, "_db_family_revoked", lambda: revocation.revoke_token_family(token.origin_jti))
    assert not revocation.state_for(token).family_revoked
    monkeypatch.undo()
    assert revocation.state_for(token).family_revoked


def test_not_revoked_answers_stay_in_the_shared_cache_briefly(shared_cache: Any, token: VerifiedToken) -> None:
    revocation.state_for(token)
    negative = int(cognito_settings.REVOCATION_NEGATIVE_CACHE_SECONDS)
    for key in (revocation.SUB_PREFIX + token.sub, revocation.FAMILY_PREFIX + revocation._digest(token.origin_jti)):
        assert 0 < shared_cache.ttl(redis_key(key)) <= negative
    revocation.revoke_user_tokens(token.sub)
    assert shared_cache.ttl(redis_key(revocation.SUB_PREFIX + token.sub)) > 3600  # a revocation stays long


@pytest.mark.parametrize("kind", ["user", "family"])
def test_a_failed_revocation_write_leaves_no_old_answer_and_is_retried(
    shared_cache: Any, token: VerifiedToken, kind: str
) -> None:
    if kind == "user":
        key, revoke = revocation.SUB_PREFIX + token.sub, lambda: revocation.revoke_user_tokens(token.sub)
    else:
        key = revocation.FAMILY_PREFIX + revocation._digest(token.origin_jti)
        revoke = lambda: revocation.revoke_token_family(token.origin_jti)  # noqa: E731
    assert not revocation.is_revoked(token)
    assert shared_cache.exists(redis_key(key))  # "not revoked", filled by the check
    refuse_writes(shared_cache)
    revoke()
    assert not shared_cache.exists(redis_key(key))  # the old answer is gone: readers go to the database
    shared_cache.config_set("maxmemory", 0)
    deadline = time.monotonic() + 10
    while not shared_cache.exists(redis_key(key)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shared_cache.exists(redis_key(key))  # the retried write landed
    revocation._cache_down_until = 0.0
    assert revocation.is_revoked(token)


def test_a_failed_user_version_bump_leaves_no_old_version(shared_cache: Any, token: VerifiedToken) -> None:
    key = redis_key(revocation.USER_VERSION_PREFIX + token.sub)
    before = revocation.state_for(token).user_version
    assert shared_cache.exists(key)
    refuse_writes(shared_cache)
    revocation.bump_user_version(token.sub)
    assert not shared_cache.exists(key)
    shared_cache.config_set("maxmemory", 0)
    deadline = time.monotonic() + 10
    while not shared_cache.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    revocation._cache_down_until = 0.0
    assert revocation.state_for(token).user_version != before
