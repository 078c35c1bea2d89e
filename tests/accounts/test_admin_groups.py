"""The group admin mirrors marked groups to the pool (moto): create, rename, delete carried there, or refused with
a message and nothing changed (refusals injected with a botocore ``before-send`` hook: moto accepts them all)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from accounts.admin_models import CognitoGroupMirror
from cognito_backend.clients import get_client
from tests.accounts.conftest import Faults, aws_error
from tests.conftest import CognitoFactory, UserPool


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    return client


def pool_groups(pool: UserPool) -> set[str]:
    return {g["GroupName"] for g in get_client("cognito-idp").list_groups(UserPoolId=pool.pool_id)["Groups"]}


def members(pool: UserPool, group: str) -> set[str]:
    answer = get_client("cognito-idp").list_users_in_group(UserPoolId=pool.pool_id, GroupName=group)
    return {u["Username"] for u in answer["Users"]}


def refuse(code: str = "NotAuthorizedException") -> Any:
    return lambda request: aws_error(400, code, "refused (injected)")


def test_a_mirrored_group_is_created_renamed_and_deleted_in_the_pool(
    admin_client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    response = admin_client.post("/admin/auth/group/add/", {"name": "editors", "mirrored": "on"})
    assert response.status_code == 302
    group = Group.objects.get(name="editors")
    assert CognitoGroupMirror.objects.get(group=group).cognito_name == "editors"
    assert pool_groups(user_pool) == {"editors"}

    cognito.create_user(user_pool, "alice", groups=["editors"], sign_in=False)
    response = admin_client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "writers", "mirrored": "on"})
    assert response.status_code == 302
    assert pool_groups(user_pool) == {"writers"}
    assert members(user_pool, "writers") == {"alice"}
    assert CognitoGroupMirror.objects.get(group=group).cognito_name == "writers"

    response = admin_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Group.objects.filter(pk=group.pk).exists()
    assert pool_groups(user_pool) == set()


def test_a_group_not_marked_stays_out_of_the_pool(admin_client: Client, user_pool: UserPool) -> None:
    admin_client.post("/admin/auth/group/add/", {"name": "local-only"})
    assert Group.objects.filter(name="local-only").exists()
    assert not CognitoGroupMirror.objects.exists()
    assert pool_groups(user_pool) == set()


def test_cognito_refusing_the_creation_changes_nothing_here(
    admin_client: Client, user_pool: UserPool, faults: Faults
) -> None:
    faults.inject("CreateGroup", refuse())
    response = admin_client.post("/admin/auth/group/add/", {"name": "editors", "mirrored": "on"})
    assert response.status_code == 200
    assert "Cognito refused the change (not_authorized)" in response.content.decode()
    assert not Group.objects.filter(name="editors").exists()


def test_cognito_refusing_a_rename_keeps_the_old_name_everywhere(
    admin_client: Client, user_pool: UserPool, faults: Faults
) -> None:
    admin_client.post("/admin/auth/group/add/", {"name": "editors", "mirrored": "on"})
    group = Group.objects.get(name="editors")
    faults.inject("CreateGroup", refuse())
    response = admin_client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "writers", "mirrored": "on"})
    assert response.status_code == 200
    group.refresh_from_db()
    assert group.name == "editors"
    assert pool_groups(user_pool) == {"editors"}


def test_cognito_refusing_the_deletion_keeps_the_group_with_a_message(
    admin_client: Client, user_pool: UserPool, faults: Faults
) -> None:
    admin_client.post("/admin/auth/group/add/", {"name": "editors", "mirrored": "on"})
    admin_client.post("/admin/auth/group/add/", {"name": "writers", "mirrored": "on"})
    editors = Group.objects.get(name="editors")

    def refuse_editors(request: Any) -> Any:
        return aws_error(400, "NotAuthorizedException", "refused") if b'"editors"' in request.body else None

    faults.inject("DeleteGroup", refuse_editors)
    response = admin_client.post(f"/admin/auth/group/{editors.pk}/delete/", {"post": "yes"}, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert any("Cognito refused to delete the group" in m for m in texts)
    assert not any("deleted successfully" in m for m in texts)
    assert Group.objects.filter(pk=editors.pk).exists()

    # The bulk delete action: the group Cognito refused stays, the other goes.
    both = list(Group.objects.values_list("pk", flat=True))
    admin_client.post("/admin/auth/group/", {"action": "delete_selected", "_selected_action": both, "post": "yes"})
    assert set(Group.objects.values_list("name", flat=True)) == {"editors"}
    assert pool_groups(user_pool) == {"editors"}
