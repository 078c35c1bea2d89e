"""``POST /accounts/sign-out/everywhere/``: every session of the user ends, here and in Cognito."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts import services
from cognito_backend import exceptions as exc
from tests.conftest import DEFAULT_PASSWORD, CognitoUser

EVERYWHERE = "/accounts/sign-out/everywhere/"


def signed_in_client() -> Client:
    client = Client()
    response = client.post("/accounts/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content.decode()
    return client


@pytest.mark.django_db
def test_sign_out_everywhere_ends_every_session_and_the_refresh_tokens(cognito_user: CognitoUser) -> None:
    here, elsewhere = signed_in_client(), signed_in_client()
    assert elsewhere.get("/dashboard/").status_code == 200
    page = here.get("/").content.decode()
    assert f'action="{EVERYWHERE}"' in page  # the nav offers it to a signed-in user
    response = here.post(EVERYWHERE)
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Signed out everywhere" in here.get("/").content.decode()
    assert "_auth_user_id" not in here.session
    assert elsewhere.get("/dashboard/").status_code == 302  # the other session ended too
    with pytest.raises(exc.NotAuthorized):  # Cognito's GlobalSignOut invalidated the refresh tokens
        services.refresh(cognito_user.tokens.refresh_token)


@pytest.mark.django_db
def test_sign_out_everywhere_is_post_only_and_needs_a_signed_in_user(cognito_user: CognitoUser) -> None:
    anonymous = Client()
    response = anonymous.post(EVERYWHERE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/?next=")
    assert signed_in_client().get(EVERYWHERE).status_code == 405


@pytest.mark.django_db
def test_sign_out_everywhere_needs_the_csrf_token(cognito_user: CognitoUser) -> None:
    client = signed_in_client()
    checked = Client(enforce_csrf_checks=True)
    checked.cookies = client.cookies
    assert checked.post(EVERYWHERE).status_code == 403
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.django_db
def test_a_hosted_ui_session_signed_out_everywhere_goes_through_the_hosted_ui_logout(
    cognito_user: CognitoUser, settings: Any
) -> None:
    from accounts import hosted

    client = signed_in_client()
    session = client.session
    session[hosted.SESSION_USED] = True  # as the hosted UI's callback marks it
    session.save()
    settings.COGNITO = {**settings.COGNITO, "DOMAIN": "https://auth.example.com"}
    response = client.post(EVERYWHERE)
    assert response.status_code == 302
    assert response["Location"].startswith("https://auth.example.com/logout?client_id=")
    assert "logout_uri=http%3A%2F%2Ftestserver%2F" in response["Location"]
    with pytest.raises(exc.NotAuthorized):
        services.refresh(cognito_user.tokens.refresh_token)
