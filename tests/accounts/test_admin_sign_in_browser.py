"""Signing in to the admin in Chromium: a staff member through Cognito's sign-in page and its TOTP step (MFA
required), and a user who is not staff refused. The rest of the admin's sign-in is tested with the test client
(test_admin_sign_in.py).

moto checks TOTP codes for real (computed here from the authenticator's secret); it does not check the SRP
proof, which the site's USER_PASSWORD_AUTH sign-in does not use.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounts.conftest import totp_now
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, UserPool


@pytest.fixture
def admin_pool(user_pool: UserPool, settings: Any) -> UserPool:
    settings.COGNITO = {**user_pool.settings(), "STAFF_GROUPS": ["staff"], "SUPERUSER_GROUPS": ["admins"]}
    settings.ADMIN_SIGN_IN = {"REQUIRE_MFA": True, "BREAK_GLASS": False}
    return user_pool


def sign_in_from_the_admin(page: Any, url: str, username: str) -> None:
    page.goto(url + "/admin/")
    page.wait_for_url("**/accounts/sign-in/?next=*")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Password").press("Enter")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_staff_member_signs_in_to_the_admin_with_cognito_and_totp(
    live_server: Any, browser_page: Any, cognito: CognitoFactory, admin_pool: UserPool
) -> None:
    staff = cognito.create_user(admin_pool, "stella", groups=["admins"])
    secret = str(cognito.idp.associate_software_token(AccessToken=staff.tokens.access_token)["SecretCode"])
    cognito.idp.verify_software_token(AccessToken=staff.tokens.access_token, UserCode=totp_now(secret))
    cognito.idp.set_user_mfa_preference(
        AccessToken=staff.tokens.access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    page = browser_page
    sign_in_from_the_admin(page, live_server.url, "stella")
    page.wait_for_selector("#sign-in-step[data-step=SOFTWARE_TOKEN_MFA]")
    page.get_by_label("Code").fill(totp_now(secret))
    page.get_by_label("Code").press("Enter")
    page.wait_for_url(live_server.url + "/admin/")
    assert page.locator("#site-name").count() == 1
    page.click("#content-main >> text=Users")  # a superuser by the `admins` group
    page.wait_for_url(live_server.url + "/admin/auth/user/")
    assert "stella@example.com" in page.locator("#result_list").inner_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_user_who_is_not_staff_is_refused_at_the_admin(
    live_server: Any, browser_page: Any, cognito: CognitoFactory, admin_pool: UserPool
) -> None:
    cognito.create_user(admin_pool, "norm", groups=["users"], sign_in=False)
    page = browser_page
    sign_in_from_the_admin(page, live_server.url, "norm")
    page.wait_for_url(live_server.url + "/admin/login/?next=%2Fadmin%2F")
    assert "You are signed in as norm, which is not a staff account" in page.locator("#admin-refused").inner_text()
