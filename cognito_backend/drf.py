"""DRF edge: every API error becomes one JSON shape, ``{"code": ..., "detail": ..., "fields": {...}}``.

Set ``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "cognito_backend.drf.exception_handler"``. Clients branch on the
stable ``code``; ``detail`` is for people; ``fields`` (only for input errors) maps an input name to its messages.
The app's own ``CognitoError`` hierarchy is mapped here once, so views may simply let it propagate. A 401 always
carries ``WWW-Authenticate`` (RFC 7235), taken from the view's authenticators when it has any.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .exceptions import CognitoError, DatabaseBusy, IdpError, Throttled, is_database_locked

logger = logging.getLogger(__name__)

DEFAULT_WWW_AUTHENTICATE = 'Bearer realm="api"'


class CognitoAPIException(exceptions.APIException):
    """An ``APIException`` carrying a ``CognitoError``'s status, code and detail."""

    def __init__(self, error: CognitoError) -> None:
        self.status_code = error.status_code
        super().__init__(detail=error.detail, code=error.code)
        self.error = error


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested serializer errors as ``{"a.b": ["message"]}``; list items keep their index."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (Mapping, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _first_code(detail: Any) -> str | None:
    if isinstance(detail, exceptions.ErrorDetail):
        return detail.code
    if isinstance(detail, Mapping):
        for value in detail.values():
            code = _first_code(value)
            if code:
                return code
    if isinstance(detail, list):
        for item in detail:
            code = _first_code(item)
            if code:
                return code
    return None


def _www_authenticate(context: Mapping[str, Any]) -> str:
    view = context.get("view")
    request = context.get("request")
    getter = getattr(view, "get_authenticate_header", None)
    if getter is not None and request is not None:
        try:
            header = getter(request)
        except Exception:  # noqa: BLE001 - a broken view must not turn a 401 into a 500
            header = None
        if header:
            return str(header)
    return DEFAULT_WWW_AUTHENTICATE


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render ``exc`` as ``{"code", "detail"[, "fields"]}``; unexpected errors become a logged JSON 500."""
    if is_database_locked(exc):
        # A database that stays locked (SQLite's busy timeout ran out) is load, not a bug: 503 and come back.
        logger.warning("database locked past its busy timeout: %s", exc)
        exc = DatabaseBusy()
    if isinstance(exc, CognitoError):
        api_exc: Exception = CognitoAPIException(exc)
    elif isinstance(exc, Http404):
        api_exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        api_exc = exceptions.PermissionDenied()
    else:
        api_exc = exc
    response = drf_exception_handler(api_exc, context)
    if response is None:
        view = context.get("view")
        logger.exception("unhandled error in %s", type(view).__name__ if view is not None else "view", exc_info=exc)
        return Response(
            {"code": "server_error", "detail": "Internal server error."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    assert isinstance(api_exc, exceptions.APIException)
    body: dict[str, Any]
    if isinstance(api_exc, exceptions.ValidationError):
        # One field's own code ("required", "max_length" ...) says little about the request: "invalid" does.
        body = {"code": "invalid", "detail": "Invalid input.", "fields": _flatten(api_exc.detail)}
    else:
        detail = api_exc.detail
        code = _first_code(detail) or api_exc.default_code
        body = {"code": code, "detail": str(detail) if not isinstance(detail, (list, dict)) else "Request failed."}
        if isinstance(detail, (list, dict)):
            body["fields"] = _flatten(detail)
    if isinstance(exc, IdpError) and exc.field:
        body.setdefault("fields", {})[exc.field] = [exc.detail]
    if isinstance(exc, (Throttled, DatabaseBusy)):
        response["Retry-After"] = str(exc.retry_after)
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = _www_authenticate(context)
    response.data = body
    return response
