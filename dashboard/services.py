"""Invoking a registered Lambda function for a caller, and auditing every attempt.

``invoke()`` checks, in order: the function exists and is enabled (404), the caller may call it (403), the
payload fits Lambda's limit (413), is strict JSON (400: finite numbers, bounded integers, valid Unicode),
fits the bounds of schema validation (413/400) and meets the function's schema (400); then it calls Lambda
once (``lambda_invoke``: one request, no retry, so a read timeout never runs the function twice) with the
function's credentials (the server's, the caller's identity-pool keys, or the caller's Cloud Connect login from
``cloudconnect``) and maps the outcome. ``invoke_function()`` does the same for a function object (the Python
client's path). Whatever happens,
one ``Invocation`` row records it before the error reaches the caller; if the database refuses the row as
built, it is written again without the stored payload. Logs name the function, the user and the outcome,
never the payload or a credential.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models.signals import post_save, pre_save

from cognito_backend import exceptions as cognito_exceptions

from . import aws, lambda_invoke, payloads, selectors
from .conf import dashboard_settings
from .exceptions import (
    AwsAccessDenied,
    CredentialsUnavailable,
    DashboardError,
    FunctionFailed,
    FunctionForbidden,
    FunctionMisconfigured,
    IdentityTokenRequired,
    InvalidPayload,
    LambdaError,
    LambdaThrottled,
    LambdaTimeout,
    LambdaUnavailable,
    PayloadTooLarge,
)
from .models import Invocation, LambdaFunction
from .selectors import Caller

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawPayload:
    """The request body as received. ``complete`` is False when reading stopped at the absolute limit."""

    data: bytes
    size: int
    complete: bool = True

    @classmethod
    def of(cls, data: bytes) -> RawPayload:
        return cls(data=data, size=len(data))


@dataclass(frozen=True)
class InvocationResult:
    invocation: Invocation
    status_code: int
    result: Any
    result_format: str = "json"

    @property
    def duration_ms(self) -> float | None:
        return self.invocation.duration_ms


# Lambda error codes that mean "the service or the function is not ready": try again later (503).
_UNAVAILABLE = {
    "ServiceException",
    "ResourceNotReadyException",
    "ResourceConflictException",
    "ServiceUnavailableException",
    "InternalFailure",
}
# Codes that say the credentials may not invoke the function.
_DENIED = {
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "KMSAccessDeniedException",
}


def invoke(caller: Caller, name: str, raw: RawPayload) -> InvocationResult:
    """Invoke function ``name`` with ``raw`` for ``caller``; raises ``DashboardError`` (after auditing)."""
    record = _record(caller, name, raw)
    try:
        function = selectors.function_by_name(name)
    except DashboardError as error:
        finish(record, error.audit_status, error.status_code, error=error)
        raise
    return _invoke(caller, function, raw, record, check_access=True)


def invoke_function(
    caller: Caller, function: LambdaFunction, raw: RawPayload, *, check_access: bool = False
) -> InvocationResult:
    """Invoke ``function`` (a registry row or an unsaved one) for ``caller``, as ``invoke`` does.

    The Python client calls this with its Cloud Connect login: the identity's AWS permissions decide.
    """
    return _invoke(caller, function, raw, _record(caller, function.name, raw), check_access=check_access)


def _record(caller: Caller, name: str, raw: RawPayload) -> Invocation:
    return Invocation(
        user=caller.user if getattr(caller.user, "pk", None) else None,
        username=caller.username[:150],
        function_key=payloads.storable(name[:170]),
        payload_size=raw.size,
        payload_sha256=payloads.sha256(raw.data) if raw.complete else "",
    )


def _invoke(
    caller: Caller, function: LambdaFunction, raw: RawPayload, record: Invocation, *, check_access: bool
) -> InvocationResult:
    try:
        if function.pk is not None:
            record.function = function
        record.function_key = function.name
        record.aws_function_name = function.function_name
        record.invocation_type = function.invocation_type
        record.credentials = function.credentials
        if check_access and not selectors.may_call(caller, function):
            raise FunctionForbidden(f"You may not call {function.name!r}.")
        payload = check_payload(function, raw)
        record.payload = payloads.stored_form(payload, raw.size)
        result = _call(function, caller, raw.data, record)
    except DashboardError as error:
        finish(record, error.audit_status, error.status_code, error=error)
        raise
    except Exception:
        # A bug of ours still leaves a trace of the attempt (the response is the project's JSON 500).
        finish(record, Invocation.Status.ERROR, 500, error=DashboardError("Internal error.", code="server_error"))
        raise
    status = Invocation.Status.QUEUED if function.is_event else Invocation.Status.SUCCEEDED
    finish(record, status, result.status_code)
    return result


def check_payload(function: LambdaFunction, raw: RawPayload) -> Any:
    """The parsed payload, or ``PayloadTooLarge`` / ``InvalidPayload`` naming the problem."""
    limit = payloads.limit_for(function.is_event)
    if not raw.complete or raw.size > limit:
        kind = "an event" if function.is_event else "a synchronous invocation"
        raise PayloadTooLarge(
            f"The payload is {raw.size} bytes; Lambda accepts at most {limit} bytes for {kind}.",
            field="payload",
            extra={"limit": limit, "size": raw.size},
        )
    try:
        payload = payloads.parse(raw.data)
    except payloads.PayloadError as exc:
        raise InvalidPayload(str(exc), code="invalid_json", field="payload") from None
    if function.payload_schema is not None:
        problem = payloads.schema_problem(function.payload_schema)
        if problem:
            logger.error("lambda function %s has an invalid payload schema: %s", function.name, problem)
            raise FunctionMisconfigured()
        bounds = payloads.bounds_problem(raw.size, payload)
        if bounds:
            code, message, bound = bounds
            error_class = PayloadTooLarge if code == "payload_too_large" else InvalidPayload
            raise error_class(message, code=code, field="payload", extra={"limit": bound})
        try:
            failure = payloads.schema_failure(payload, function.payload_schema)
        except payloads.ValidationAborted as exc:
            logger.error("lambda function %s: schema validation recursed too deeply", function.name)
            raise InvalidPayload(str(exc), code="payload_too_complex", field="payload") from None
        except payloads.SchemaPatternError:
            logger.error("lambda function %s has a schema pattern RE2 cannot run", function.name)
            raise FunctionMisconfigured() from None
        if failure:
            message, summary = failure
            raise InvalidPayload(
                f"The payload does not meet the function's schema: {message}",
                code="schema_mismatch",
                field="payload",
                audit_message=summary,
            )
    return payload


def _client(function: LambdaFunction, caller: Caller, record: Invocation) -> Any:
    if function.credentials == LambdaFunction.Credentials.CLOUD_CONNECT:
        from . import cloudconnect  # it calls Lambda through this module

        connect_credentials = cloudconnect.credentials_for(caller)
        record.identity_id = connect_credentials.identity_id[:64]
        return aws.caller_client(function.timeout, connect_credentials)
    if function.credentials != LambdaFunction.Credentials.CALLER:
        return aws.server_client(function.timeout)
    id_token = caller.id_token or (caller.id_token_source() if caller.id_token_source is not None else "")
    if not id_token:
        raise IdentityTokenRequired()
    try:
        credentials = aws.caller_credentials(id_token)
    except cognito_exceptions.CognitoError as exc:
        # The identity pool's refusal keeps its own status (401 for a refused token, 503 when unreachable ...).
        error = CredentialsUnavailable(f"{CredentialsUnavailable.default_detail} ({exc.detail})", code=exc.code)
        error.status_code = exc.status_code
        if isinstance(exc, cognito_exceptions.Throttled):
            error.retry_after = exc.retry_after
        raise error from exc
    record.identity_id = credentials.identity_id[:64]
    return aws.caller_client(function.timeout, credentials)


def _call(function: LambdaFunction, caller: Caller, data: bytes, record: Invocation) -> InvocationResult:
    return call_lambda(function, _client(function, caller, record), data, record)


def call_lambda(function: LambdaFunction, client: Any, data: bytes, record: Invocation) -> InvocationResult:
    """Invoke ``function`` once with ``client``; fills ``record`` and raises ``DashboardError`` on failure."""
    started = time.perf_counter()
    try:
        response = lambda_invoke.invoke(client, function.function_name, function.invocation_type, data)
        body = response["Payload"].read() if "Payload" in response else b""
    except ClientError as exc:
        record.aws_request_id = str(exc.response.get("ResponseMetadata", {}).get("RequestId", ""))[:64]
        raise _from_client_error(exc, function) from exc
    except ReadTimeoutError as exc:
        raise LambdaTimeout(
            f"{function.name} did not answer within {aws.read_timeout_for(function.timeout):.0f} s; "
            "it was not invoked again."
        ) from exc
    except (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError) as exc:
        raise LambdaUnavailable(retry_after=int(dashboard_settings.RETRY_AFTER)) from exc
    except ParamValidationError as exc:
        raise LambdaError(f"Lambda refused the request before sending it: {exc}", code="invalid_request") from exc
    except BotoCoreError as exc:
        raise LambdaUnavailable(
            f"Lambda could not be reached ({type(exc).__name__}).", retry_after=int(dashboard_settings.RETRY_AFTER)
        ) from exc
    finally:
        record.duration_ms = round((time.perf_counter() - started) * 1000, 3)

    metadata = response.get("ResponseMetadata", {})
    record.aws_request_id = str(metadata.get("RequestId", ""))[:64]
    record.executed_version = str(response.get("ExecutedVersion", ""))[:64]
    record.result_size = len(body)
    status_code = int(response.get("StatusCode", 200))
    if response.get("FunctionError"):
        raise _function_failed(function, str(response["FunctionError"]), body)
    if function.is_event:
        return InvocationResult(record, status_code, None, "none")
    if not body.strip():
        return InvocationResult(record, status_code, None)
    try:
        # As strict as for payloads (duplicate keys aside): a result with NaN, 1e999, a 5,000-digit integer or a
        # lone surrogate could not be rendered as JSON, so the caller gets it as text.
        return InvocationResult(record, status_code, payloads.parse(body, allow_duplicates=True))
    except payloads.PayloadError:
        return InvocationResult(record, status_code, body.decode("utf-8", "replace"), "text")


def _function_failed(function: LambdaFunction, kind: str, body: bytes) -> FunctionFailed:
    limit = int(dashboard_settings.MAX_ERROR_MESSAGE)
    error_type, message = "", ""
    try:
        answer = payloads.parse(body, allow_duplicates=True)
    except payloads.PayloadError:
        answer = None
    if isinstance(answer, dict):
        error_type = str(answer.get("errorType") or "")
        message = str(answer.get("errorMessage") or "")
    elif body:
        message = body.decode("utf-8", "replace")
    error_type = error_type[:128] or kind
    message = message[:limit]
    detail = f"{function.name} raised {error_type}" + (f": {message}" if message else ".")
    return FunctionFailed(
        detail,
        extra={"error_type": error_type, "error_message": message, "function_error": kind},
    )


def _retry_after(exc: ClientError) -> int:
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    for value in (headers.get("retry-after"), exc.response.get("retryAfterSeconds")):
        try:
            if value is not None:
                return max(1, min(int(float(value)), 3600))
        except (TypeError, ValueError):
            continue
    return int(dashboard_settings.RETRY_AFTER)


def _from_client_error(exc: ClientError, function: LambdaFunction) -> DashboardError:
    info = exc.response.get("Error", {})
    aws_code = str(info.get("Code", "")) or "Unknown"
    message = str(info.get("Message", ""))[:300]
    http_status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    code = _snake(aws_code)
    if aws_code in {"TooManyRequestsException", "ThrottlingException", "Throttling"}:
        return LambdaThrottled(retry_after=_retry_after(exc), extra={"aws_error": aws_code})
    if aws_code == "ResourceNotFoundException":
        return LambdaError(
            f"{function.name} is registered here but Lambda has no function {function.function_name!r}.",
            code="function_missing",
            extra={"aws_error": aws_code},
        )
    if aws_code in _DENIED:
        if function.credentials != LambdaFunction.Credentials.SERVER:
            return AwsAccessDenied(extra={"aws_error": aws_code})
        return LambdaError(
            "The server's AWS role may not invoke this function.", code=code, extra={"aws_error": aws_code}
        )
    if aws_code == "RequestTooLargeException" or http_status == 413:
        return PayloadTooLarge("Lambda refused the payload as too large.", field="payload")
    if aws_code == "InvalidRequestContentException":
        return InvalidPayload(f"Lambda refused the payload: {message}", code="invalid_json", field="payload")
    if aws_code in _UNAVAILABLE or http_status >= 500:
        return LambdaUnavailable(
            f"Lambda is not ready to run {function.name} ({aws_code}); try again shortly.",
            code="lambda_unavailable",
            retry_after=_retry_after(exc),
            extra={"aws_error": aws_code},
        )
    return LambdaError(f"Lambda refused the invocation ({aws_code}).", code=code, extra={"aws_error": aws_code})


def _snake(aws_code: str) -> str:
    name = aws_code.removesuffix("Exception")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")[:64]


def finish(record: Invocation, status: str, http_status: int, *, error: DashboardError | None = None) -> None:
    record.status = status
    record.http_status = http_status
    if error is not None:
        record.error_code = error.code[:64]
        record.error_type = payloads.storable(str(error.extra.get("error_type", ""))[:128])
        message = str(error.audit_message or error.extra.get("error_message") or error.detail)
        record.error_message = payloads.storable(message)
    _save(record)
    logger.info(
        "lambda invocation %s of %s by %s: %s %s",
        record.pk,
        record.function_key,
        record.username or "-",
        record.status,
        record.error_code or "",
    )


def _save(record: Invocation) -> None:
    """Writes the audit row; when the database refuses it as built, writes it again without the stored payload.

    Lambda may already have run: the attempt must be on record whatever the stored payload holds.
    """
    alias = router.db_for_write(Invocation, instance=record)
    try:
        if connections[alias].in_atomic_block:
            with transaction.atomic(using=alias):  # a savepoint: a refusal leaves the caller's transaction usable
                _insert(record, alias)
        else:
            _insert(record, alias)  # one INSERT in autocommit: atomic by itself, no BEGIN/COMMIT round trips
        return
    except (DatabaseError, ValueError, UnicodeError) as exc:
        logger.error(
            "audit row for %s refused (%s); written without the payload", record.function_key, type(exc).__name__
        )
    record.pk = None
    record._state.adding = True
    record.payload = None
    _insert(record, alias)


def _insert(record: Invocation, alias: str) -> None:
    """``record.save()`` as one prepared INSERT, without the ORM's per-save machinery.

    On the invoke path the ORM's save (query compilation, ``Model.save`` bookkeeping) cost more CPU than anything
    else of ours. The values are the ones the ORM would send: ``pre_save`` with ``add=True`` (``created_at`` is
    stamped) and ``get_db_prep_save``, except for plain fields holding a str, int, float or None, whose prepared
    value is the value itself (``_PLAIN_FIELDS``). The SQL is built once per database and the new id comes back
    with RETURNING where the backend has it. When anything listens to ``Invocation``'s ``pre_save`` or
    ``post_save`` signals, ``record.save()`` runs instead, so receivers are never skipped. A test compares the row
    with the one ``save()`` writes.
    """
    if pre_save.has_listeners(Invocation) or post_save.has_listeners(Invocation):
        record.save(using=alias)
        return
    connection = connections[alias]
    fields, plain, sql, returning = _insert_statement(alias)
    values = [
        value
        if is_plain and type(value := getattr(record, field.attname)) in _PLAIN_TYPES
        else field.get_db_prep_save(field.pre_save(record, True), connection)
        for field, is_plain in zip(fields, plain, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if returning:
            row = cursor.fetchone()
            record.pk = row[0]
        else:  # pragma: no cover - backends without RETURNING (MySQL)
            record.pk = connection.ops.last_insert_id(cursor, Invocation._meta.db_table, Invocation._meta.pk.column)
    record._state.adding = False
    record._state.db = alias


# Fields whose prepared value is the attribute itself when it is a str, int, float or None: CharField and TextField
# (``to_python`` of a str), the integer fields and FloatField (``int()``/``float()`` of one), and foreign keys to an
# integer key. Every other field (the JSON payload, ``created_at`` with its ``pre_save``) is prepared by the field.
_PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.FloatField)
_PLAIN_TYPES = frozenset({str, int, float, type(None)})
_INSERT_STATEMENTS: dict[str, tuple[list[Any], list[bool], str, bool]] = {}


def _is_plain(field: Any) -> bool:
    if isinstance(field, models.ForeignKey):
        return isinstance(field.target_field, models.IntegerField)
    return isinstance(field, _PLAIN_FIELDS)


def _insert_statement(alias: str) -> tuple[list[Any], list[bool], str, bool]:
    statement = _INSERT_STATEMENTS.get(alias)
    if statement is None:
        connection = connections[alias]
        quote = connection.ops.quote_name
        meta = Invocation._meta
        fields = [field for field in meta.concrete_fields if field is not meta.pk]
        returning = bool(connection.features.can_return_columns_from_insert)
        # Identifiers from the model's own meta, quoted by the backend; every value is a parameter.
        columns = ", ".join(quote(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        if returning:
            sql += f" RETURNING {quote(meta.pk.column)}"
        statement = _INSERT_STATEMENTS[alias] = (fields, [_is_plain(field) for field in fields], sql, returning)
    return statement
