"""Lazy password migration against the moto pool: the old password works once, and only if it is right."""

from __future__ import annotations

import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from cognito_backend import exceptions as exc
from cognito_backend import idp, idp_admin
from cognito_backend.models import CognitoIdentity
from migrations_tools import lazy
from migrations_tools.models import UserMigration
from tests.conftest import CognitoFactory, UserPool

pytestmark = pytest.mark.django_db(transaction=True)

OLD = "Old-passw0rd"


def sign_in(username: str, password: str, *, client: str = "10.0.0.1") -> dict[str, Any]:
    """What a sign-in service does (accounts.services.sign_in): Cognito first, the lazy migration on a refusal."""
    try:
        return idp.initiate_auth(username, password)
    except (exc.NotAuthorized, exc.UserNotFound) as error:
        answer = lazy.try_lazy_migration(username, password, client=client)
        if answer is None:
            raise exc.NotAuthorized() from error
        return answer


def status(pool: UserPool, username: str) -> str:
    record = idp_admin.admin_get_user(username, pool_id=pool.pool_id)
    assert record is not None
    return str(record["UserStatus"])


@pytest.fixture
def bulk_migrated(migration_pool: UserPool, make_user: Any, tmp_path: Path) -> Any:
    """A local user with a Django hash, created in the pool by the bulk run (no usable Cognito password)."""
    user = make_user("erin", password=OLD)
    call_command("cognito_migrate_users", "--report", str(tmp_path / "r.csv"), stdout=StringIO())
    assert status(migration_pool, "erin") == "FORCE_CHANGE_PASSWORD"
    return user


def test_right_old_password_moves_it_to_cognito_and_signs_in(migration_pool: UserPool, bulk_migrated: Any) -> None:
    answer = sign_in("erin", OLD)

    assert answer["AuthenticationResult"]["AccessToken"]
    assert status(migration_pool, "erin") == "CONFIRMED"
    assert UserMigration.objects.get(user=bulk_migrated).password_migrated_at is not None
    # Cognito alone accepts the password now.
    assert idp.initiate_auth("erin", OLD)["AuthenticationResult"]["IdToken"]


def test_wrong_password_is_refused_as_before_and_nothing_changes(migration_pool: UserPool, bulk_migrated: Any) -> None:
    with pytest.raises(exc.NotAuthorized):
        sign_in("erin", "Wrong-passw0rd")

    assert status(migration_pool, "erin") == "FORCE_CHANGE_PASSWORD"
    assert UserMigration.objects.get(user=bulk_migrated).password_migrated_at is None


def test_user_not_in_the_pool_yet_is_created_linked_and_signed_in(migration_pool: UserPool, make_user: Any) -> None:
    frank = make_user("frank", password=OLD, groups=("users",))

    answer = sign_in("frank", OLD)

    assert answer["AuthenticationResult"]["AccessToken"]
    assert status(migration_pool, "frank") == "CONFIRMED"
    sub = idp_admin.attributes_to_dict(idp_admin.admin_get_user("frank")["UserAttributes"])["sub"]  # type: ignore[index]
    assert CognitoIdentity.objects.get(user=frank).sub == sub
    assert sorted(idp_admin.admin_list_groups_for_user("frank")) == ["django-migrated", "users"]
    state = UserMigration.objects.get(user=frank)
    assert state.state == "done" and state.password_migrated_at is not None


def test_unknown_user_not_in_the_pool_is_refused(migration_pool: UserPool) -> None:
    with pytest.raises(exc.NotAuthorized):
        sign_in("nobody", OLD)


def test_local_hash_is_never_used_again_after_the_migration(migration_pool: UserPool, bulk_migrated: Any) -> None:
    sign_in("erin", OLD)
    idp_admin.admin_set_user_password("erin", "New-passw0rd", permanent=True)

    with pytest.raises(exc.NotAuthorized):
        sign_in("erin", OLD)

    assert sign_in("erin", "New-passw0rd")["AuthenticationResult"]["AccessToken"]


def test_password_set_in_cognito_another_way_is_not_overwritten_by_the_old_one(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any
) -> None:
    # The user reset their password in Cognito (CONFIRMED) before ever signing in here: the old hash must not win.
    make_user("gina", password=OLD)
    cognito.create_user(migration_pool, "gina", "Reset-passw0rd", email="gina@example.com", sign_in=False)

    with pytest.raises(exc.NotAuthorized):
        sign_in("gina", OLD)

    assert sign_in("gina", "Reset-passw0rd")["AuthenticationResult"]["AccessToken"]


def test_repeated_wrong_passwords_stop_the_local_check(
    migration_pool: UserPool, bulk_migrated: Any, settings: Any
) -> None:
    settings.COGNITO_MIGRATION = {**settings.COGNITO_MIGRATION, "LAZY_MAX_FAILURES": 3}
    for _ in range(3):
        with pytest.raises(exc.NotAuthorized):
            sign_in("erin", "Wrong-passw0rd")

    with pytest.raises(exc.NotAuthorized):
        sign_in("erin", OLD)

    assert status(migration_pool, "erin") == "FORCE_CHANGE_PASSWORD"


