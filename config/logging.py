"""Log lines for production: one JSON object per line, each with the id of the request it belongs to.

``RequestIdMiddleware`` (config/middleware.py) puts the request's id into ``current_request_id`` for as long as
the request runs; ``RequestIdFilter`` copies it onto every record the console handler writes (``None`` outside a
request), and gunicorn's access lines take it from the response's ``X-Request-ID`` header (deploy/gunicorn.conf.py).
``JsonFormatter`` blanks what must never be logged even when a caller slips: OAuth query values, JWTs, bearer
credentials, and password/secret/token fields, in the message and in the traceback. No Django import here: the
gunicorn master loads this module before Django is set up.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from celery.signals import task_postrun, task_prerun

from accounts.log_filters import redact as redact_oauth

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

_SECRETS = [
    # A JWT (Cognito's id and access tokens): three base64url parts, the first a JSON object ("eyJ").
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    # key=value, "key": "value" and 'key': 'value' for names ending in a secret's word (password, new_password,
    # refresh_token, client_secret, SECRET_HASH, ConfirmationCode ...); "token_use" or an error "code" stay.
    (
        re.compile(
            r"(?i)([\"']?\b[\w-]*(?:password|passwd|secret|secret_hash|token|verifier|otp|sessionid|session_key"
            r"|(?:confirmation|mfa|totp|sms|user|auth)_?code)[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,&;}\]]+)"
        ),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    """The text with OAuth parameters, JWTs, bearer credentials and secret-named fields blanked."""
    text = redact_oauth(text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` (the current request's id, or ``None``) unless the record has one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id"[, "exception"]}``, one line, secrets blanked."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            # gunicorn passes its atoms as the arguments; the id is the response header the middleware set.
            header = str(record.args.get("{x-request-id}o", "-"))
            request_id = None if header == "-" else header
        if request_id is None:
            request_id = current_request_id.get()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": request_id,
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _task_started(task_id: str | None = None, **kwargs: Any) -> None:
    """A Celery task's log lines carry its task id as their request id."""
    current_request_id.set(task_id)


def _task_finished(**kwargs: Any) -> None:
    current_request_id.set(None)


task_prerun.connect(_task_started, weak=False)
task_postrun.connect(_task_finished, weak=False)
