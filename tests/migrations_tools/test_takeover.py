"""Who may take over a legacy account: a pool user is linked to (and given the password of) a local user only if
the pool verified the same email or the bulk run created it (its ``MARKER_GROUP``); anything else is reported
``username_taken`` and left alone, by the bulk run, the lazy migration and the trigger alike.

moto accepts any confirmation code, so "the attacker confirmed the sign-up" is produced with AdminConfirmSignUp
on a user whose ``email_verified`` is false: what a pool that confirms by phone, or a site that auto-confirms
sign-ups, would hold.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from cognito_backend import exceptions as exc
from cognito_backend import idp, idp_admin
from cognito_backend.models import CognitoIdentity
from migrations_tools import lazy
from migrations_tools.models import UserMigration
from tests.conftest import CognitoFactory, UserPool
from tests.migrations_tools.test_trigger import auth, post

pytestmark = pytest.mark.django_db(transaction=True)

OLD = "Old-passw0rd"
ATTACKER = "Attacker-passw0rd1"


def migrate(tmp_path: Path) -> str:
    out = StringIO()
    call_command("cognito_migrate_users", "--report", str(tmp_path / "r.csv"), stdout=out)
    return out.getvalue()


def sign_up_as(pool: UserPool, username: str, email: str, *, confirmed: bool) -> str:
    """The attacker's own sign-up with someone else's username and email; returns its sub."""
    from cognito_backend.clients import get_client

    client = get_client("cognito-idp")
    answer = client.sign_up(
        ClientId=pool.client_id,
        Username=username,
        Password=ATTACKER,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    if confirmed:
        client.admin_confirm_sign_up(UserPoolId=pool.pool_id, Username=username)
        client.admin_update_user_attributes(
            UserPoolId=pool.pool_id,
            Username=username,
            UserAttributes=[{"Name": "email_verified", "Value": "false"}],
        )
    return str(answer["UserSub"])


def record(pool: UserPool, username: str) -> dict[str, Any] | None:
    return idp_admin.admin_get_user(username, pool_id=pool.pool_id)


@pytest.mark.parametrize("confirmed", [False, True], ids=["unconfirmed", "confirmed-unverified"])
def test_bulk_run_does_not_link_a_sign_up_with_the_victims_username_and_email(
    migration_pool: UserPool, make_user: Any, tmp_path: Path, confirmed: bool
) -> None:
    victim = make_user("victim", email="victim@example.com", password=OLD, is_staff=True)
    attacker_sub = sign_up_as(migration_pool, "victim", "Victim@Example.com", confirmed=confirmed)

    output = migrate(tmp_path)

    assert "created: 0, linked: 0, skipped: 0, failed: 1" in output
    assert "1 users are username_taken" in output
    state = UserMigration.objects.get(user=victim)
    assert (state.state, state.error_code) == ("failed", "username_taken")
    assert not CognitoIdentity.objects.filter(user=victim).exists()
    assert not CognitoIdentity.objects.filter(sub=attacker_sub).exists()
    # Both left alone: the attacker's pool user is not marked, the victim's local password still works.
    assert idp_admin.admin_list_groups_for_user("victim", pool_id=migration_pool.pool_id) == []
    victim.refresh_from_db()
    assert victim.check_password(OLD)


def test_pool_user_with_the_same_verified_email_is_linked(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any, tmp_path: Path
) -> None:
    carol = make_user("carol", email="Carol@Example.com")
    existing = cognito.create_user(migration_pool, "carol", email="carol@example.COM", sign_in=False)

    assert "linked: 1" in migrate(tmp_path)

    assert CognitoIdentity.objects.get(user=carol).sub == existing.sub


def test_pool_user_carrying_the_migration_mark_is_linked_whatever_its_email(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any, tmp_path: Path
) -> None:
    # Created by an earlier run of this migration (marked), the local email changed since.
    dora = make_user("dora", email="dora-new@example.com")
    existing = cognito.create_user(
        migration_pool,
        "dora",
        email="dora-old@example.com",
        email_verified=False,
        groups=["django-migrated"],
        sign_in=False,
    )

    assert "linked: 1" in migrate(tmp_path)

    assert CognitoIdentity.objects.get(user=dora).sub == existing.sub


def test_users_the_bulk_run_creates_carry_the_mark(migration_pool: UserPool, make_user: Any, tmp_path: Path) -> None:
    make_user("eve")

    migrate(tmp_path)

    assert idp_admin.admin_list_groups_for_user("eve", pool_id=migration_pool.pool_id) == ["django-migrated"]


# --- the lazy path ------------------------------------------------------------------------------------------------


def test_lazy_sign_in_does_not_give_the_old_password_to_a_pool_user_that_is_not_ours(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any
) -> None:
    # Someone created "victim" in the pool (FORCE_CHANGE_PASSWORD, unverified email, no mark): not this migration's.
    victim = make_user("victim", email="victim@example.com", password=OLD)
    idp_admin.admin_create_user(
        "victim", {"email": "victim@example.com"}, temporary_password="Temp-passw0rd1!", pool_id=migration_pool.pool_id
    )

    assert lazy.try_lazy_migration("victim", OLD, client="10.0.0.1") is None

    assert record(migration_pool, "victim")["UserStatus"] == "FORCE_CHANGE_PASSWORD"  # type: ignore[index]
    assert not CognitoIdentity.objects.filter(user=victim).exists()
    assert UserMigration.objects.get(user=victim).error_code == "username_taken"


def test_lazy_sign_in_of_a_user_an_admin_reset_in_cognito_does_not_set_the_old_password(
    migration_pool: UserPool, cognito: CognitoFactory, make_user: Any, tmp_path: Path
) -> None:
    make_user("rita", password=OLD)
    cognito.create_user(migration_pool, "rita", "Cognito-passw0rd", sign_in=False)
    migrate(tmp_path)  # linked (same verified email)
    idp.call("admin_reset_user_password", UserPoolId=migration_pool.pool_id, Username="rita")

    assert lazy.try_lazy_migration("rita", OLD, client="10.0.0.1") is None

    assert record(migration_pool, "rita")["UserStatus"] == "RESET_REQUIRED"  # type: ignore[index]
    with pytest.raises(exc.CognitoError):
        idp.initiate_auth("rita", OLD)


def test_lazy_sign_in_does_not_recreate_a_user_deleted_in_the_pool(
    migration_pool: UserPool, make_user: Any, tmp_path: Path
) -> None:
    make_user("dan", password=OLD)
    migrate(tmp_path)
    idp.call("admin_delete_user", UserPoolId=migration_pool.pool_id, Username="dan")

    assert lazy.try_lazy_migration("dan", OLD, client="10.0.0.1") is None

    assert record(migration_pool, "dan") is None


# --- the trigger ----------------------------------------------------------------------------------------------------


def trigger_post(client: Client, username: str, password: str) -> Any:
    """A signed user-migration trigger request, as Cognito sends it (test_trigger's helpers)."""
    return post(client, auth(username, password))


def test_trigger_does_not_recreate_a_user_the_migration_had_created_and_the_pool_deleted(
    migration_pool: UserPool, make_user: Any, tmp_path: Path, client: Client
) -> None:
    # The trigger runs only for usernames the pool does not know: a migrated user it is asked about was deleted.
    make_user("tess", password=OLD)
    migrate(tmp_path)
    idp.call("admin_delete_user", UserPoolId=migration_pool.pool_id, Username="tess")

    response = trigger_post(client, "tess", OLD)

    assert (response.status_code, response.json()) == (403, {"code": "not_authorized"})
