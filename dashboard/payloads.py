"""Payload rules: Lambda's size limits, strict JSON parsing, bounded JSON Schema checks and audit redaction.

Messages name the problem (line and column of a syntax error, the JSON path of a schema failure) but never
repeat the payload itself: error messages end up in logs.

Schema validation is bounded so that no payload can make it slow or crash it: the payload's size, depth and
widest array or object are checked first; ``pattern`` and ``patternProperties`` run on RE2, whose time is
linear in the input (Python's ``re`` backtracks, exponentially for patterns such as ``(a+)+$``); and
``uniqueItems`` hashes items instead of comparing every pair. A schema is checked for these when it is saved.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import re2  # type: ignore[import-untyped]
from jsonschema import _keywords, _legacy_keywords, _utils, validators
from jsonschema import exceptions as schema_exceptions

from .conf import dashboard_settings

REDACTED = "[redacted]"


class PayloadError(ValueError):
    """The payload is not acceptable; ``str()`` says why."""


class ValidationAborted(PayloadError):
    """Validation against the schema could not finish (it recursed too deeply)."""


class SchemaPatternError(ValueError):
    """A pattern of the schema cannot run on RE2 (found at validation time: the schema escaped the checks)."""


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
            raise PayloadError(f"Duplicate key {_shown(key)!r} in an object.")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise PayloadError(f"{name} is not valid JSON.")


class _LongInteger:
    """Stands in for an integer literal with too many digits, so that the walk can say where it is."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


# A \uD800-\uDFFF escape: the only way a lone surrogate gets into a str (UTF-8 decoding refuses them).
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE_SURROGATE = "a lone UTF-16 surrogate (\\uD800-\\uDFFF), which is not valid Unicode."


