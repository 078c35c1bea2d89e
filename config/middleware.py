"""Site middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cognito_backend.exceptions import DatabaseBusy, is_database_locked

logger = logging.getLogger(__name__)


class DatabaseBusyMiddleware:
    """A page whose view finds the database locked past its busy timeout answers 503 with Retry-After, not 500.

    The API gets the same from its DRF exception handler (``cognito_backend.drf``); this covers the pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_locked(exception):
            return None
        logger.warning("database locked past its busy timeout: path=%s", request.path)
        response = HttpResponse(
            "<!doctype html><title>Busy</title><h1>The site is busy</h1><p>Please try again in a moment.</p>",
            status=DatabaseBusy.status_code,
            content_type="text/html; charset=utf-8",
        )
        response["Retry-After"] = str(DatabaseBusy.retry_after)
        return response
