"""Session pages: sign in with Cognito into a Django session, then the dashboard; sign out."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import CognitoFactory, UserPool


@pytest.mark.django_db
def test_page_sign_in_logs_the_cognito_user_into_a_session(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
):
    cognito.create_user(user_pool, "carol", sign_in=False)
    response = client.post("/accounts/sign-in/", {"username": "carol", "password": "Str0ng-Passw0rd!"})
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    assert client.session["_auth_user_id"]


@pytest.mark.django_db
def test_page_sign_in_with_a_wrong_password_says_so_without_echoing_it(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
):
    cognito.create_user(user_pool, "carol", sign_in=False)
    response = client.post("/accounts/sign-in/", {"username": "carol", "password": "Wrong-Passw0rd!"})
    assert response.status_code == 401
    body = response.content.decode()
    assert "Incorrect username or password." in body
    assert "Wrong-Passw0rd!" not in body
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_sign_in_in_the_second_of_a_sign_out_everywhere_says_to_sign_in_again_in_a_moment(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
):
    from datetime import UTC, datetime, timedelta

    from cognito_backend import revocation

    user = cognito.create_user(user_pool, "carol", sign_in=False)
    # Cognito's times have whole seconds: a token issued in the second of a revocation is refused. A revocation
    # dated a little ahead makes that second certain here.
    revocation.revoke_user_tokens(user.sub, reason="password_change", at=datetime.now(UTC) + timedelta(seconds=30))
    response = client.post("/accounts/sign-in/", {"username": "carol", "password": "Str0ng-Passw0rd!"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "signed out everywhere a moment ago" in body and "sign in again" in body
    assert 'value="carol"' in body and "Str0ng-Passw0rd!" not in body
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_page_sign_in_refuses_an_offsite_next_url(client: Client, cognito: CognitoFactory, user_pool: UserPool):
    cognito.create_user(user_pool, "carol", sign_in=False)
    response = client.post(
        "/accounts/sign-in/", {"username": "carol", "password": "Str0ng-Passw0rd!", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/dashboard/"


@pytest.mark.django_db
def test_page_sign_in_with_an_empty_form_is_400_naming_the_fields(client: Client, user_pool: UserPool):
    response = client.post("/accounts/sign-in/", {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


@pytest.mark.django_db
def test_dashboard_sends_anonymous_visitors_to_the_sign_in_page(client: Client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/?next=/dashboard/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_demo_style_user_signs_in_in_the_browser_and_reaches_the_dashboard(
    live_server: Any, browser_page: Any, cognito: CognitoFactory, user_pool: UserPool
):
    cognito.create_user(user_pool, "dora", sign_in=False)
    browser_page.goto(live_server.url + "/")
    browser_page.click("text=Sign in")
    browser_page.fill("input[name=username]", "dora")
    browser_page.fill("input[name=password]", "Str0ng-Passw0rd!")
    browser_page.click("button[type=submit]")
    browser_page.wait_for_url(live_server.url + "/dashboard/")
    assert "Signed in as dora." in browser_page.content()
    browser_page.click("text=Sign out (dora)")
    browser_page.wait_for_url(live_server.url + "/")
    assert "Sign in" in browser_page.content()