def parse(raw: bytes, *, allow_duplicates: bool = False) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, finite numbers, integers of bounded length,
    valid Unicode (no lone surrogate escapes); the error names the line and column or the JSON path.

    Lambda gets the bytes as sent; these rules keep out what this server (the audit log, the schema check,
    the JSON answer) or the function's runtime could not handle.
    """
    if not raw.strip():
        raise PayloadError("The payload is empty; send a JSON value such as {}.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"The payload is not UTF-8 (byte {exc.start}).") from None
    max_digits = int(dashboard_settings.MAX_INTEGER_DIGITS)
    suspect = False

    def parse_float(literal: str) -> float:
        nonlocal suspect
        value = float(literal)
        if not math.isfinite(value):
            suspect = True
        return value

    def parse_int(literal: str) -> int | _LongInteger:
        nonlocal suspect
        digits = len(literal) - literal.startswith("-")
        if digits > max_digits:
            suspect = True
            return _LongInteger(digits)
        return int(literal)

    try:
        value = json.loads(
            text,
            object_pairs_hook=None if allow_duplicates else _no_duplicates,
            parse_constant=_no_constants,
            parse_float=parse_float,
            parse_int=parse_int,
        )
    except json.JSONDecodeError as exc:
        raise PayloadError(f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except RecursionError:
        raise PayloadError("The payload is nested too deeply.") from None
    if suspect or _ESCAPED_SURROGATE.search(text):
        problem = inspect(value).problem
        if problem:
            raise PayloadError(problem)
    return value


# A JSON path as a linked list (parent, key), built only when a message needs it.
_Link = tuple[Any, str | int] | None


def _shown(key: str) -> str:
    """A key as it may appear in a message: no surrogates (they cannot be encoded), at most 100 characters."""
    key = _SURROGATE.sub("\ufffd", key)
    return key if len(key) <= 100 else key[:100] + "…"


def _render(link: _Link) -> str:
    parts: list[str] = []
    while link is not None:
        link, key = link
        parts.append(f"[{key}]" if isinstance(key, int) else f".{_shown(key)}")
    return "$" + "".join(reversed(parts))


@dataclass(frozen=True)
class Inspection:
    """What a walk over a parsed payload found: the first problem (or None), its depth and widest container."""

    problem: str | None
    depth: int
    widest: int
    widest_at: str = "$"
    deepest_at: str = "$"


def inspect(value: Any) -> Inspection:
    """Walks ``value`` without recursion (it may be as deep as the parser allows) in document order."""
    max_digits = int(dashboard_settings.MAX_INTEGER_DIGITS)
    depth = widest = 0
    widest_link: _Link = None
    deepest_link: _Link = None
    stack: list[tuple[Any, _Link, int]] = [(value, None, 0)]
    while stack:
        node, link, level = stack.pop()
        problem = None
        if isinstance(node, dict):
            level += 1
            for key in node:
                if _SURROGATE.search(key):
                    problem = f"{_render(link)}: a member name holds {_LONE_SURROGATE}"
                    break
            stack.extend((item, (link, key), level) for key, item in reversed(node.items()))
        elif isinstance(node, list):
            level += 1
            stack.extend((item, (link, index), level) for index, item in reversed(list(enumerate(node))))
        elif isinstance(node, str):
            if _SURROGATE.search(node):
                problem = f"{_render(link)}: the string holds {_LONE_SURROGATE}"
        elif isinstance(node, float):
            if not math.isfinite(node):
                problem = f"{_render(link)}: the number is too large (it is not a finite 64-bit float)."
        elif isinstance(node, _LongInteger):
            problem = f"{_render(link)}: an integer of {node.digits} digits; at most {max_digits} digits are accepted."
        if problem:
            return Inspection(problem, depth, widest, _render(widest_link), _render(deepest_link))
        if isinstance(node, (dict, list)):
            if level > depth:
                depth, deepest_link = level, link
            if len(node) > widest:
                widest, widest_link = len(node), link
    return Inspection(None, depth, widest, _render(widest_link), _render(deepest_link))


def bounds_problem(raw_size: int, value: Any) -> tuple[str, str, int] | None:
    """Why ``value`` is too large to check against a schema: (code, message, limit), or None.

    Validation time grows with the payload (and faster than linearly for some keywords such as
    ``unevaluatedProperties``), and its recursion with the payload's depth.
    """
    max_size = int(dashboard_settings.SCHEMA_MAX_PAYLOAD)
    if raw_size > max_size:
        return (
            "payload_too_large",
            f"The payload is {raw_size} bytes; payloads checked against a schema may be at most {max_size} bytes.",
            max_size,
        )
    shape = inspect(value)
    max_depth = int(dashboard_settings.SCHEMA_MAX_DEPTH)
    if shape.depth > max_depth:
        return (
            "payload_too_complex",
            f"{shape.deepest_at}: the payload is nested {shape.depth} levels deep; "
            f"at most {max_depth} levels are checked against a schema.",
            max_depth,
        )
    max_items = int(dashboard_settings.SCHEMA_MAX_ITEMS)
    if shape.widest > max_items:
        return (
            "payload_too_complex",
            f"{shape.widest_at}: {shape.widest} items or members; "
            f"at most {max_items} per array or object are checked against a schema.",
            max_items,
        )
    return None


# --- RE2-backed keywords -------------------------------------------------------------------------------------


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise write every refused pattern to stderr
    return options


_RE2_OPTIONS = _re2_options()


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except (re2.error, UnicodeError) as exc:
        raise SchemaPatternError(_re2_message(exc)) from None


def _re2_message(exc: Exception) -> str:
    if isinstance(exc, UnicodeError):
        return "not valid Unicode"
    reason = exc.args[0] if exc.args else exc
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def pattern_problem(pattern: str) -> str | None:
    try:
        _regex(pattern)
    except SchemaPatternError as exc:
        return (
            f"the pattern {_shown(pattern)!r} cannot run on RE2 ({exc}); "
            "lookaround and backreferences are not supported."
        )
    return None


def _search(pattern: str, text: str) -> bool:
    return _regex(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[schema_exceptions.ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield schema_exceptions.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[schema_exceptions.ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[schema_exceptions.ValidationError]:
    """jsonschema's ``additionalProperties`` with the ``patternProperties`` match made on RE2."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        key for key in instance if key not in properties and not any(_search(pattern, key) for pattern in patterns)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        joined = ", ".join(repr(each) for each in sorted(extras))
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            listed = ", ".join(repr(each) for each in sorted(patterns))
            yield schema_exceptions.ValidationError(f"{joined} {verb} not match any of the regexes: {listed}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield schema_exceptions.ValidationError(
                f"Additional properties are not allowed ({joined} {verb} unexpected)"
            )


def _canonical(value: Any) -> Any:
    """A hashable form that is equal exactly when JSON Schema calls two values equal (1 == 1.0, true != 1)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("a", tuple(_canonical(item) for item in value))
    if isinstance(value, dict):
        return ("o", frozenset((key, _canonical(item)) for key, item in value.items()))
    return ("z", None)


def _unique_items(
    validator: Any, unique: Any, instance: Any, schema: Any
) -> Iterator[schema_exceptions.ValidationError]:
    """Linear in the array (jsonschema 4.25 compares every pair when items are objects or mixed types)."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Any] = set()
    for item in instance:
        key = _canonical(item)
        if key in seen:
            yield schema_exceptions.ValidationError("The array has non-unique elements.")
            return
        seen.add(key)


