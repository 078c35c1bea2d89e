"""The admin: sign out users or a whole group everywhere, and see each sign-out's state."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import GlobalSignOut
from tests.accounts.conftest import bearer
from tests.conftest import CognitoUser


def test_admin_actions_sign_out_users_and_groups_and_the_state_is_listed(
    api: APIClient, cognito_user: CognitoUser, django_capture_on_commit_callbacks: Any
) -> None:
    assert bearer(api, cognito_user.tokens.access_token).get("/api/auth/me/").status_code == 200
    alice = get_user_model().objects.get(username="alice")
    staff = Group.objects.create(name="staff")
    alice.groups.add(staff)
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    with django_capture_on_commit_callbacks(execute=False):
        response = admin.post(
            "/admin/auth/group/", {"action": "sign_out_members", "_selected_action": [staff.pk]}, follow=True
        )
    assert response.status_code == 200
    job = GlobalSignOut.objects.get()
    assert (job.user, job.trigger, job.status) == (alice, "admin", "pending")
    assert api.get("/api/auth/me/").status_code == 401
    with django_capture_on_commit_callbacks(execute=False):
        admin.post("/admin/auth/user/", {"action": "sign_out_everywhere", "_selected_action": [alice.pk]})
    assert GlobalSignOut.objects.count() == 2
    listing = admin.get("/admin/accounts/globalsignout/")
    assert listing.status_code == 200
    assert b"pending" in listing.content
