"""Password pages: forgot (send a code), reset (code and new password), change (signed in); the pool's policy shown.

moto accepts any reset code; the wrong-code case runs against cognito-local, which checks codes for real.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from accounts import services
from tests.accounts.conftest import LocalPool
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool

FORGOT = "/accounts/password/forgot/"
RESET = "/accounts/password/reset/"
CHANGE = "/accounts/password/change/"
NEW = "N3w-Passw0rd!"


def sign_in(client: Client, username: str = "alice", password: str = DEFAULT_PASSWORD) -> None:
    response = client.post("/accounts/sign-in/", {"username": username, "password": password})
    assert response.status_code == 302, response.content.decode()


@pytest.mark.django_db
def test_forgot_then_reset_sets_the_new_password(client: Client, cognito_user: CognitoUser) -> None:
    # moto accepts any reset code.
    response = client.post(FORGOT, {"username": "alice"})
    assert response.status_code == 302
    assert response["Location"] == RESET + "?username=alice"
    page = client.get(response["Location"]).content.decode()
    assert "If the account exists, a reset code was sent" in page
    assert 'value="alice"' in page and 'id="password-policy"' in page
    done = client.post(RESET, {"username": "alice", "code": "123456", "new_password": NEW})
    assert done.status_code == 302 and done["Location"] == "/accounts/sign-in/"
    assert "Password changed" in client.get("/accounts/sign-in/").content.decode()
    assert isinstance(services.sign_in("alice", NEW), services.Tokens)


@pytest.mark.django_db
def test_forgot_says_the_same_for_an_unknown_user(client: Client, user_pool: UserPool) -> None:
    response = client.post(FORGOT, {"username": "nobody"})
    assert response.status_code == 302
    assert "If the account exists" in client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_forgot_spends_the_apis_budget(client: Client, cognito_user: CognitoUser, settings: Any) -> None:
    cache.clear()
    settings.ACCOUNTS = {**getattr(settings, "ACCOUNTS", {}), "THROTTLE_RATES": {"forgot_password_username": "1/min"}}
    assert client.post(FORGOT, {"username": "alice"}).status_code == 302
    refused = client.post(FORGOT, {"username": "alice"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


@pytest.mark.django_db
def test_a_weak_new_password_names_the_policy_and_is_not_echoed(client: Client, cognito_user: CognitoUser) -> None:
    response = client.post(RESET, {"username": "alice", "code": "123456", "new_password": "weakpass1"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "password policy" in body and "weakpass1" not in body and 'value="alice"' in body


@pytest.mark.cognito_local
@pytest.mark.django_db
def test_a_wrong_reset_code_is_refused_and_keeps_the_username(client: Client, local_pool: LocalPool) -> None:
    local_pool.create_user("omar")
    client.post(FORGOT, {"username": "omar"})
    real = local_pool.local.code_for("omar")
    wrong = "000000" if real != "000000" else "111111"
    response = client.post(RESET, {"username": "omar", "code": wrong, "new_password": NEW})
    assert response.status_code == 400
    body = response.content.decode()
    assert "The code is not valid or has expired" in body and 'value="omar"' in body and NEW not in body
    assert client.post(RESET, {"username": "omar", "code": real, "new_password": NEW}).status_code == 302


@pytest.mark.django_db
def test_change_password_needs_a_signed_in_user(client: Client, cognito_user: CognitoUser) -> None:
    response = client.get(CHANGE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?next=/accounts/password/change/"


@pytest.mark.django_db
def test_change_password_signs_out_everywhere_then_the_new_password_signs_in(
    client: Client, cognito_user: CognitoUser
) -> None:
    sign_in(client)
    page = client.get(CHANGE).content.decode()
    assert 'id="password-policy"' in page and 'autocomplete="current-password"' in page
    wrong = client.post(CHANGE, {"old_password": "Wrong-Passw0rd!", "new_password": NEW})
    assert wrong.status_code == 401
    assert "The current password is not correct." in wrong.content.decode()
    assert "Wrong-Passw0rd!" not in wrong.content.decode()
    done = client.post(CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": NEW})
    assert done.status_code == 302 and done["Location"] == "/accounts/sign-in/"
    assert "_auth_user_id" not in client.session
    assert isinstance(services.sign_in("alice", NEW), services.Tokens)


@pytest.mark.django_db
def test_a_session_without_cognito_tokens_is_sent_to_sign_in(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("admin-only", password="x-Passw0rd-1")
    client.force_login(user)
    response = client.get(CHANGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/?next=")
