"""Every account page's forms: CSRF on each POST form, a label for each field, no password value rendered;
the challenge steps spend the sign-in's rate-limit budget and keep ``next`` on this site."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tests.accounts.test_challenges import NEW_PASSWORD, admin_created
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, CognitoUser, UserPool

ANONYMOUS = ["/accounts/sign-in/", "/accounts/sign-up/", "/accounts/sign-up/confirm/", "/accounts/password/forgot/",
             "/accounts/password/reset/"]  # fmt: skip
SIGNED_IN = ["/accounts/password/change/", "/accounts/profile/", "/accounts/mfa/totp/", "/accounts/account/delete/"]


class Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.labels: set[str] = set()
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "csrf": False})
        elif tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("name") == "csrfmiddlewaretoken" and self.forms:
                self.forms[-1]["csrf"] = True
            self.inputs.append({"tag": tag, **a})


def check(body: str) -> None:
    parsed = Forms()
    parsed.feed(body)
    posts = [f for f in parsed.forms if f["method"] == "post"]
    assert posts, "no form"
    assert all(f["csrf"] for f in posts), "a POST form without the CSRF token"
    for field in parsed.inputs:
        if field.get("type") in ("hidden", "submit") or field["tag"] not in ("input", "select", "textarea"):
            continue
        assert field.get("id") in parsed.labels, f"no label for {field}"
        if field.get("type") == "password":
            assert not field.get("value"), "a password value was rendered"
            assert field.get("autocomplete") in ("current-password", "new-password")


@pytest.mark.django_db
@pytest.mark.parametrize("url", ANONYMOUS)
def test_anonymous_pages_label_every_field_and_carry_csrf(client: Client, user_pool: UserPool, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    check(response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize("url", SIGNED_IN)
def test_signed_in_pages_label_every_field_and_carry_csrf(client: Client, cognito_user: CognitoUser, url: str) -> None:
    assert client.post("/accounts/sign-in/", {"username": "alice", "password": DEFAULT_PASSWORD}).status_code == 302
    client.post("/accounts/profile/", {"action": "update", "custom:telnum": "3"})  # a custom attribute to delete
    response = client.get(url)
    assert response.status_code == 200
    check(response.content.decode())


@pytest.mark.django_db
def test_a_challenge_step_form_is_labelled_and_an_offsite_next_is_dropped(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    admin_created(cognito, user_pool)
    step = client.post(
        "/accounts/sign-in/", {"username": "newbie", "password": "Temp-Passw0rd1", "next": "https://evil.example/"}
    )
    check(step.content.decode())
    done = client.post("/accounts/sign-in/", {"step": "NEW_PASSWORD_REQUIRED", "new_password": NEW_PASSWORD})
    assert done["Location"] == "/dashboard/"


@pytest.mark.django_db
def test_challenge_answers_spend_the_sign_in_budget(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, settings: Any
) -> None:
    cache.clear()
    settings.ACCOUNTS = {**settings.ACCOUNTS, "THROTTLE_RATES": {"sign_in": "1000/min", "sign_in_username": "2/min"}}
    admin_created(cognito, user_pool)
    client.post("/accounts/sign-in/", {"username": "newbie", "password": "Temp-Passw0rd1"})  # 1 of 2
    assert (
        client.post("/accounts/sign-in/", {"step": "NEW_PASSWORD_REQUIRED", "new_password": "weak"}).status_code == 400
    )
    refused = client.post("/accounts/sign-in/", {"step": "NEW_PASSWORD_REQUIRED", "new_password": NEW_PASSWORD})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert 'data-step="NEW_PASSWORD_REQUIRED"' in refused.content.decode()
