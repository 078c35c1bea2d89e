"""Sign out everywhere: locked out here at once (revocation, stored tokens, sessions), Cognito's part
(AdminUserGlobalSignOut on moto) done by the task, retried while Cognito is unreachable (injected faults:
moto cannot be made unreachable per operation)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.test import APIClient

from accounts import signout
from accounts.models import GlobalSignOut
from cognito_backend import exceptions as exc
from cognito_backend.idp import call
from tests.accounts.conftest import Faults, aws_error, bearer
from tests.conftest import CognitoUser


def signed_in_user(api: APIClient, cognito_user: CognitoUser) -> Any:
    """The local user of ``cognito_user`` (linked by a first bearer request)."""
    assert bearer(api, cognito_user.tokens.access_token).get("/api/auth/me/").status_code == 200
    return get_user_model().objects.get(username="alice")


def cognito_accepts(cognito_user: CognitoUser) -> bool:
    try:
        call("get_user", AccessToken=cognito_user.tokens.access_token)
    except exc.NotAuthorized:
        return False
    return True


def test_global_sign_out_locks_out_tokens_and_sessions_and_cognito_confirms(
    api: APIClient, cognito_user: CognitoUser, django_capture_on_commit_callbacks: Any
) -> None:
    user = signed_in_user(api, cognito_user)
    browser = Client()
    browser.force_login(user)
    assert Session.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=False):
        job = signout.sign_out_everywhere(user, trigger="admin")
    # The local part, at once: the access token is refused here and the session is gone.
    assert api.get("/api/auth/me/").status_code == 401
    assert Session.objects.count() == 0
    assert job.status == GlobalSignOut.Status.PENDING
    assert cognito_accepts(cognito_user)  # Cognito not asked yet
    assert signout.cognito_sign_out(job.pk) == GlobalSignOut.Status.DONE
    assert not cognito_accepts(cognito_user)
    # Idempotent: a second run of the task leaves a done job alone.
    assert signout.cognito_sign_out(job.pk) == GlobalSignOut.Status.DONE
    assert GlobalSignOut.objects.get(pk=job.pk).attempts == 1


def test_cognito_outage_leaves_the_user_locked_out_and_the_task_completes_when_it_returns(
    api: APIClient, cognito_user: CognitoUser, faults: Faults, django_capture_on_commit_callbacks: Any
) -> None:
    user = signed_in_user(api, cognito_user)
    faults.inject("AdminUserGlobalSignOut", "connection_refused")
    with django_capture_on_commit_callbacks(execute=False):
        job = signout.sign_out_everywhere(user, trigger="admin")
    assert api.get("/api/auth/me/").status_code == 401
    with pytest.raises(exc.ServiceUnavailable):
        signout.cognito_sign_out(job.pk)
    job.refresh_from_db()
    assert job.status == GlobalSignOut.Status.PENDING
    assert job.reason.startswith("retrying")
    assert cognito_accepts(cognito_user)
    for client, event, handler in faults.handlers:  # Cognito is back
        client.meta.events.unregister(event, handler)
    faults.handlers.clear()
    assert signout.cognito_sign_out(job.pk) == GlobalSignOut.Status.DONE
    assert not cognito_accepts(cognito_user)
    assert api.get("/api/auth/me/").status_code == 401


def test_the_users_own_sign_out_everywhere_while_cognito_is_down_queues_the_cognito_part(
    api: APIClient, cognito_user: CognitoUser, faults: Faults, django_capture_on_commit_callbacks: Any
) -> None:
    signed_in_user(api, cognito_user)
    faults.inject("GlobalSignOut", "connection_refused")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = api.post("/api/auth/sign-out/global/")
    assert response.status_code == 200
    assert api.get("/api/auth/me/").status_code == 401
    job = GlobalSignOut.objects.get()
    assert (job.status, job.trigger) == (GlobalSignOut.Status.PENDING, "global_sign_out")
    assert len(queued) == 1  # the task is sent once the request's transaction commits


def test_a_refusal_from_cognito_marks_the_job_failed_with_the_reason(
    api: APIClient, cognito_user: CognitoUser, faults: Faults, django_capture_on_commit_callbacks: Any
) -> None:
    user = signed_in_user(api, cognito_user)
    faults.inject("AdminUserGlobalSignOut", lambda request: aws_error(400, "NotAuthorizedException", "Not allowed"))
    with django_capture_on_commit_callbacks(execute=False):
        job = signout.sign_out_everywhere(user, trigger="admin")
    assert signout.cognito_sign_out(job.pk) == GlobalSignOut.Status.FAILED
    job.refresh_from_db()
    assert job.reason and job.completed is not None


def test_disabling_a_user_signs_them_out_everywhere(
    api: APIClient, cognito_user: CognitoUser, django_capture_on_commit_callbacks: Any
) -> None:
    user = signed_in_user(api, cognito_user)
    with django_capture_on_commit_callbacks(execute=False):
        user.is_active = False
        user.save()
    assert GlobalSignOut.objects.get().trigger == "user_disabled"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {cognito_user.tokens.access_token}")
    assert api.get("/api/auth/me/").status_code == 401


def test_changing_the_password_signs_out_everywhere(
    api: APIClient, cognito_user: CognitoUser, django_capture_on_commit_callbacks: Any
) -> None:
    signed_in_user(api, cognito_user)
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(
            "/api/auth/password/change/",
            {"old_password": cognito_user.password, "new_password": "An0ther-Passw0rd!"},
            format="json",
        )
    assert response.status_code == 200
    assert GlobalSignOut.objects.get().trigger == "password_change"
    assert api.get("/api/auth/me/").status_code == 401
