"""The dashboard page in a real browser (Debian's Chromium driven by Playwright) against ``live_server``.

The user signs in through Django's session: ``Client.force_login`` makes the session, whose cookie is put into
the browser. Invocations go from the page's script to the REST API and on to the moto stand-in.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from dashboard.models import Invocation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Any, live_server: Any, username: str = "pat") -> Any:
    user = get_user_model().objects.create_user(username, password="x-Passw0rd-1")
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    return user


def test_anonymous_visitor_is_sent_to_sign_in(live_server: Any, browser_page: Any) -> None:
    browser_page.goto(live_server.url + "/dashboard/")
    assert browser_page.url.startswith(live_server.url + "/accounts/sign-in/?next=")


def test_page_lists_functions_with_the_example_payload_in_the_editor(
    live_server: Any, browser_page: Any, registry: dict[str, Any], make_function: Any
) -> None:
    make_function("admins-only", "ThingLambda", groups=["admins"])  # pat is not in admins: not listed
    sign_in(browser_page, live_server)
    browser_page.goto(live_server.url + "/dashboard/?function=observation")
    links = browser_page.locator(".functions a").all_inner_texts()
    assert sorted(links) == ["Auth", "Observation", "Thing"]
    assert browser_page.locator("#function-title").inner_text() == "Observation"
    editor_text = browser_page.locator("#payload").input_value()
    assert json.loads(editor_text) == registry["observation"].example_payload
    assert browser_page.locator("#syntax").inner_text() == "Valid JSON"


def test_syntax_error_is_shown_and_nothing_is_sent(
    live_server: Any, browser_page: Any, registry: dict[str, Any]
) -> None:
    sign_in(browser_page, live_server)
    browser_page.goto(live_server.url + "/dashboard/?function=thing")
    browser_page.fill("#payload", '{\n  "action": "LIST",\n}')
    syntax = browser_page.locator("#syntax")
    assert "JSON syntax error" in syntax.inner_text()
    assert "line 3" in syntax.inner_text()  # where the error is
    assert browser_page.locator("#invoke").is_disabled()
    browser_page.locator("#payload").press("Enter")  # still broken: still disabled
    assert browser_page.locator("#invoke").is_disabled()
    assert not Invocation.objects.exists()
    browser_page.fill("#payload", '{"action": "LIST"}')
    assert syntax.inner_text() == "Valid JSON"
    assert browser_page.locator("#invoke").is_enabled()


def test_invoking_shows_the_formatted_result_and_the_new_history_row(
    live_server: Any, browser_page: Any, registry: dict[str, Any], canned: Any
) -> None:
    canned({"things": [{"id": "t-1", "name": "pump"}], "count": 1})
    sign_in(browser_page, live_server)
    browser_page.goto(live_server.url + "/dashboard/?function=thing")
    assert "No invocations yet" in browser_page.locator("#recent").inner_text()
    browser_page.click("#invoke")
    browser_page.wait_for_function("document.querySelector('#outcome').textContent.startsWith('succeeded')")
    result = browser_page.locator("#result").inner_text()
    assert json.loads(result) == {"things": [{"id": "t-1", "name": "pump"}], "count": 1}
    assert '\n  "things": [' in result  # formatted, two-space indent
    browser_page.wait_for_function("document.querySelector('#recent tbody').textContent.includes('succeeded')")
    row = browser_page.locator("#recent tbody tr").first.inner_text()
    assert "thing" in row
    assert Invocation.objects.get().username == "pat"


def test_an_error_answer_is_shown_with_its_code(live_server: Any, browser_page: Any, registry: dict[str, Any]) -> None:
    sign_in(browser_page, live_server)
    browser_page.goto(live_server.url + "/dashboard/?function=observation")
    browser_page.fill("#payload", '{"action": "DELETE", "query": {}}')
    browser_page.click("#invoke")
    outcome = browser_page.locator("#outcome")
    browser_page.wait_for_function("document.querySelector('#outcome').textContent.startsWith('HTTP 400')")
    assert "schema_mismatch" in outcome.inner_text()
    assert "$.action" in outcome.inner_text()


def test_result_text_is_never_interpreted_as_html(
    live_server: Any, browser_page: Any, registry: dict[str, Any], canned: Any
) -> None:
    canned('{"name": "<img src=x onerror=window.pwned=1>"}')
    sign_in(browser_page, live_server)
    browser_page.goto(live_server.url + "/dashboard/?function=thing")
    browser_page.click("#invoke")
    browser_page.wait_for_function("document.querySelector('#outcome').textContent.startsWith('succeeded')")
    assert browser_page.locator("#result img").count() == 0
    assert browser_page.evaluate("window.pwned") is None