def test_wrong_passwords_from_another_address_do_not_lock_the_real_user_out(
    migration_pool: UserPool, bulk_migrated: Any, settings: Any
) -> None:
    settings.COGNITO_MIGRATION = {**settings.COGNITO_MIGRATION, "LAZY_MAX_FAILURES": 3}
    for _ in range(3):
        with pytest.raises(exc.NotAuthorized):
            sign_in("erin", "Wrong-passw0rd", client="203.0.113.66")
    with pytest.raises(exc.NotAuthorized):
        sign_in("erin", OLD, client="203.0.113.66")  # that address is done for the window

    assert sign_in("erin", OLD, client="198.51.100.7")["AuthenticationResult"]["AccessToken"]


def test_the_username_and_the_email_share_one_failure_budget(
    migration_pool: UserPool, bulk_migrated: Any, settings: Any
) -> None:
    settings.COGNITO_MIGRATION = {**settings.COGNITO_MIGRATION, "LAZY_MAX_FAILURES": 3}
    for typed in ("erin", "erin@example.com", "ERIN@example.com"):
        with pytest.raises(exc.NotAuthorized):
            sign_in(typed, "Wrong-passw0rd")

    with pytest.raises(exc.NotAuthorized):
        sign_in("erin@example.com", OLD)
    assert status(migration_pool, "erin") == "FORCE_CHANGE_PASSWORD"


def test_failures_from_many_addresses_stop_at_the_per_user_ceiling(
    migration_pool: UserPool, bulk_migrated: Any, settings: Any
) -> None:
    settings.COGNITO_MIGRATION = {
        **settings.COGNITO_MIGRATION,
        "LAZY_MAX_FAILURES": 2,
        "LAZY_MAX_FAILURES_PER_USER": 4,
    }
    for i in range(4):
        with pytest.raises(exc.NotAuthorized):
            sign_in("erin", "Wrong-passw0rd", client=f"192.0.2.{i}")

    with pytest.raises(exc.NotAuthorized):
        sign_in("erin", OLD, client="198.51.100.7")
    assert status(migration_pool, "erin") == "FORCE_CHANGE_PASSWORD"


def test_old_password_the_pool_policy_refuses_raises_invalid_password(migration_pool: UserPool, make_user: Any) -> None:
    make_user("hank", password="alllowercase")

    with pytest.raises(exc.InvalidPassword):
        sign_in("hank", "alllowercase")


def test_the_password_never_reaches_the_logs(
    migration_pool: UserPool, bulk_migrated: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    sign_in("erin", OLD)
    with pytest.raises(exc.NotAuthorized):
        sign_in("erin", "Wrong-passw0rd")

    assert OLD not in caplog.text
    assert "Wrong-passw0rd" not in caplog.text


def test_clear_command_retires_hashes_of_migrated_users_only(
    migration_pool: UserPool, bulk_migrated: Any, make_user: Any, django_user_model: Any
) -> None:
    waiting = make_user("ivan", password=OLD)
    call_command("cognito_migrate_users", "--report", "/dev/null", stdout=StringIO())
    sign_in("erin", OLD)
    out = StringIO()

    call_command("cognito_clear_password_hashes", stdout=out)

    assert "Cleared 1 local password hashes." in out.getvalue()
    assert not django_user_model.objects.get(pk=bulk_migrated.pk).has_usable_password()
    assert django_user_model.objects.get(pk=waiting.pk).check_password(OLD)
    assert UserMigration.objects.get(user=bulk_migrated).hash_cleared_at is not None


# --- through the site's sign-in (accounts.services.sign_in, POST /api/auth/sign-in/) -------------------------------


def test_site_sign_in_with_the_old_password_migrates_it_and_answers_tokens(
    migration_pool: UserPool, bulk_migrated: Any, client: Any
) -> None:
    response = client.post("/api/auth/sign-in/", {"username": "erin", "password": OLD}, content_type="application/json")

    assert response.status_code == 200, response.content
    assert "access_token" in response.content.decode()
    assert status(migration_pool, "erin") == "CONFIRMED"
    assert UserMigration.objects.get(user=bulk_migrated).password_migrated_at is not None


def test_site_sign_in_with_a_wrong_password_is_refused_with_401_as_before(
    migration_pool: UserPool, bulk_migrated: Any, client: Any
) -> None:
    response = client.post(
        "/api/auth/sign-in/", {"username": "erin", "password": "Wrong-passw0rd"}, content_type="application/json"
    )

    assert response.status_code == 401
    assert status(migration_pool, "erin") == "FORCE_CHANGE_PASSWORD"


def test_site_sign_in_failures_from_one_address_do_not_lock_out_another(
    migration_pool: UserPool, bulk_migrated: Any, client: Any, settings: Any
) -> None:
    settings.COGNITO_MIGRATION = {**settings.COGNITO_MIGRATION, "LAZY_MAX_FAILURES": 3}
    wrong = {"username": "erin", "password": "Wrong-passw0rd"}
    for _ in range(3):
        response = client.post("/api/auth/sign-in/", wrong, content_type="application/json", REMOTE_ADDR="203.0.113.66")
        assert response.status_code == 401
    right = {"username": "erin", "password": OLD}

    blocked = client.post("/api/auth/sign-in/", right, content_type="application/json", REMOTE_ADDR="203.0.113.66")
    response = client.post("/api/auth/sign-in/", right, content_type="application/json", REMOTE_ADDR="198.51.100.7")

    assert blocked.status_code == 401
    assert response.status_code == 200, response.content
    assert status(migration_pool, "erin") == "CONFIRMED"
