"""Fixtures for the migration tools: a pool configured for migration, local users, a throttling fault.

Throttling cannot be produced by moto: ``throttle`` injects it at botocore's event hooks
(``before-send.cognito-idp.<Operation>`` on the client from ``cognito_backend.clients.get_client``), answering the
first N calls with Cognito's ``TooManyRequestsException`` without sending them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from tests.conftest import UserPool

# username -> phone / telnum as the site stores them (the default User model has no phone field; the mapping
# reads them through these callables, configured as "module:callable" in COGNITO_MIGRATION["ATTRIBUTES"]).
PHONES: dict[str, str] = {}
TELNUMS: dict[str, str] = {}


def phone_of(user: Any) -> str | None:
    return PHONES.get(user.username)


def telnum_of(user: Any) -> str | None:
    return TELNUMS.get(user.username)


MIGRATION_SETTINGS: dict[str, Any] = {
    "RATE": 200.0,
    "READ_RATE": 400.0,
    "UPDATE_RATE": 400.0,
    "WORKERS": 4,
    "CHUNK_SIZE": 7,
    "ATTRIBUTES": {
        "email": "email",
        "given_name": "first_name",
        "family_name": "last_name",
        "phone_number": "tests.migrations_tools.conftest:phone_of",
        "custom:telnum": "tests.migrations_tools.conftest:telnum_of",
    },
    "PHONE_REGION": "US",
    "TRIGGER_SECRET": "test-trigger-secret",
}


@pytest.fixture
def migration_pool(user_pool: UserPool, settings: Any) -> Iterator[UserPool]:
    """``user_pool`` (usernames, email alias, ``custom:telnum``) with fast test rates for the migration."""
    settings.COGNITO_MIGRATION = dict(MIGRATION_SETTINGS)
    yield user_pool
    PHONES.clear()
    TELNUMS.clear()


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[..., Any]:
    def make(
        username: str,
        *,
        email: str | None = None,
        password: str = "Old-passw0rd",  # noqa: S107 - a test password
        phone: str | None = None,
        telnum: str | None = None,
        groups: tuple[str, ...] = (),
        **fields: Any,
    ) -> Any:
        from django.contrib.auth.models import Group

        user = django_user_model.objects.create_user(
            username=username,
            email=f"{username}@example.com" if email is None else email,
            password=password,
            **fields,
        )
        if phone is not None:
            PHONES[username] = phone
        if telnum is not None:
            TELNUMS[username] = telnum
        for name in groups:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        return user

    return make


def pool_usernames(pool: UserPool) -> list[str]:
    """Every username in the pool, from ListUsers (all pages); duplicates would show up twice."""
    from cognito_backend import idp_admin

    return [u["Username"] for u in idp_admin.list_users(pool_id=pool.pool_id)]


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.body


@dataclass
class ThrottleFault:
    operation: str
    remaining: int
    injected: int = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        self.injected += 1
        body = json.dumps({"__type": "TooManyRequestsException", "message": "Rate exceeded"}).encode()
        headers = {"x-amzn-ErrorType": "TooManyRequestsException", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Body(body))


@pytest.fixture
def throttle(aws: str) -> Iterator[Callable[[str, int], ThrottleFault]]:
    """``throttle("AdminCreateUser", 5)``: the next 5 such calls are answered TooManyRequestsException."""
    from cognito_backend.clients import get_client

    registered: list[tuple[str, ThrottleFault]] = []

    def inject(operation: str, count: int) -> ThrottleFault:
        fault = ThrottleFault(operation, count)
        event = f"before-send.cognito-idp.{operation}"
        get_client("cognito-idp").meta.events.register(event, fault)
        registered.append((event, fault))
        return fault

    yield inject
    from cognito_backend.clients import get_client as current

    for event, fault in registered:
        current("cognito-idp").meta.events.unregister(event, fault)
