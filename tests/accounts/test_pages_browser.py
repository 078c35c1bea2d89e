"""The account pages' whole journey in Chromium at phone width, by keyboard where a user would type, against the
real cognito-local (it checks confirmation, verification, reset and TOTP codes for real and "sends" them to its
log, where the test reads them as a user reads their mail):

sign up -> confirm -> sign in -> add an authenticator from the page's secret -> sign out -> sign in through the
TOTP step -> change password -> sign in with it -> edit the email and verify it -> sign out everywhere (a second
browser context signed in as the same user is ended on its next request) -> forgot / reset password -> sign in
with the new password -> an administrator's revocation ends that live session on its next request.

cognito-local has no GlobalSignOut: the site signs the user out here at once and queues Cognito's part (the
queue is not consumed in this test); what the second context sees is the site's own revocation. Screenshots of
each page are kept under ``test-artefacts/journey/`` (git-ignored).
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from tests.accounts.conftest import LocalPool, totp_now
from tests.conftest import DEFAULT_PASSWORD, ROOT, has_jwt

pytestmark = pytest.mark.cognito_local

PHONE = {"width": 390, "height": 844}
ARTEFACTS = ROOT / "test-artefacts" / "journey"
CHANGED_PASSWORD = "Changed-Passw0rd!"
RESET_PASSWORD = "Reset-Passw0rd!2"


def fits_the_screen(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


class Shots:
    """Numbered full-page screenshots, in the order the journey took them."""

    def __init__(self) -> None:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTEFACTS.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(ARTEFACTS / f"{self.count:02d}-{name}.png"), full_page=True)


def sign_in(page: Any, base: str, password: str, secret: str, shot: Shots, name: str, *, after: float = 0.0) -> None:
    """The sign-in page, then its TOTP step, by keyboard; ends on the dashboard.

    ``after``: when the user was signed out everywhere. Times have whole seconds, so tokens issued in that second
    are refused (the page says to wait a moment); a person takes longer than that to type, the test waits.
    """
    if "/accounts/sign-in/" not in page.url:
        page.goto(base + "/accounts/sign-in/")
    page.get_by_label("Username or email").fill("walt")
    page.get_by_label("Password").fill(password)
    shot(page, f"{name}-sign-in")
    page.get_by_label("Password").press("Enter")
    page.wait_for_selector("#sign-in-step[data-step=SOFTWARE_TOKEN_MFA]")
    shot(page, f"{name}-totp-step")
    time.sleep(max(0.0, math.floor(after) + 1.05 - time.time()))
    page.get_by_label("Code").fill(totp_now(secret))
    page.get_by_label("Code").press("Enter")
    page.wait_for_url(base + "/dashboard/")
    assert "Signed in as walt." in page.content()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_whole_account_journey_in_chromium(
    live_server: Any, browser: Any, browser_page: Any, local_pool: LocalPool
) -> None:
    base = live_server.url
    codes = local_pool.local
    codes.forget("walt")
    shot = Shots()
    page = browser_page
    page.set_viewport_size(PHONE)

    # Sign up, and confirm with the code cognito-local sent.
    page.goto(base + "/")
    shot(page, "home")
    page.click("nav >> text=Sign up")
    page.get_by_label("Username").fill("walt")
    page.get_by_label("Email").fill("walt@example.com")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    assert fits_the_screen(page)
    shot(page, "sign-up")
    page.get_by_label("Password").press("Enter")  # the keyboard submits the form
    page.wait_for_url("**/accounts/sign-up/confirm/?username=walt")
    assert "We sent a confirmation code" in page.content()
    shot(page, "sign-up-confirm")
    page.get_by_label("Confirmation code").fill(codes.code_for("walt"))
    page.get_by_label("Confirmation code").press("Enter")
    page.wait_for_url("**/accounts/sign-in/")
    assert "Account confirmed" in page.content()

    # Sign in with the password alone, then add an authenticator from the secret the page shows.
    page.get_by_label("Username or email").fill("walt")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    shot(page, "sign-in-first")
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(base + "/dashboard/")
    shot(page, "dashboard")
    page.goto(base + "/accounts/mfa/totp/")
    shot(page, "totp-start")
    page.click("text=Show the QR code")  # a recent sign-in: no password asked
    assert page.locator("#totp-qr svg").count() == 1
    assert fits_the_screen(page)
    shot(page, "totp-qr-code")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(totp_now(secret))
    page.get_by_label("Code from the app").press("Enter")
    page.wait_for_url("**/accounts/profile/")
    assert "Authenticator added" in page.content()
    shot(page, "profile-authenticator-added")

    # Sign out; sign in again, now through the TOTP step.
    page.click("text=Sign out (walt)")
    page.wait_for_url(base + "/")
    sign_in(page, base, DEFAULT_PASSWORD, secret, shot, "totp")

    # Change the password: every session ends, this one too; the new password signs in.
    page.click("nav >> text=Password")
    page.wait_for_url("**/accounts/password/change/")
    page.get_by_label("Current password").fill(DEFAULT_PASSWORD)
    page.get_by_label("New password").fill(CHANGED_PASSWORD)
    shot(page, "password-change")
    page.get_by_label("New password").press("Enter")
    page.wait_for_url(base + "/accounts/sign-in/")
    assert "Password changed; every session was signed out." in page.content()
    sign_in(page, base, CHANGED_PASSWORD, secret, shot, "changed-password", after=time.time())

    # Edit the email; verify it with the code sent to the new address.
    sent = len(codes.codes_for("walt"))
    page.click("nav >> text=Profile")
    page.wait_for_url("**/accounts/profile/")
    shot(page, "profile")
    page.locator("#profile-update").get_by_label("Email").fill("walt.new@example.com")
    page.locator("#profile-update").get_by_role("button", name="Save").click()
    page.wait_for_selector("#verify-email")
    shot(page, "profile-email-changed")
    page.get_by_label("Code for your email").fill(codes.code_for("walt", after=sent))
    page.get_by_label("Code for your email").press("Enter")
    page.wait_for_selector("text=Your email is verified.")
    assert page.locator("#verify-email").count() == 0
    assert "walt.new@example.com" in page.locator("#attributes").inner_text()
    shot(page, "profile-email-verified")

    # A second browser (another device) signs in as walt; sign out everywhere from the first ends it.
    other_context = browser.new_context()
    try:
        other = other_context.new_page()
        other.set_default_timeout(15_000)
        other.set_viewport_size(PHONE)
        sign_in(other, base, CHANGED_PASSWORD, secret, shot, "second-device")
        page.click("text=Sign out everywhere")
        page.wait_for_url(base + "/")
        assert "Signed out everywhere" in page.content()
        shot(page, "signed-out-everywhere")
        other.goto(base + "/dashboard/")
        other.wait_for_url(base + "/accounts/sign-in/?next=/dashboard/")  # its session row is gone
        assert "Sign out (walt)" not in other.content()
        assert "Your session has ended; please sign in again." in other.content()
        shot(other, "second-device-ended")
    finally:
        other_context.close()

    # Forgot the password: the reset code from the log, a new password, and it signs in.
    page.goto(base + "/accounts/sign-in/")
    page.click("main >> text=Forgot your password?")
    page.wait_for_url("**/accounts/password/forgot/")
    sent = len(codes.codes_for("walt"))
    page.get_by_label("Username or email").fill("walt")
    shot(page, "password-forgot")
    page.get_by_label("Username or email").press("Enter")
    page.wait_for_url("**/accounts/password/reset/?username=walt")
    assert page.get_by_label("Username or email").input_value() == "walt"
    page.get_by_label("Reset code").fill(codes.code_for("walt", after=sent))
    page.get_by_label("New password").fill(RESET_PASSWORD)
    shot(page, "password-reset")
    page.get_by_label("New password").press("Enter")
    page.wait_for_url(base + "/accounts/sign-in/")
    assert "Password changed" in page.content()
    sign_in(page, base, RESET_PASSWORD, secret, shot, "reset-password", after=time.time())

    # An administrator revokes walt's tokens (the admin's "revoke tokens" action): the live session ends.
    from cognito_backend import revocation
    from cognito_backend.models import CognitoIdentity

    revocation.revoke_user_tokens(CognitoIdentity.objects.get(username="walt").sub, reason="admin")
    page.goto(base + "/accounts/profile/")
    page.wait_for_url(base + "/accounts/sign-in/?next=/accounts/profile/")
    assert "Your session has ended; please sign in again." in page.content()
    shot(page, "admin-revoked")
    assert not any(has_jwt(cookie["value"]) for cookie in page.context.cookies())
