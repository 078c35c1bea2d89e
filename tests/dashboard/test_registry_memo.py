"""The invoke path's registry lookup is remembered per process under the revocation memo's rule: with the Redis
invalidation bus while it is live, any registry change dropping it at once here and (through a real Redis) in other
processes; without Redis for at most ``REVOCATION_MEMO_SECONDS``, a change made in this process dropping it at once;
with Redis configured but silent, not at all."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from cognito_backend.cache import CHANNEL, bus
from dashboard import selectors
from dashboard.exceptions import FunctionForbidden, FunctionNotFound
from dashboard.models import LambdaFunction

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_bus(redis_url: str, settings: Any) -> Iterator[str]:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    assert bus.wait_until_active()
    selectors._registry.clear()
    yield redis_url
    bus.stop()
    selectors._registry.clear()


@pytest.fixture
def thing(make_function: Any) -> LambdaFunction:
    function: LambdaFunction = make_function("thing", "ThingLambda", groups=["ops"])
    return function


def test_with_a_live_bus_the_second_lookup_costs_no_query(
    live_bus: str, thing: LambdaFunction, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(2):  # the function and its allowed groups
        selectors.function_by_name("thing")
    with django_assert_num_queries(0):
        function = selectors.function_by_name("thing")
    assert function.allowed_group_names == {"ops"}


@pytest.mark.parametrize("with_redis", [True, False], ids=["live-bus", "no-redis"])
def test_a_saved_change_drops_the_memo_at_once(
    with_redis: bool,
    request: pytest.FixtureRequest,
    thing: LambdaFunction,
    django_capture_on_commit_callbacks: Any,
    django_assert_num_queries: Any,
) -> None:
    if with_redis:
        request.getfixturevalue("live_bus")
    else:
        bus.stop()  # started afresh from the test settings: no Redis, no bus
        assert not bus.bus_live()
    selectors.function_by_name("thing")
    with django_assert_num_queries(0):
        selectors.function_by_name("thing")  # remembered
    with django_capture_on_commit_callbacks(execute=True):
        thing.enabled = False
        thing.save()
    with pytest.raises(FunctionNotFound):
        selectors.function_by_name("thing")


def test_a_changed_group_list_drops_the_memo(
    live_bus: str, thing: LambdaFunction, django_capture_on_commit_callbacks: Any
) -> None:
    from django.contrib.auth.models import Group

    caller = selectors.Caller(user=None, token_groups=frozenset({"ops"}))
    assert selectors.function_for(caller, "thing")
    with django_capture_on_commit_callbacks(execute=True):
        thing.allowed_groups.set([Group.objects.create(name="admins")])
    with pytest.raises(FunctionForbidden):
        selectors.function_for(caller, "thing")


def test_a_change_in_another_process_drops_the_memo_through_redis(live_bus: str, thing: LambdaFunction) -> None:
    selectors.function_by_name("thing")
    LambdaFunction.objects.filter(pk=thing.pk).update(enabled=False)  # no signal here: "another process"
    assert selectors.function_by_name("thing").enabled  # still remembered
    before = bus.generation()
    redis.Redis.from_url(live_bus).publish(CHANNEL, json.dumps({"kind": "dashboard_registry"}))
    deadline = time.monotonic() + 10
    while bus.generation() == before and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(FunctionNotFound):
        selectors.function_by_name("thing")


def test_without_a_bus_a_lookup_is_remembered_for_the_memo_seconds_at_most(
    thing: LambdaFunction, settings: Any, django_assert_num_queries: Any
) -> None:
    bus.stop()  # started afresh from the test settings: no Redis, no bus
    assert not bus.bus_live() and bus.active()
    settings.COGNITO = {**settings.COGNITO, "REVOCATION_MEMO_SECONDS": 0.5}
    with django_assert_num_queries(2):  # the function and its allowed groups
        selectors.function_by_name("thing")
    LambdaFunction.objects.filter(pk=thing.pk).update(enabled=False)  # no signal here: "another process"
    with django_assert_num_queries(0):
        assert selectors.function_by_name("thing").enabled  # remembered, within the bound
    time.sleep(0.6)
    with django_assert_num_queries(1), pytest.raises(FunctionNotFound):
        selectors.function_by_name("thing")


def test_with_redis_configured_but_silent_every_lookup_reads_the_database(
    thing: LambdaFunction, django_assert_num_queries: Any
) -> None:
    from django.test import override_settings

    from tests.conftest import free_port

    silent = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: the subscriber is never confirmed
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": silent}}
    try:
        with override_settings(CACHES=caches):
            assert not bus.active()
            time.sleep(0.1)  # the subscriber's first attempt fails (and moves the generation); the next is 0.5 s on
            with django_assert_num_queries(2):
                selectors.function_by_name("thing")
            with django_assert_num_queries(2):
                selectors.function_by_name("thing")
    finally:
        bus.stop()
