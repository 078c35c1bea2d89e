"""The app's exception hierarchy. Each class carries a stable machine-readable ``code``.

Callers map these once at the edge (DRF's exception handler, form errors); nothing from botocore or python-jose
crosses this app's boundary.
"""

from __future__ import annotations


class CognitoError(Exception):
    """Base of every error this app raises."""

    code = "cognito_error"
    default_detail = "Cognito request failed."
    status_code = 400

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        super().__init__(self.detail)


class ConfigurationError(CognitoError):
    code = "configuration_error"
    default_detail = "Cognito is not configured."
    status_code = 500


class ServiceUnavailable(CognitoError):
    """Cognito (or another AWS service) could not be reached or answered with a server error."""

    code = "service_unavailable"
    default_detail = "The identity service is unavailable; try again shortly."
    status_code = 503


class GatewayTimeout(ServiceUnavailable):
    code = "gateway_timeout"
    default_detail = "The identity service did not answer in time; try again shortly."
    status_code = 504


# --- Errors of the Cognito user pool API, translated in idp.py ------------------------------------------------


class IdpError(CognitoError):
    """A refusal by Cognito's API. ``field`` names the input at fault when there is one."""

    def __init__(self, detail: str | None = None, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.field = field


class NotAuthorized(IdpError):
    code = "not_authorized"
    default_detail = "Incorrect username or password."
    status_code = 401


class UserNotFound(IdpError):
    code = "user_not_found"
    default_detail = "No such user."
    status_code = 404


class UsernameExists(IdpError):
    code = "username_exists"
    default_detail = "This username is already taken."
    status_code = 409


class AliasExists(IdpError):
    code = "alias_exists"
    default_detail = "This email or phone number is already in use by another account."
    status_code = 409


class CodeMismatch(IdpError):
    code = "code_mismatch"
    default_detail = "The code is not correct."
    status_code = 400


class CodeExpired(IdpError):
    code = "code_expired"
    default_detail = "The code has expired or was already used; request a new one."
    status_code = 400


class InvalidPassword(IdpError):
    code = "invalid_password"
    default_detail = "The password does not meet the password policy."
    status_code = 400


class InvalidParameter(IdpError):
    code = "invalid_parameter"
    default_detail = "A value is not valid."
    status_code = 400


class UserNotConfirmed(IdpError):
    code = "user_not_confirmed"
    default_detail = "The account is not confirmed yet; enter the code sent to you."
    status_code = 403


class PasswordResetRequired(IdpError):
    code = "password_reset_required"
    default_detail = "A password reset is required for this account."
    status_code = 403


class UserDisabled(IdpError):
    code = "user_disabled"
    default_detail = "This account is disabled."
    status_code = 403


class Throttled(IdpError):
    code = "throttled"
    default_detail = "Too many requests; slow down and try again."
    status_code = 429

    def __init__(self, detail: str | None = None, *, code: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after


class NotSupported(IdpError):
    code = "not_supported"
    default_detail = "This operation is not available on the configured identity service."
    status_code = 502
