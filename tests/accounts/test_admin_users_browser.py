"""The user admin in Chromium (kept to one journey; the rest is tested with the test client in test_admin_users.py):
a superuser signed in through Cognito sees a user's link in the list, disables the user with the action, reads
the outcome, and sees the pool's live view of the user on the change page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from cognito_backend.clients import get_client
from cognito_backend.models import CognitoIdentity
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, UserPool


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_disables_a_user_and_sees_the_pools_view(
    live_server: Any, browser_page: Any, cognito: CognitoFactory, user_pool: UserPool, settings: Any
) -> None:
    settings.COGNITO = {**user_pool.settings(), "STAFF_GROUPS": ["staff"], "SUPERUSER_GROUPS": ["admins"]}
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": False, "BREAK_GLASS": False}
    cognito.create_user(user_pool, "stella", groups=["admins"], sign_in=False)
    target = cognito.create_user(user_pool, "tom", sign_in=False)
    tom = get_user_model().objects.create_user("tom", "tom@example.com")
    CognitoIdentity.objects.create(user=tom, sub=target.sub, pool_id=user_pool.pool_id, username="tom")

    page = browser_page
    page.goto(live_server.url + "/admin/auth/user/")
    page.wait_for_url("**/accounts/sign-in/?next=*")
    page.get_by_label("Username or email").fill("stella")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(live_server.url + "/admin/auth/user/")
    row = page.locator("#result_list tr", has_text="tom@example.com")
    assert target.sub in row.inner_text()

    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "cognito_disable")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")
    assert "Disable in Cognito (and here): done for 1 user(s)." in page.locator("ul.messagelist").inner_text()
    pool_user = get_client("cognito-idp").admin_get_user(UserPoolId=user_pool.pool_id, Username="tom")
    assert pool_user["Enabled"] is False

    page.goto(f"{live_server.url}/admin/auth/user/{tom.pk}/change/")
    view = page.locator("table.cognito-pool-view").inner_text()
    assert "CONFIRMED" in view and "enabled\tno" in view
