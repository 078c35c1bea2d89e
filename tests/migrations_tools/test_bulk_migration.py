"""``cognito_migrate_users`` against the moto user pool, on the test database (SQLite and PostgreSQL).

The command runs worker threads with their own database connections, so these tests use committed data
(``transaction=True``).
"""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from cognito_backend import idp_admin
from cognito_backend.models import CognitoIdentity
from migrations_tools.models import MigrationRun, UserMigration
from tests.conftest import CognitoFactory, UserPool
from tests.migrations_tools.conftest import pool_usernames

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(tmp_path: Path, *args: str) -> tuple[str, Path]:
    report = tmp_path / "report.csv"
    out = StringIO()
    call_command("cognito_migrate_users", "--report", str(report), *args, stdout=out)
    return out.getvalue(), report


def report_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as handle:
        return {row["username"]: row for row in csv.DictReader(handle)}


def attributes(pool: UserPool, username: str) -> dict[str, str]:
    user = idp_admin.admin_get_user(username, pool_id=pool.pool_id)
    assert user is not None, f"{username} is not in the pool"
    return idp_admin.attributes_to_dict(user["UserAttributes"])


def test_dry_run_reports_what_would_happen_and_changes_nothing(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any, tmp_path: Path
) -> None:
    make_user("newcomer")
    make_user("existing")
    make_user("bad-email", email="not-an-email")
    cognito.create_user(migration_pool, "existing", email="existing@example.com", sign_in=False)

    output, report = migrate(tmp_path, "--dry-run")

    assert "would create: 1, would link: 1, skipped: 1, failed: 0" in output
    assert report_rows(report)["bad-email"]["code"] == "invalid_email"
    assert sorted(pool_usernames(migration_pool)) == ["existing"]
    assert not UserMigration.objects.exists()
    assert not MigrationRun.objects.exists()
    assert not CognitoIdentity.objects.exists()


