"""Payload rules: Lambda's size limits, strict JSON parsing, JSON Schema checks and redaction for the audit log.

Messages name the problem (line and column of a syntax error, the JSON path of a schema failure) but never
repeat the payload itself: error messages end up in logs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, cast

from jsonschema import exceptions as schema_exceptions
from jsonschema import validators

from .conf import dashboard_settings

REDACTED = "[redacted]"


class PayloadError(ValueError):
    """The payload is not acceptable; ``str()`` says why."""


def limit_for(is_event: bool) -> int:
    return int(dashboard_settings.MAX_EVENT_PAYLOAD if is_event else dashboard_settings.MAX_SYNC_PAYLOAD)


def absolute_limit() -> int:
    return max(limit_for(True), limit_for(False))


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadError(f"Duplicate key {key!r} in an object.")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise PayloadError(f"{name} is not valid JSON.")


def parse(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity; the error names the line and column."""
    if not raw.strip():
        raise PayloadError("The payload is empty; send a JSON value such as {}.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"The payload is not UTF-8 (byte {exc.start}).") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except RecursionError:
        raise PayloadError("The payload is nested too deeply.") from None


@lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    schema = json.loads(schema_text)
    cls = validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _schema_key(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True)


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a usable JSON Schema, or None."""
    if not isinstance(schema, (Mapping, bool)):
        return "A JSON Schema is an object (or true/false)."
    return _schema_problem(_schema_key(schema))


@lru_cache(maxsize=256)
def _schema_problem(schema_text: str) -> str | None:
    schema = json.loads(schema_text)
    try:
        validators.validator_for(schema).check_schema(cast(Any, schema))
    except schema_exceptions.SchemaError as exc:
        return f"Not a valid JSON Schema: {exc.message}"
    return None


def _path(error: schema_exceptions.ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_failure(payload: Any, schema: Any) -> tuple[str, str] | None:
    """Why ``payload`` fails ``schema``, or None when it passes.

    Returns the message for the caller (JSON path and jsonschema's message, which may quote the value) and a
    summary for the audit log that names only the path and the failed keyword, never a value.
    """
    validator = _validator(_schema_key(schema))
    error = schema_exceptions.best_match(validator.iter_errors(payload))
    if error is None:
        return None
    path = _path(error)
    return f"{path}: {error.message}", f"{path}: fails {error.validator!r}"


def validation_problem(payload: Any, schema: Any) -> str | None:
    failure = schema_failure(payload, schema)
    return failure[0] if failure else None


def storable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL's text and jsonb refuse."""
    return text.replace("\x00", "\ufffd")


def redact(value: Any, fields: frozenset[str]) -> Any:
    """A copy of ``value`` with every object member named in ``fields`` (lower-case) replaced, at any depth."""
    if isinstance(value, Mapping):
        return {storable(str(k)): REDACTED if str(k).lower() in fields else redact(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, fields) for item in value]
    if isinstance(value, str):
        return storable(value)
    return value


def stored_form(payload: Any, size: int) -> Any:
    """What the audit log keeps of a payload: nothing unless configured, and then redacted."""
    if not dashboard_settings.STORE_PAYLOADS or size > int(dashboard_settings.MAX_STORED_PAYLOAD):
        return None
    fields = frozenset(str(f).lower() for f in dashboard_settings.REDACT_FIELDS)
    return redact(payload, fields)
