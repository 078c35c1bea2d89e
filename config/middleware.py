"""Site middleware."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.core.signals import request_finished, request_started
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from cognito_backend.exceptions import DatabaseBusy, is_database_locked

from .logging import current_request_id

logger = logging.getLogger(__name__)

# An id a proxy or load balancer already gave the request is kept when it looks like one (no log injection).
_INCOMING_ID = re.compile(r"[A-Za-z0-9._:=-]{8,128}")


class RequestIdMiddleware:
    """Gives each request an id (the incoming ``X-Request-ID`` when well-formed, else a new one) that every log
    line written while it runs carries (``config.logging``), and answers it as ``X-Request-ID``: an operator finds
    a user's failed request in the logs by the id their browser or client saw."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        # Kept until the request finishes (below): Django logs a 4xx/5xx answer after the middleware returned.
        current_request_id.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


@receiver(request_started)
@receiver(request_finished)
def _forget_request_id(**kwargs: Any) -> None:
    """A worker thread's next request (or its lines between requests) never carries the last request's id."""
    current_request_id.set(None)


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
