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
