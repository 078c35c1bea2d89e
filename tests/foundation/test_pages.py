"""The site's pages in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_renders_with_links_to_api_and_health(live_server: Any, browser_page: Any) -> None:
    browser_page.goto(live_server.url + "/")
    assert browser_page.title() == "Cognito for Django"
    browser_page.click("text=Health")
    assert '"database"' in browser_page.content()
