"""In Chromium: a user signs in on the sign-in page (real Cognito sign-in against moto) and invokes, from the
dashboard page, a function that runs with the caller's identity-pool credentials. The page sends no token: the
server uses the session's stored id token. Nothing token-like is in the browser (cookies, storage, page)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import token_store
from accounts.models import TokenSet
from dashboard.models import Invocation
from tests.conftest import CognitoFactory, UserPool
from tests.dashboard.test_session_tokens import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_page_invokes_a_caller_credential_function_with_the_stored_id_token(
    live_server: Any,
    browser_page: Any,
    cognito: CognitoFactory,
    user_pool: UserPool,
    identity_pool: str,
    registry: dict[str, Any],
) -> None:
    registry["auth"].credentials = "caller"
    registry["auth"].save()
    cognito.create_user(user_pool, "carol", sign_in=False)
    page = browser_page
    page.goto(live_server.url + "/accounts/sign-in/?next=/dashboard/%3Ffunction%3Dauth")
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/dashboard/?function=auth")
    page.click("#invoke")
    page.wait_for_function("document.querySelector('#outcome').textContent.startsWith('succeeded')")

    row = Invocation.objects.get()
    assert (row.function_key, row.credentials, row.status) == ("auth", "caller", "succeeded")
    assert row.identity_id.startswith("us-east-1:")
    tokens = token_store.read(TokenSet.objects.get())
    seen = " ".join(
        [
            page.content(),
            page.evaluate("document.cookie"),
            page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"),
            *(cookie["value"] for cookie in page.context.cookies()),
        ]
    )
    for secret in (tokens.id_token, tokens.access_token, tokens.refresh_token, *tokens.id_token.split(".")):
        assert secret not in seen