_Check = Callable[..., Iterator[schema_exceptions.ValidationError]]


def _unevaluated_properties(find: Callable[..., Any]) -> _Check:
    """jsonschema's ``unevaluatedProperties`` with the evaluated keys in a set (it searches a list per key)."""

    def check(validator: Any, unevaluated: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        evaluated = set(find(validator, instance, schema))
        failing = [
            key
            for key in instance
            if key not in evaluated
            and next(iter(validator.descend(instance[key], unevaluated, path=key, schema_path=key)), None)
        ]
        if not failing:
            return
        if unevaluated is False:
            joined, verb = _extras(sorted(failing, key=str))
            yield schema_exceptions.ValidationError(
                f"Unevaluated properties are not allowed ({joined} {verb} unexpected)"
            )
        else:
            joined, verb = _extras(failing)
            yield schema_exceptions.ValidationError(
                f"Unevaluated properties are not valid under the given schema ({joined} {verb} unevaluated and invalid)"
            )

    return check


def _unevaluated_items(find: Callable[..., Any]) -> _Check:
    """jsonschema's ``unevaluatedItems`` with the evaluated indexes in a set (it searches a list per item)."""

    def check(validator: Any, unevaluated: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if not validator.is_type(instance, "array"):
            return
        evaluated = set(find(validator, instance, schema))
        extras = [item for index, item in enumerate(instance) if index not in evaluated]
        if extras:
            joined, verb = _extras(extras)
            yield schema_exceptions.ValidationError(f"Unevaluated items are not allowed ({joined} {verb} unexpected)")

    return check


def _extras(extras: list[Any]) -> tuple[str, str]:
    return ", ".join(repr(extra) for extra in extras), "was" if len(extras) == 1 else "were"


_OVERRIDES: dict[str, _Check] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "uniqueItems": _unique_items,
}
# The unevaluated* keywords of 2019-09 and 2020-12, each with the finder of evaluated keys/indexes it uses.
_UNEVALUATED: list[tuple[str, Any, _Check]] = [
    (
        "unevaluatedProperties",
        _keywords.unevaluatedProperties,
        _unevaluated_properties(_utils.find_evaluated_property_keys_by_schema),
    ),
    (
        "unevaluatedProperties",
        _legacy_keywords.unevaluatedProperties_draft2019,
        _unevaluated_properties(_legacy_keywords.find_evaluated_property_keys_by_schema),
    ),
    ("unevaluatedItems", _keywords.unevaluatedItems, _unevaluated_items(_utils.find_evaluated_item_indexes_by_schema)),
    (
        "unevaluatedItems",
        _legacy_keywords.unevaluatedItems_draft2019,
        _unevaluated_items(_legacy_keywords.find_evaluated_item_indexes_by_schema),
    ),
]


@lru_cache(maxsize=16)
def _bounded_class(base: Any) -> Any:
    overrides = {keyword: check for keyword, check in _OVERRIDES.items() if keyword in base.VALIDATORS}
    for keyword, original, check in _UNEVALUATED:
        if base.VALIDATORS.get(keyword) is original:
            overrides[keyword] = check
    return validators.extend(base, overrides)  # type: ignore[no-untyped-call]


@lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    schema = json.loads(schema_text)
    base = validators.validator_for(schema)
    return _bounded_class(base)(schema, format_checker=base.FORMAT_CHECKER)


def _schema_key(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True)


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a usable JSON Schema, or None."""
    if not isinstance(schema, (Mapping, bool)):
        return "A JSON Schema is an object (or true/false)."
    try:
        key = _schema_key(schema)
    except (RecursionError, ValueError):
        return "The schema is nested too deeply or holds a value that is not JSON."
    return _schema_problem(key)


# Keywords whose values are data, not schemas: a "pattern" member inside them is not a pattern.
_DATA_KEYWORDS = {"const", "default", "enum", "examples"}


def _subschemas(schema: Any) -> Iterator[Any]:
    """Every object inside ``schema`` that may be a schema (itself included), without recursion.

    Unknown keywords are walked too: a ``$ref`` may point anywhere in the document.
    """
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, Mapping):
            yield node
            stack.extend(value for keyword, value in node.items() if keyword not in _DATA_KEYWORDS)


@lru_cache(maxsize=256)
def _schema_problem(schema_text: str) -> str | None:
    schema = json.loads(schema_text)
    try:
        validators.validator_for(schema).check_schema(cast(Any, schema))
    except schema_exceptions.SchemaError as exc:
        return f"Not a valid JSON Schema: {exc.message}"
    except RecursionError:
        return "The schema is nested too deeply."
    uses_unevaluated = uses_patterns = False
    for node in _subschemas(schema):
        patterns = list(node.get("patternProperties") or {})
        if isinstance(node.get("pattern"), str):
            patterns.append(node["pattern"])
        for pattern in patterns:
            problem = pattern_problem(pattern)
            if problem:
                return f"Not a usable schema: {problem}"
        uses_patterns = uses_patterns or bool(node.get("patternProperties"))
        uses_unevaluated = uses_unevaluated or "unevaluatedProperties" in node
    if uses_patterns and uses_unevaluated:
        # jsonschema matches patternProperties with Python's backtracking re when it evaluates this keyword.
        return "Not a usable schema: unevaluatedProperties cannot be combined with patternProperties here."
    return None


def _path(error: schema_exceptions.ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{_shown(str(part))}"
    return path


def schema_failure(payload: Any, schema: Any) -> tuple[str, str] | None:
    """Why ``payload`` fails ``schema``, or None when it passes.

    Returns the message for the caller (JSON path and jsonschema's message, which may quote the value) and a
    summary for the audit log that names only the path and the failed keyword, never a value. Raises
    ``ValidationAborted`` when validation recursed too deeply (a schema that refers to itself without
    consuming the payload, or a payload deeper than the bounds allow for) and ``SchemaPatternError`` when a
    pattern cannot run on RE2.
    """
    validator = _validator(_schema_key(schema))
    try:
        error = schema_exceptions.best_match(validator.iter_errors(payload))
    except RecursionError:
        raise ValidationAborted("Checking the payload against the schema recursed too deeply.") from None
    if error is None:
        return None
    path = _path(error)
    return f"{path}: {error.message}", f"{path}: fails {error.validator!r}"


def storable(text: str) -> str:
    """``text`` without NUL characters (PostgreSQL's text and jsonb refuse them) or lone surrogates (no
    database encoding can store them)."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", "\ufffd"))


