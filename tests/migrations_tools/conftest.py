"""Fixtures for the migration tools: a pool configured for migration, local users, a throttling fault.

Throttling cannot be produced by moto: ``throttle`` injects it at botocore's event hooks
(``before-send.cognito-idp.<Operation>`` on the client from ``cognito_backend.clients.get_client``), answering the
first N calls with Cognito's ``TooManyRequestsException`` without sending them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from django.db import connection

from tests.conftest import ROOT, UserPool

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


# --- separate processes (manage.py commands, web servers) on their own database -----------------------------


@pytest.fixture
def separate_database(tmp_path: Path) -> Iterator[str]:
    """A DATABASE_URL for the subprocesses, on the suite's engine, created empty and removed afterwards."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'migration.sqlite3'}"
        return
    conf: dict[str, Any] = connection.settings_dict
    name = f"kill_test_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    yield f"postgres://{conf['USER']}{password}@{conf['HOST']}:{conf['PORT']}/{name}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def subprocess_env(pool: UserPool, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "COGNITO_", "DJANGO_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_READ_DOTENV": "false",
            "DATABASE_URL": database_url,
            "AWS_ENDPOINT_URL": pool.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "COGNITO_REGION": "us-east-1",
            "COGNITO_USER_POOL_ID": pool.pool_id,
            "COGNITO_APP_CLIENT_ID": pool.client_id,
            "COGNITO_JWKS_URL": pool.jwks_url,
            "TOKEN_ENCRYPTION_KEY": "tL0cQZbQm5N8yqC3bGzJxq2n6x0c7hW3lJ0nq3y8V2c=",
            "COGNITO_MIGRATION_WORKERS": "4",
        }
    )
    return env


def run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