def test_full_run_creates_users_with_mapped_attributes_groups_and_links(
    migration_pool: UserPool, make_user: Any, tmp_path: Path
) -> None:
    alice = make_user(
        "alice",
        first_name="Alice",
        last_name="Liddell",
        phone="(201) 555-0123",
        telnum="+44 20 7946 0958",
        groups=("staff", "users"),
    )
    bob = make_user("bob", email="Bob@Example.com")

    output, report = migrate(tmp_path)

    assert "created: 2, linked: 0, skipped: 0, failed: 0" in output
    attrs = attributes(migration_pool, "alice")
    assert attrs["email"] == "alice@example.com"
    assert attrs["email_verified"] == "true"
    assert attrs["given_name"] == "Alice"
    assert attrs["family_name"] == "Liddell"
    assert attrs["phone_number"] == "+12015550123"
    assert attrs["custom:telnum"] == "+442079460958"
    groups = idp_admin.admin_list_groups_for_user("alice", pool_id=migration_pool.pool_id)
    assert sorted(groups) == ["django-migrated", "staff", "users"]
    record = idp_admin.admin_get_user("bob", pool_id=migration_pool.pool_id)
    assert record is not None and record["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    for user in (alice, bob):
        identity = CognitoIdentity.objects.get(user=user)
        assert identity.sub == attributes(migration_pool, user.username)["sub"]
        assert identity.pool_id == migration_pool.pool_id
        state = UserMigration.objects.get(user=user)
        assert (state.state, state.outcome, state.sub) == ("done", "created", identity.sub)
    assert report_rows(report) == {}


def test_second_run_creates_nobody_twice(migration_pool: UserPool, make_user: Any, tmp_path: Path) -> None:
    for i in range(5):
        make_user(f"user{i}")
    migrate(tmp_path)

    output, _ = migrate(tmp_path)

    assert "created: 0, linked: 0, skipped: 0, failed: 0, already done: 5" in output
    assert sorted(pool_usernames(migration_pool)) == [f"user{i}" for i in range(5)]


def test_user_already_in_the_pool_is_linked_not_duplicated(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any, tmp_path: Path
) -> None:
    carol = make_user("carol")
    existing = cognito.create_user(migration_pool, "carol", email="carol@example.com", sign_in=False)

    output, _ = migrate(tmp_path)

    assert "created: 0, linked: 1" in output
    assert pool_usernames(migration_pool) == ["carol"]
    assert CognitoIdentity.objects.get(user=carol).sub == existing.sub
    assert UserMigration.objects.get(user=carol).outcome == "linked"


def test_existing_cognito_user_with_another_email_is_not_linked(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any, tmp_path: Path
) -> None:
    dave = make_user("dave")
    cognito.create_user(migration_pool, "dave", email="someone-else@example.com", sign_in=False)

    output, report = migrate(tmp_path)

    assert "failed: 1" in output
    assert report_rows(report)["dave"]["code"] == "username_taken"
    assert not CognitoIdentity.objects.filter(user=dave).exists()
    state = UserMigration.objects.get(user=dave)
    assert (state.state, state.error_code) == ("failed", "username_taken")


@pytest.mark.parametrize(
    ("username", "fields", "code"),
    [
        ("bad-email", {"email": "no-at-sign"}, "invalid_email"),
        ("bad-phone", {"phone": "12"}, "invalid_phone"),
        ("bad-phone-letters", {"phone": "call me maybe"}, "invalid_phone"),
        ("bad telnum", {}, "invalid_username"),
        ("asleep", {"is_active": False}, "inactive"),
        ("dup-second", {"email": "dup@example.com"}, "duplicate_email"),
    ],
)
def test_bad_rows_are_reported_and_left_untouched_while_the_rest_migrates(
    migration_pool: UserPool, make_user: Any, tmp_path: Path, username: str, fields: dict[str, Any], code: str
) -> None:
    make_user("dup-first", email="DUP@example.com")
    bad = make_user(username, **fields)
    make_user("good")

    output, report = migrate(tmp_path)

    assert "skipped: 1, failed: 0" in output
    assert report_rows(report)[username]["code"] == code
    assert username not in pool_usernames(migration_pool)
    assert sorted(pool_usernames(migration_pool)) == ["dup-first", "good"]
    state = UserMigration.objects.get(user=bad)
    assert (state.state, state.error_code) == ("skipped", code)
    assert not CognitoIdentity.objects.filter(user=bad).exists()


def test_username_cognito_refuses_is_recorded_as_failed_with_its_code(
    migration_pool: UserPool, cognito: CognitoFactory, settings: Any, make_user: Any, tmp_path: Path
) -> None:
    # A pool that signs in by email refuses a plain username (InvalidParameterException); the run goes on.
    email_pool = cognito.create_pool_with_client(name="by-email", AliasAttributes=[], UsernameAttributes=["email"])
    settings.COGNITO = email_pool.settings()
    frank = make_user("frank")

    output, report = migrate(tmp_path)

    assert "created: 0, linked: 0, skipped: 0, failed: 1" in output
    assert report_rows(report)["frank"]["code"] == "invalid_parameter"
    state = UserMigration.objects.get(user=frank)
    assert (state.state, state.error_code, state.attempts) == ("failed", "invalid_parameter", 1)


def test_username_longer_than_cognito_allows_is_skipped_before_any_call(
    migration_pool: UserPool, make_user: Any, tmp_path: Path
) -> None:
    too_long = "x" * 129
    make_user(too_long)

    _, report = migrate(tmp_path)

    assert report_rows(report)[too_long]["code"] == "invalid_username"
    assert UserMigration.objects.get().attempts == 0


def test_inactive_users_are_migrated_disabled_with_include_inactive(
    migration_pool: UserPool, make_user: Any, tmp_path: Path
) -> None:
    make_user("sleeper", is_active=False)

    migrate(tmp_path, "--include-inactive")

    record = idp_admin.admin_get_user("sleeper", pool_id=migration_pool.pool_id)
    assert record is not None and record["Enabled"] is False


def test_throttling_is_retried_with_backoff_until_every_user_is_created(
    migration_pool: UserPool, make_user: Any, tmp_path: Path, throttle: Any
) -> None:
    # Fault injected: AdminCreateUser answered TooManyRequestsException via a before-send hook on the seam's client.
    for i in range(6):
        make_user(f"user{i}")
    fault = throttle("AdminCreateUser", 8)

    output, _ = migrate(tmp_path, "--workers", "3")

    assert fault.injected == 8
    assert "created: 6, linked: 0, skipped: 0, failed: 0" in output
    assert sorted(pool_usernames(migration_pool)) == [f"user{i}" for i in range(6)]
    assert MigrationRun.objects.get().counts["throttled"] >= 1


def test_selection_by_id_range_active_and_since(migration_pool: UserPool, make_user: Any, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    users = [make_user(f"user{i}") for i in range(6)]
    users[5].is_active = False
    users[5].save()
    type(users[0]).objects.filter(pk=users[0].pk).update(date_joined=datetime(2020, 1, 1, tzinfo=UTC))

    migrate(tmp_path, "--from-id", str(users[1].pk), "--to-id", str(users[2].pk))
    assert sorted(pool_usernames(migration_pool)) == ["user1", "user2"]

    migrate(tmp_path, "--since", "2021-01-01", "--active-only")
    assert sorted(pool_usernames(migration_pool)) == ["user1", "user2", "user3", "user4"]


def test_selection_by_usernames_file_reports_unknown_names(
    migration_pool: UserPool, make_user: Any, tmp_path: Path
) -> None:
    for name in ("ann", "ben", "cat"):
        make_user(name)
    names = tmp_path / "names.txt"
    names.write_text("ann\n# a comment\ncat\nnobody\n")

    _, report = migrate(tmp_path, "--usernames-file", str(names))

    assert sorted(pool_usernames(migration_pool)) == ["ann", "cat"]
    assert report_rows(report)["nobody"]["code"] == "not_found"


def test_json_report_lists_skipped_and_failed_users_with_reasons(
    migration_pool: UserPool, make_user: Any, tmp_path: Path
) -> None:
    make_user("fine")
    make_user("broken", email="broken@")
    report = tmp_path / "report.json"

    call_command("cognito_migrate_users", "--report", str(report), stdout=StringIO())

    rows = json.loads(report.read_text())
    assert [(r["username"], r["outcome"], r["code"]) for r in rows] == [("broken", "skipped", "invalid_email")]


def test_status_shows_users_by_state_and_reasons(migration_pool: UserPool, make_user: Any, tmp_path: Path) -> None:
    make_user("one")
    make_user("two", email="two@")
    make_user("three")
    migrate(tmp_path, "--to-id", str(make_user("four").pk - 1))
    out = StringIO()

    call_command("cognito_migration_status", "--json", stdout=out)

    status = json.loads(out.getvalue())
    assert status["users"]["done"] == 2
    assert status["users"]["skipped"] == 1
    assert status["users"]["not_started"] == 1
    assert status["reasons"] == [{"state": "skipped", "code": "invalid_email", "users": 1}]
    assert status["runs"][0]["status"] == "finished"


def test_plain_progress_lines_when_not_a_terminal(migration_pool: UserPool, make_user: Any, tmp_path: Path) -> None:
    for i in range(3):
        make_user(f"user{i}")

    output, _ = migrate(tmp_path, "--progress-interval", "0")

    assert "progress: " in output
    assert "\r" not in output


def test_a_failing_report_stops_the_run_with_the_error_instead_of_hanging(
    migration_pool: UserPool, make_user: Any
) -> None:
    from migrations_tools.services import Migrator, RunOptions

    for i in range(20):
        make_user(f"user{i}")

    def broken_report(result: Any, counts: Any) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        Migrator(RunOptions(workers=2), on_result=broken_report).run()

    assert MigrationRun.objects.get().status == "interrupted"


def test_lookup_first_asks_the_pool_before_creating_and_links_without_a_create_call(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any, tmp_path: Path
) -> None:
    from cognito_backend.clients import get_client

    olga = make_user("olga")
    make_user("pete")
    existing = cognito.create_user(migration_pool, "olga", email="olga@example.com", sign_in=False)
    creates: list[str] = []

    def count_create(params: dict[str, Any], **kwargs: Any) -> None:
        creates.append(params["Username"])

    get_client("cognito-idp").meta.events.register("provide-client-params.cognito-idp.AdminCreateUser", count_create)

    output, _ = migrate(tmp_path, "--lookup-first")

    assert "created: 1, linked: 1" in output
    assert creates == ["pete"]
    assert CognitoIdentity.objects.get(user=olga).sub == existing.sub
    found = idp_admin.find_user_by_username("olga", pool_id=migration_pool.pool_id)
    assert found is not None and idp_admin.attributes_to_dict(found["Attributes"])["sub"] == existing.sub
    assert idp_admin.find_user_by_username("nobody", pool_id=migration_pool.pool_id) is None