# --- audit redaction ---------------------------------------------------------------------------------------


def _normal(name: str) -> str:
    """Lower-case letters and digits only: ``X-Api-Key``, ``api_key`` and ``apiKey`` all read ``apikey``."""
    return "".join(c for c in name.lower() if c.isalnum())


def _sensitive(name: str, parts: tuple[str, ...]) -> bool:
    normal = _normal(name)
    return any(part in normal for part in parts)


# Objects that name a value instead of keying it: {"name": "password", "value": "..."}, {"Name": ..., "Value": ...}.
_NAME_KEYS = {"name", "key", "field"}
_VALUE_KEYS = {"value", "values"}


def _named_secret(value: Mapping[Any, Any], parts: tuple[str, ...]) -> bool:
    return any(
        str(key).lower() in _NAME_KEYS and isinstance(name, str) and _sensitive(name, parts)
        for key, name in value.items()
    )


def redact(value: Any, parts: tuple[str, ...]) -> Any:
    """A copy of ``value`` with the values of sensitive members replaced, at any depth.

    A member is sensitive when its name, lower-cased and without separators, contains one of ``parts``
    (``DB_Password``, ``x-api-key``, ``refreshToken``), or when it is the ``value`` of an object whose
    ``name`` (or ``key``) is such a name.
    """
    if isinstance(value, Mapping):
        named = _named_secret(value, parts)
        return {
            storable(str(k)): REDACTED
            if _sensitive(str(k), parts) or (named and str(k).lower() in _VALUE_KEYS)
            else redact(v, parts)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(item, parts) for item in value]
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def stored_form(payload: Any, size: int) -> Any:
    """What the audit log keeps of a payload: nothing unless configured, and then redacted."""
    if not dashboard_settings.STORE_PAYLOADS or size > int(dashboard_settings.MAX_STORED_PAYLOAD):
        return None
    parts = tuple(sorted({_normal(str(p)) for p in dashboard_settings.REDACT_FIELDS} - {""}))
    try:
        return redact(payload, parts)
    except RecursionError:
        return None
