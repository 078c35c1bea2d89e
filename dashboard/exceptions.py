"""The dashboard's exception hierarchy: each class has a stable ``code`` and the HTTP status it maps to.

The service raises these after it has written the audit row; the API edge (``api.exception_handler``) renders
them in the project's ``{"code", "detail", "fields"}`` shape plus the extra keys in ``extra`` and a
``Retry-After`` header where one applies. Nothing from botocore crosses ``services.py``.
"""

from __future__ import annotations

from typing import Any


class DashboardError(Exception):
    code = "dashboard_error"
    default_detail = "The request could not be completed."
    status_code = 400
    # The audit log's status for an attempt that ended in this error.
    audit_status = "error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
        audit_message: str | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        self.field = field
        self.extra = dict(extra or {})
        self.retry_after = retry_after
        # What the audit log keeps instead of ``detail`` when the detail may quote the payload.
        self.audit_message = audit_message
        super().__init__(self.detail)


class FunctionNotFound(DashboardError):
    code = "function_not_found"
    default_detail = "No such function."
    status_code = 404
    audit_status = "not_found"


class FunctionForbidden(DashboardError):
    code = "function_forbidden"
    default_detail = "You may not call this function."
    status_code = 403
    audit_status = "denied"


class IdentityTokenRequired(FunctionForbidden):
    """The function runs with the caller's identity-pool credentials, which need a Cognito id token."""

    code = "id_token_required"
    default_detail = (
        "This function runs with your own AWS permissions: call it with a Cognito id token "
        "(Authorization: Bearer <id token>)."
    )


class SessionEnded(DashboardError):
    """The session's stored Cognito tokens can no longer be read or renewed: it has been signed out (the API
    answers DRF's 401 ``not_authenticated``)."""

    code = "not_authenticated"
    default_detail = "Your session has ended; please sign in again."
    status_code = 401
    audit_status = "denied"


class AwsAccessDenied(FunctionForbidden):
    code = "aws_access_denied"
    default_detail = "AWS refused the invocation with these credentials."


class InvalidPayload(DashboardError):
    code = "invalid_payload"
    default_detail = "The payload is not valid."
    status_code = 400
    audit_status = "rejected"


class PayloadTooLarge(InvalidPayload):
    code = "payload_too_large"
    default_detail = "The payload is larger than Lambda accepts."
    status_code = 413


class FunctionMisconfigured(DashboardError):
    """The registry entry is broken (e.g. a schema written around the admin's checks): an operator must fix it."""

    code = "function_misconfigured"
    default_detail = "This function is not configured correctly; an administrator must fix it."
    status_code = 500
    audit_status = "error"


class FunctionFailed(DashboardError):
    """The function ran and raised (Lambda's ``FunctionError``)."""

    code = "function_error"
    default_detail = "The function raised an error."
    status_code = 502
    audit_status = "function_error"


class LambdaError(DashboardError):
    """Lambda refused or failed the invocation for a reason that is not the caller's."""

    code = "lambda_error"
    default_detail = "Lambda could not run the function."
    status_code = 502
    audit_status = "error"


class LambdaThrottled(LambdaError):
    code = "throttled"
    default_detail = "Lambda is throttling this function; try again later."
    status_code = 429
    audit_status = "throttled"


class LambdaUnavailable(LambdaError):
    code = "lambda_unavailable"
    default_detail = "Lambda cannot be reached; try again shortly."
    status_code = 503
    audit_status = "unavailable"


class LambdaTimeout(LambdaError):
    code = "lambda_timeout"
    default_detail = "The function did not answer in time. It was not invoked again."
    status_code = 504
    audit_status = "timeout"


class CredentialsUnavailable(LambdaError):
    """The identity pool would not give the caller credentials (the Cognito error's status is kept)."""

    code = "credentials_unavailable"
    default_detail = "Your AWS credentials could not be obtained from the identity pool."
    audit_status = "credentials_error"


class CloudConnectLoginRequired(FunctionForbidden):
    """The function runs with the caller's Cloud Connect login, and there is none (or it can no longer be renewed)."""

    code = "cloud_connect_login_required"
    default_detail = (
        "This function runs with your Cloud Connect login: "
        "connect with Cloud Connect first (/dashboard/cloud-connect/)."
    )


class CloudConnectError(DashboardError):
    """A step of the Cloud Connect login failed; ``step`` says which (1, 2 or 3)."""

    code = "cloud_connect_failed"
    default_detail = "The Cloud Connect login failed."
    status_code = 502
    audit_status = "credentials_error"

    def __init__(self, detail: str | None = None, *, step: int = 0, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.step = step
        self.extra.setdefault("step", step)


class CloudConnectLoginRefused(CloudConnectError):
    """AuthLambda refused the username and password (its own message is the detail)."""

    code = "cloud_connect_login_refused"
    default_detail = "Cloud Connect refused the username or password."
    status_code = 400
