"""The user admin on Cognito (moto): the link and the pool's live view, the filters, and the actions acting on the
pool, with injected faults (botocore ``before-send`` hooks) for what moto cannot do: refusing one user, throttling,
an outage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from accounts.admin_models import AdminActionResult, AdminActionRun
from cognito_backend.clients import get_client
from cognito_backend.models import CognitoIdentity
from tests.accounts.conftest import Faults, aws_error, bearer
from tests.conftest import CognitoFactory, CognitoUser, UserPool

User = get_user_model()
CHANGELIST = "/admin/auth/user/"


@pytest.fixture
def admin_client(settings: Any) -> Client:
    settings.ACCOUNTS = {**getattr(settings, "ACCOUNTS", {}), "ADMIN_COGNITO_RATE": 1000.0}
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


@pytest.fixture
def cognito_calls() -> Iterator[list[str]]:
    """Every Cognito operation the project's client sends during the test."""
    calls: list[str] = []
    client = get_client("cognito-idp")

    def count(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.cognito-idp", count)
    yield calls
    client.meta.events.unregister("before-call.cognito-idp", count)


def linked(cognito: CognitoFactory, pool: UserPool, username: str, **kwargs: Any) -> Any:
    """A pool user and its linked local user (as a first sign-in would link them)."""
    person = cognito.create_user(pool, username, sign_in=False, **kwargs)
    user = User.objects.create_user(username, f"{username}@example.com")
    CognitoIdentity.objects.create(user=user, sub=person.sub, pool_id=pool.pool_id, username=username)
    return user


def act(admin: Client, action: str, users: list[Any], **extra: Any) -> Any:
    data = {"action": action, "_selected_action": [u.pk for u in users], **extra}
    return admin.post(CHANGELIST, data, follow=True)


def texts(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def pool_user(pool: UserPool, username: str) -> dict[str, Any]:
    return dict(get_client("cognito-idp").admin_get_user(UserPoolId=pool.pool_id, Username=username))


def fail_for(faults: Faults, operation: str, username: str, code: str = "NotAuthorizedException") -> None:
    """``operation`` on ``username`` answered with ``code``; the other users' calls reach moto."""

    def fault(request: Any) -> Any:
        if f'"Username": "{username}"' in request.body.decode():
            return aws_error(400, code, "refused (injected)")
        return None

    faults.inject(operation, fault)


# --- the list and the change page ------------------------------------------------------------------------------


def test_change_list_shows_the_link_with_no_cognito_call_and_a_bounded_number_of_queries(
    admin_client: Client,
    cognito: CognitoFactory,
    user_pool: UserPool,
    cognito_calls: list[str],
    django_assert_max_num_queries: Any,
) -> None:
    from migrations_tools.models import UserMigration

    users = [linked(cognito, user_pool, f"user{i}") for i in range(3)]
    UserMigration.objects.create(user=users[0], state=UserMigration.State.DONE)
    admin_client.get(CHANGELIST)  # the session and content types are read once
    cognito_calls.clear()
    with django_assert_max_num_queries(12) as few:
        response = admin_client.get(CHANGELIST)
    for i in range(3, 25):
        User.objects.create_user(f"local{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        many = admin_client.get(CHANGELIST)
    assert cognito_calls == []
    assert response.status_code == many.status_code == 200
    page = response.content.decode()
    assert user_pool.pool_id in page
    assert CognitoIdentity.objects.get(user=users[1]).sub in page


def test_filters_linked_migration_state_and_cognito_group(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    from migrations_tools.models import UserMigration

    alice = linked(cognito, user_pool, "alice")
    User.objects.create_user("bob")
    UserMigration.objects.create(user=alice, state=UserMigration.State.DONE)
    editors = Group.objects.create(name="editors")
    alice.groups.add(editors)
    admin_client.post("/admin/auth/group/add/", {"name": "editors-mirror", "mirrored": "on"})
    # A group of the pool mirrored here; alice is a member.
    editors_mirror = Group.objects.get(name="editors-mirror")
    alice.groups.add(editors_mirror)

    def names(query: str) -> set[str]:
        result = admin_client.get(f"{CHANGELIST}?{query}").context["cl"].result_list
        return {u.username for u in result}

    assert names("cognito_linked=yes") == {"alice"}
    assert names("cognito_linked=no") == {"bob", "root"}
    assert names("cognito_migration=done") == {"alice"}
    assert names("cognito_migration=not_started") == {"bob", "root"}
    assert names("cognito_group=editors-mirror") == {"alice"}


def test_change_page_shows_the_pools_view_of_the_user_read_live(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    alice = linked(cognito, user_pool, "alice", groups=["staff", "editors"])
    get_client("cognito-idp").admin_disable_user(UserPoolId=user_pool.pool_id, Username="alice")
    page = admin_client.get(f"{CHANGELIST}{alice.pk}/change/").content.decode()
    assert "CONFIRMED" in page
    assert "<th>enabled</th><td>no</td>" in page
    assert "alice@example.com (verified: yes)" in page
    assert "editors, staff" in page or "staff, editors" in page
    assert "migration state" in page
    assert CognitoIdentity.objects.get(user=alice).sub in page


def test_change_page_answers_softly_when_cognito_is_down(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool, faults: Faults
) -> None:
    alice = linked(cognito, user_pool, "alice")
    faults.inject("AdminGetUser", "connection_refused")
    response = admin_client.get(f"{CHANGELIST}{alice.pk}/change/")
    assert response.status_code == 200
    assert any("could not be asked" in m for m in texts(response))
    assert CognitoIdentity.objects.get(user=alice).sub in response.content.decode()


def test_staff_without_permission_on_users_cause_no_cognito_call(
    cognito: CognitoFactory, user_pool: UserPool, cognito_calls: list[str]
) -> None:
    alice = linked(cognito, user_pool, "alice")
    clerk = Client()
    clerk.force_login(User.objects.create_user("clerk", is_staff=True))
    cognito_calls.clear()
    assert clerk.get(f"{CHANGELIST}{alice.pk}/change/").status_code == 403
    assert cognito_calls == []


def test_deleting_from_the_pool_needs_the_delete_permission(cognito: CognitoFactory, user_pool: UserPool) -> None:
    from django.contrib.auth.models import Permission

    alice = linked(cognito, user_pool, "alice")
    editor = User.objects.create_user("editor", is_staff=True)
    editor.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client = Client()
    client.force_login(editor)
    choices = client.get(CHANGELIST).context["action_form"].fields["action"].choices
    names = {name for name, _ in choices}
    assert "cognito_disable" in names and "cognito_delete" not in names
    act(client, "cognito_delete", [alice], confirmed="yes")
    assert pool_user(user_pool, "alice")["Username"] == "alice"


# --- actions ---------------------------------------------------------------------------------------------------


def test_disabled_user_is_refused_at_the_api_and_their_open_session_ends(
    admin_client: Client, api: APIClient, cognito_user: CognitoUser, django_capture_on_commit_callbacks: Any
) -> None:
    assert bearer(api, cognito_user.tokens.access_token).get("/api/auth/me/").status_code == 200
    alice = User.objects.get(username="alice")
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/admin/").wsgi_request.user == alice
    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "cognito_disable", [alice])
    assert any("done for 1 user" in m for m in texts(response))
    assert pool_user(UserPool(cognito_user.pool_id, "", ""), "alice")["Enabled"] is False
    alice.refresh_from_db()
    assert alice.is_active is False
    assert api.get("/api/auth/me/").status_code == 401
    assert not browser.get("/admin/").wsgi_request.user.is_authenticated  # alice's open session ended
    entry = LogEntry.objects.get(object_id=str(alice.pk))
    assert entry.user_id == User.objects.get(username="root").pk and "Disable" in entry.get_change_message()

    act(admin_client, "cognito_enable", [alice])
    alice.refresh_from_db()
    assert alice.is_active is True
    assert pool_user(UserPool(cognito_user.pool_id, "", ""), "alice")["Enabled"] is True


def test_a_refusal_changes_nothing_locally_and_the_other_users_go_on(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool, faults: Faults
) -> None:
    users = [linked(cognito, user_pool, name) for name in ("ann", "ben", "cid")]
    unlinked = User.objects.create_user("dan")
    fail_for(faults, "AdminDisableUser", "ben")
    response = act(admin_client, "cognito_disable", [*users, unlinked])
    messages = texts(response)
    assert any("done for 2 user(s)" in m for m in messages)
    assert any(m.startswith("ben: refused") and "not_authorized" in m for m in messages)
    assert any(m.startswith("dan: skipped") for m in messages)
    states = dict(User.objects.values_list("username", "is_active"))
    assert states == {"ann": False, "ben": True, "cid": False, "dan": True, "root": True}
    assert pool_user(user_pool, "ben")["Enabled"] is True
    assert LogEntry.objects.filter(user__username="root").count() == 4


def test_throttling_is_retried_with_backoff_and_the_action_goes_through(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool, faults: Faults
) -> None:
    alice = linked(cognito, user_pool, "alice")
    refusals = iter([True, True])

    def throttled_twice(request: Any) -> Any:
        if next(refusals, False):
            return aws_error(400, "TooManyRequestsException", "Rate exceeded (injected)")
        return None

    faults.inject("AdminResetUserPassword", throttled_twice)
    response = act(admin_client, "cognito_reset_password", [alice])
    assert any("done for 1 user" in m for m in texts(response))
    assert faults.calls.count("AdminResetUserPassword") == 3
    assert pool_user(user_pool, "alice")["UserStatus"] == "RESET_REQUIRED"


def test_throttling_that_does_not_stop_is_reported_and_changes_nothing(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool, faults: Faults, settings: Any
) -> None:
    settings.ACCOUNTS = {**settings.ACCOUNTS, "ADMIN_THROTTLE_RETRIES": 1}
    alice = linked(cognito, user_pool, "alice")
    faults.inject("AdminDisableUser", "throttled")
    response = act(admin_client, "cognito_disable", [alice])
    assert any(m.startswith("alice: failed") and "throttl" in m for m in texts(response))
    alice.refresh_from_db()
    assert alice.is_active is True
    assert faults.calls.count("AdminDisableUser") == 2


def test_reset_password_puts_the_user_in_reset_required(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    alice = linked(cognito, user_pool, "alice")
    act(admin_client, "cognito_reset_password", [alice])
    assert pool_user(user_pool, "alice")["UserStatus"] == "RESET_REQUIRED"


def test_group_add_and_remove_show_in_the_pool_here_and_in_the_next_tokens_mapping(
    admin_client: Client, api: APIClient, cognito: CognitoFactory, user_pool: UserPool, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "MANAGED_GROUPS": ["editors"]}
    cognito.create_user(user_pool, "alice", sign_in=False)
    get_client("cognito-idp").create_group(UserPoolId=user_pool.pool_id, GroupName="editors")
    first = cognito.sign_in(user_pool, "alice", "Str0ng-Passw0rd!")
    assert bearer(api, first.access_token).get("/api/auth/me/").status_code == 200
    alice = User.objects.get(username="alice")

    response = act(admin_client, "cognito_add_to_group", [alice], cognito_group="editors")
    assert any("done for 1 user" in m for m in texts(response))
    groups = get_client("cognito-idp").admin_list_groups_for_user(UserPoolId=user_pool.pool_id, Username="alice")
    assert [g["GroupName"] for g in groups["Groups"]] == ["editors"]
    assert list(alice.groups.values_list("name", flat=True)) == ["editors"]
    alice.groups.clear()  # the next token's mapping puts it back
    second = cognito.sign_in(user_pool, "alice", "Str0ng-Passw0rd!")
    assert bearer(api, second.id_token).get("/api/auth/me/").status_code == 200
    assert list(alice.groups.values_list("name", flat=True)) == ["editors"]

    act(admin_client, "cognito_remove_from_group", [alice], cognito_group="editors")
    groups = get_client("cognito-idp").admin_list_groups_for_user(UserPoolId=user_pool.pool_id, Username="alice")
    assert groups["Groups"] == []
    assert not alice.groups.exists()
    third = cognito.sign_in(user_pool, "alice", "Str0ng-Passw0rd!")
    assert bearer(api, third.id_token).get("/api/auth/me/").status_code == 200
    assert not alice.groups.exists()


def test_a_group_action_without_a_group_name_does_nothing(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool, cognito_calls: list[str]
) -> None:
    alice = linked(cognito, user_pool, "alice")
    cognito_calls.clear()
    response = act(admin_client, "cognito_add_to_group", [alice])
    assert any("Name the Cognito group" in m for m in texts(response))
    assert cognito_calls == []


def test_delete_from_the_pool_lists_what_goes_then_deletes_after_confirmation(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    alice = linked(cognito, user_pool, "alice")
    sub = CognitoIdentity.objects.get(user=alice).sub
    page = act(admin_client, "cognito_delete", [alice])
    assert "Delete from the Cognito pool?" in page.content.decode()
    assert sub in page.content.decode()
    assert pool_user(user_pool, "alice")["Username"] == "alice"  # nothing deleted yet

    response = act(admin_client, "cognito_delete", [alice], confirmed="yes")
    assert any("done for 1 user" in m for m in texts(response))
    with pytest.raises(get_client("cognito-idp").exceptions.UserNotFoundException):
        pool_user(user_pool, "alice")
    assert not CognitoIdentity.objects.filter(user=alice).exists()
    assert User.objects.filter(pk=alice.pk).exists()


def test_refresh_from_the_pool_copies_attributes_and_groups(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    alice = linked(cognito, user_pool, "alice", groups=["editors"], attributes={"given_name": "Alice"})
    stale = Group.objects.create(name="old-pool-group")
    admin_client.post(f"/admin/auth/group/{stale.pk}/change/", {"name": "old-pool-group", "mirrored": "on"})
    alice.groups.add(stale)
    get_client("cognito-idp").admin_update_user_attributes(
        UserPoolId=user_pool.pool_id, Username="alice", UserAttributes=[{"Name": "email", "Value": "new@example.com"}]
    )
    act(admin_client, "cognito_refresh", [alice])
    alice.refresh_from_db()
    assert (alice.email, alice.first_name) == ("new@example.com", "Alice")
    assert set(alice.groups.values_list("name", flat=True)) == {"editors"}


def test_resend_invitation_only_for_users_still_invited(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool, cognito_calls: list[str]
) -> None:
    confirmed = linked(cognito, user_pool, "alice")
    get_client("cognito-idp").admin_create_user(
        UserPoolId=user_pool.pool_id, Username="ivan", UserAttributes=[{"Name": "email", "Value": "i@example.com"}]
    )
    sub = next(a["Value"] for a in pool_user(user_pool, "ivan")["UserAttributes"] if a["Name"] == "sub")
    invited = User.objects.create_user("ivan")
    CognitoIdentity.objects.create(user=invited, sub=sub, pool_id=user_pool.pool_id, username="ivan")
    cognito_calls.clear()
    response = act(admin_client, "cognito_resend_invitation", [confirmed, invited])
    messages = texts(response)
    assert any(m.startswith("alice: skipped") and "CONFIRMED" in m for m in messages)
    assert any("done for 1 user" in m for m in messages)
    assert cognito_calls.count("AdminCreateUser") == 1


def test_migrate_now_creates_the_user_in_the_pool_and_links_them(admin_client: Client, user_pool: UserPool) -> None:
    local = User.objects.create_user("legacy", "legacy@example.com", "Old-Passw0rd!")
    response = act(admin_client, "cognito_migrate", [local])
    assert any("done for 1 user" in m for m in texts(response)), texts(response)
    link = CognitoIdentity.objects.get(user=local)
    assert pool_user(user_pool, link.username)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    again = act(admin_client, "cognito_migrate", [local])
    assert any(m.startswith("legacy: skipped") for m in texts(again))


def test_sign_out_everywhere_is_kept(
    admin_client: Client, api: APIClient, cognito_user: CognitoUser, django_capture_on_commit_callbacks: Any
) -> None:
    assert bearer(api, cognito_user.tokens.access_token).get("/api/auth/me/").status_code == 200
    alice = User.objects.get(username="alice")
    with django_capture_on_commit_callbacks(execute=False):
        response = act(admin_client, "sign_out_everywhere", [alice])
    assert api.get("/api/auth/me/").status_code == 401
    assert any("done for 1 user" in m for m in texts(response))
    assert LogEntry.objects.filter(object_id=str(alice.pk)).count() == 1


def test_the_pacer_keeps_to_the_rate_and_backs_off_longer_on_each_throttle() -> None:
    from accounts.admin_services import Pacer
    from cognito_backend import exceptions as exc
    from migrations_tools.ratelimit import Backoff, TokenBucket

    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pace = Pacer(
        retries=3,
        backoff=Backoff(base=0.2, cap=5.0, sleep=sleep),
        bucket=TokenBucket(5.0, clock=lambda: now[0], sleep=sleep),
    )
    for _ in range(11):
        pace(lambda: None)
    assert now[0] >= 2.0 - 1e-6  # 11 calls at 5 per second: the first at once, ten more over two seconds

    answers = iter([exc.Throttled(retry_after=1), exc.Throttled(retry_after=1), exc.Throttled(retry_after=1)])

    def throttled_three_times() -> str:
        error = next(answers, None)
        if error is not None:
            raise error
        return "through"

    waits.clear()
    assert pace(throttled_three_times) == "through"
    backoffs = [w for w in waits if w >= 0.1]
    assert len(backoffs) >= 3 and backoffs[0] <= 0.4 and max(backoffs) > 0.4

    def always_throttled() -> None:
        raise exc.Throttled(retry_after=1)

    with pytest.raises(exc.Throttled):
        pace(always_throttled)


# --- large selections: the Celery task ------------------------------------------------------------------------


def test_selection_above_the_threshold_runs_as_a_task_with_progress_and_per_user_outcomes(
    admin_client: Client,
    cognito: CognitoFactory,
    user_pool: UserPool,
    faults: Faults,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from accounts.admin_tasks import admin_bulk_action

    settings.ACCOUNTS = {**settings.ACCOUNTS, "ADMIN_BULK_THRESHOLD": 10}
    idp = get_client("cognito-idp")
    users = []
    for i in range(24):
        name = f"u{i:03d}"
        idp.admin_create_user(UserPoolId=user_pool.pool_id, Username=name, MessageAction="SUPPRESS")
        users.append(User(username=name))
    User.objects.bulk_create(users)
    users = list(User.objects.filter(username__startswith="u").order_by("pk"))
    CognitoIdentity.objects.bulk_create(
        CognitoIdentity(user=u, sub=f"sub-{u.username}", pool_id=user_pool.pool_id, username=u.username) for u in users
    )
    failing = {"u007", "u023"}

    def refuse_some(request: Any) -> Any:
        body = request.body.decode()
        if any(f'"Username": "{name}"' in body for name in failing):
            return aws_error(400, "NotAuthorizedException", "refused (injected)")
        return None

    faults.inject("AdminDisableUser", refuse_some)
    sent: list[Any] = []
    with pytest.MonkeyPatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
        patch.setattr(admin_bulk_action, "delay", lambda run_id: sent.append(run_id))
        response = admin_client.post(
            CHANGELIST, {"action": "cognito_disable", "_selected_action": [u.pk for u in users]}
        )
    run = AdminActionRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/adminactionrun/{run.pk}/change/")
    assert sent == [str(run.pk)]  # queued once the request committed; nothing acted on yet
    assert User.objects.filter(username__startswith="u", is_active=False).count() == 0
    assert (run.total, run.status, run.actor.username) == (24, "queued", "root")  # type: ignore[union-attr]
    assert admin_bulk_action.acks_late is True

    assert admin_bulk_action.apply(args=[str(run.pk)]).get() == "done"
    outcomes = dict(AdminActionResult.objects.filter(run=run).values_list("username", "outcome"))
    assert len(outcomes) == 24
    assert {name for name, outcome in outcomes.items() if outcome == "refused"} == failing
    assert sum(outcome == "done" for outcome in outcomes.values()) == 22
    assert User.objects.filter(username__in=failing, is_active=True).count() == 2
    assert User.objects.filter(username__startswith="u", is_active=False).count() == 22
    assert LogEntry.objects.filter(user__username="root").count() == 24
    page = admin_client.get(response["Location"]).content.decode()
    assert "24 of 24 users (22 done, 2 refused)" in page

    # Delivered again (acks_late after a lost worker): nothing is done twice. (200 users on a real worker:
    # test_admin_users_worker.py.)
    calls = len(faults.calls)
    run.status = AdminActionRun.Status.RUNNING
    run.save()
    assert admin_bulk_action.apply(args=[str(run.pk)]).get() == "done"
    assert len(faults.calls) == calls
    assert AdminActionResult.objects.filter(run=run).count() == 24
