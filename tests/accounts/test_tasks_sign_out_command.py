"""``cognito_sign_out_users``: a whole group or every user signed out everywhere, paced, resumable, reported."""

from __future__ import annotations

import io
import itertools
import re
import time
from typing import Any

from django.core.management import call_command

from accounts.models import GlobalSignOut
from cognito_backend import exceptions as exc
from cognito_backend.idp import call
from tests.conftest import CognitoFactory, CognitoUser, UserPool


def accepted(user: CognitoUser) -> bool:
    try:
        call("get_user", AccessToken=user.tokens.access_token)
    except exc.NotAuthorized:
        return False
    return True


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("cognito_sign_out_users", *args, "--no-progress", stdout=out)
    return out.getvalue()


def test_a_group_is_signed_out_at_the_rate_and_the_rest_stay_signed_in(
    cognito: CognitoFactory, user_pool: UserPool, django_capture_on_commit_callbacks: Any
) -> None:
    staff = [cognito.create_user(user_pool, f"staff{i}", groups=["staff"]) for i in range(5)]
    other = cognito.create_user(user_pool, "other")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=False):
        output = run_command("--group", "staff", "--rate", "4")
    elapsed = time.monotonic() - started
    assert elapsed >= 4 / 4  # five calls 0.25 s apart at least
    assert not any(accepted(user) for user in staff)
    assert accepted(other)
    assert GlobalSignOut.objects.filter(status="done").count() == 5
    assert "5 signed out, 0 failed" in output


def test_a_run_resumes_skipping_the_users_already_done(
    cognito: CognitoFactory, user_pool: UserPool, django_capture_on_commit_callbacks: Any
) -> None:
    for i in range(3):
        cognito.create_user(user_pool, f"user{i}", sign_in=False)
    with django_capture_on_commit_callbacks(execute=False):
        first = run_command("--all", "--rate", "50")
        run = re.search(r"--resume (\S+)\)", first)
        assert run is not None
        GlobalSignOut.objects.filter(username="user1").delete()  # as if the run stopped before user1
        second = run_command("--resume", run.group(1), "--rate", "50")
    assert "1 signed out, 0 failed, 0 left to the task (Cognito unreachable), 2 already done" in second
    assert GlobalSignOut.objects.filter(run=run.group(1), status="done").count() == 3


def test_the_calls_keep_the_rate_while_the_next_page_is_signed_out_locally(
    cognito: CognitoFactory, user_pool: UserPool, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The local part of a page (slowed to 1 s here) runs while the paced calls of the page before are under way,
    so the calls never pause for it: 10,000 users then take users/rate, not that plus every page's local part."""
    from accounts.management.commands import cognito_sign_out_users as command
    from cognito_backend.clients import get_client

    for index in range(30):
        cognito.idp.admin_create_user(UserPoolId=user_pool.pool_id, Username=f"u{index:02d}", MessageAction="SUPPRESS")
    monkeypatch.setattr(command, "PAGE", 10)  # three pages
    local_part = command.Command.local_part

    def slow_local_part(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)
        return local_part(*args, **kwargs)

    monkeypatch.setattr(command.Command, "local_part", staticmethod(slow_local_part))
    calls: list[float] = []
    event = "before-send.cognito-identity-provider.AdminUserGlobalSignOut"

    def note(**kwargs: Any) -> None:
        calls.append(time.monotonic())

    events = get_client("cognito-idp").meta.events
    events.register(event, note)
    try:
        with django_capture_on_commit_callbacks(execute=False):
            output = run_command("--all", "--rate", "10")  # a page's calls take 1 s, its local part 1 s
    finally:
        events.unregister(event, note)
    assert "30 signed out, 0 failed" in output
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert len(calls) == 30 and max(gaps) < 0.7  # 0.1 s apart; a pause for a local part would be >= 1 s
