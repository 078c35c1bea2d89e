"""The last-resort error handler: a database locked outside any view is a 503 busy page, anything else a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import OperationalError
from django.test import Client


@pytest.fixture
def failing_session_middleware(monkeypatch: pytest.MonkeyPatch) -> list[Exception]:
    """SessionMiddleware's way out (where it saves the session) raises the error put in the list."""
    errors: list[Exception] = []

    def process_response(self: Any, request: Any, response: Any) -> Any:
        raise errors[0]

    monkeypatch.setattr(SessionMiddleware, "process_response", process_response)
    return errors


@pytest.mark.django_db
def test_a_locked_database_outside_any_view_is_a_503_with_retry_after(
    failing_session_middleware: list[Exception],
) -> None:
    failing_session_middleware.append(OperationalError("database is locked"))
    response = Client(raise_request_exception=False).get("/accounts/sign-in/")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert b"busy" in response.content


@pytest.mark.django_db
def test_any_other_failure_outside_a_view_is_still_a_500(failing_session_middleware: list[Exception]) -> None:
    failing_session_middleware.append(OperationalError("no such table: django_session"))
    response = Client(raise_request_exception=False).get("/accounts/sign-in/")
    assert response.status_code == 500
    assert "Retry-After" not in response
