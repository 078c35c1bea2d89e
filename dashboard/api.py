"""The API edge of the dashboard: the request body parser and the mapping of ``DashboardError`` to responses.

Errors keep the project's shape (``{"code", "detail", "fields"}``, rendered by the configured DRF exception
handler) and add what the caller needs to act: ``error_type``/``error_message`` of a FunctionError, the size
limit of a 413, and ``Retry-After`` on 429 and 503.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from rest_framework import exceptions
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from . import payloads
from .exceptions import DashboardError
from .services import RawPayload


class RawJSONParser(BaseParser):
    """Hands the body over unparsed (``RawPayload``): the service hashes, size-checks and parses it itself.

    It reads at most Lambda's largest limit plus one byte, so a huge body is neither held in memory nor stopped
    by ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (which would answer 400 where Lambda's limit calls for 413).
    """

    media_type = "application/json"

    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> RawPayload:
        limit = payloads.absolute_limit()
        request = (parser_context or {}).get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except (TypeError, ValueError):
            declared = 0
        if stream is None:
            return RawPayload.of(b"")
        if declared > limit:
            return RawPayload(b"", declared, complete=False)
        data = stream.read(limit + 1)
        if len(data) > limit:
            return RawPayload(b"", max(declared, len(data)), complete=False)
        return RawPayload.of(data)


class DashboardAPIException(exceptions.APIException):
    def __init__(self, error: DashboardError) -> None:
        self.status_code = error.status_code
        super().__init__(detail=error.detail, code=error.code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The project's handler, with ``DashboardError`` translated first and its extras added."""
    handler = cast(Callable[[Exception, dict[str, Any]], Response | None], api_settings.EXCEPTION_HANDLER)
    if not isinstance(exc, DashboardError):
        return handler(exc, context)
    response = handler(DashboardAPIException(exc), context)
    if response is None:
        return None
    data = dict(response.data or {})
    data["code"] = exc.code
    data["detail"] = exc.detail
    if exc.field:
        data.setdefault("fields", {})[exc.field] = [exc.detail]
    data.update(exc.extra)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
        data["retry_after"] = exc.retry_after
    response.data = data
    return response
