"""A refusal costs the same hasher work whoever asked: a wrong password for a legacy user (its local hash is
checked) and any other refusal (unknown, inactive, already migrated, over the failure budget, no usable hash).

Timing is not measured: the hasher's ``encode`` (the expensive part of ``check_password``) is counted instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.utils import timezone

from migrations_tools import lazy
from migrations_tools.models import UserMigration
from migrations_tools.passwords import check_local_password
from tests.conftest import UserPool
from tests.migrations_tools.test_trigger import auth, post

OLD = "Old-passw0rd"
WRONG = "Wrong-passw0rd"
SECRET = "test-trigger-secret"


class CountingHasher(PBKDF2PasswordHasher):
    algorithm = "counting_pbkdf2"
    iterations = 1000
    calls: ClassVar[list[str]] = []

    def encode(self, password: str, salt: str, iterations: int | None = None) -> str:
        type(self).calls.append("encode")
        return super().encode(password, salt, iterations)


@pytest.fixture
def counting(settings: Any) -> Iterator[list[str]]:
    settings.PASSWORD_HASHERS = ["tests.migrations_tools.test_equal_work.CountingHasher"]
    settings.COGNITO_MIGRATION = {**dict(settings.COGNITO_MIGRATION), "TRIGGER_SECRET": SECRET, "LAZY_MAX_FAILURES": 2}
    check_local_password(None, "warm-up")  # the dummy hash is made once per process (and hasher setting)
    CountingHasher.calls.clear()
    yield CountingHasher.calls
    CountingHasher.calls.clear()


def legacy(make_user: Any) -> None:
    make_user("erin", password=OLD)


def inactive(make_user: Any) -> None:
    make_user("erin", password=OLD, is_active=False)


def migrated(make_user: Any) -> None:
    user = make_user("erin", password=OLD)
    UserMigration.objects.create(user=user, state="done", password_migrated_at=timezone.now())


def no_usable_hash(make_user: Any) -> None:
    user = make_user("erin", password=OLD)
    user.set_unusable_password()
    user.save()


def unknown(make_user: Any) -> None:
    make_user("someone-else", password=OLD)


CASES: dict[str, Callable[[Any], None]] = {
    "unknown": unknown,
    "inactive": inactive,
    "migrated": migrated,
    "no-usable-hash": no_usable_hash,
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", [*CASES, "legacy-wrong-password", "over-the-failure-budget"])
def test_every_lazy_refusal_runs_the_hasher_once(counting: list[str], make_user: Any, case: str) -> None:
    if case in CASES:
        CASES[case](make_user)
    else:
        legacy(make_user)
    if case == "over-the-failure-budget":
        for _ in range(2):
            lazy.try_lazy_migration("erin", WRONG, client="10.0.0.9")
    counting.clear()

    assert lazy.try_lazy_migration("erin", WRONG, client="10.0.0.9") is None

    assert counting == ["encode"]


def trigger(client: Client, username: str, password: str) -> Any:
    """A signed user-migration trigger request, as Cognito sends it (test_trigger's helpers)."""
    return post(client, auth(username, password))


@pytest.mark.django_db
@pytest.mark.parametrize("case", [*CASES, "legacy-wrong-password"])
def test_every_trigger_refusal_runs_the_hasher_once(
    counting: list[str], make_user: Any, client: Client, case: str
) -> None:
    CASES.get(case, legacy)(make_user)
    counting.clear()

    response = trigger(client, "erin", WRONG)

    assert (response.status_code, response.json()) == (403, {"code": "not_authorized"})
    assert counting == ["encode"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["unknown", "legacy-wrong-password"])
def test_site_sign_in_refusals_run_the_hasher_once(
    migration_pool: UserPool, counting: list[str], make_user: Any, client: Client, case: str
) -> None:
    CASES.get(case, legacy)(make_user)
    counting.clear()

    response = client.post(
        "/api/auth/sign-in/", {"username": "erin", "password": WRONG}, content_type="application/json"
    )

    assert response.status_code == 401
    assert counting == ["encode"]
