"""The account pages' main journey in Chromium at phone width, by keyboard where a user would type: sign up,
confirm, sign in, add an authenticator from the page's secret, sign out, sign in again through the TOTP step.

moto accepts any confirmation code; it checks TOTP codes for real (computed here from the secret the page shows).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounts.conftest import totp_now
from tests.conftest import DEFAULT_PASSWORD, UserPool

PHONE = {"width": 390, "height": 844}


def fits_the_screen(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sign_up_confirm_sign_in_add_an_authenticator_and_sign_in_with_it(
    live_server: Any, browser_page: Any, user_pool: UserPool
) -> None:
    page = browser_page
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/")
    page.click("nav >> text=Sign up")
    page.get_by_label("Username").fill("walt")
    page.get_by_label("Email").fill("walt@example.com")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    assert fits_the_screen(page)
    page.get_by_label("Password").press("Enter")  # the keyboard submits the form

    page.wait_for_url("**/accounts/sign-up/confirm/?username=walt")
    assert "We sent a confirmation code" in page.content()
    page.get_by_label("Confirmation code").fill("123456")  # moto accepts any code
    page.get_by_label("Confirmation code").press("Enter")

    page.wait_for_url("**/accounts/sign-in/")
    assert "Account confirmed" in page.content()
    page.get_by_label("Username or email").fill("walt")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(live_server.url + "/dashboard/")

    page.goto(live_server.url + "/accounts/mfa/totp/")
    page.click("text=Show the QR code")  # a recent sign-in: no password asked
    assert page.locator("#totp-qr svg").count() == 1
    assert fits_the_screen(page)
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(totp_now(secret))
    page.get_by_label("Code from the app").press("Enter")
    page.wait_for_url("**/accounts/profile/")
    assert "Authenticator added" in page.content()

    page.click("text=Sign out (walt)")
    page.wait_for_url(live_server.url + "/")
    page.goto(live_server.url + "/accounts/sign-in/")
    page.get_by_label("Username or email").fill("walt")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_selector("#sign-in-step[data-step=SOFTWARE_TOKEN_MFA]")
    page.get_by_label("Code").fill(totp_now(secret))
    page.get_by_label("Code").press("Enter")
    page.wait_for_url(live_server.url + "/dashboard/")
    assert "Signed in as walt." in page.content()
