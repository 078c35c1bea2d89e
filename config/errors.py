"""Site error handlers: ``handler500`` answers 503 busy when the failure was a database locked past its timeout.

``DatabaseBusyMiddleware`` and the DRF handler turn a lock met inside a view into a 503; a lock met outside any
view (the session saved by ``SessionMiddleware`` on the way out, say) only reaches Django's last-resort handler,
which is this one. Anything else is Django's own 500 page.
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.views.defaults import server_error as django_server_error

from cognito_backend.exceptions import DatabaseBusy, is_database_locked


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    if isinstance(error, Exception) and is_database_locked(error):
        response = HttpResponse(
            "<!doctype html><title>Busy</title><h1>The site is busy</h1><p>Please try again in a moment.</p>",
            status=DatabaseBusy.status_code,
            content_type="text/html; charset=utf-8",
        )
        response["Retry-After"] = str(DatabaseBusy.retry_after)
        return response
    return django_server_error(request)
