"""Typed access to ``settings.DASHBOARD`` with defaults, reloaded when a test overrides the setting.

Each default can also come from the environment (``DASHBOARD_<NAME>``), so an operator can switch payload
storage on without editing settings. Read ``dashboard_settings.STORE_PAYLOADS`` anywhere.
"""

from __future__ import annotations

import os
from typing import Any

from cognito_backend.conf import AppSettings


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


DEFAULTS: dict[str, Any] = {
    # Keep the (redacted) payload body in the audit log. Off by default: payloads may hold personal data.
    "STORE_PAYLOADS": _env_bool("DASHBOARD_STORE_PAYLOADS", False),
    # Parts of member names whose values are replaced by "[redacted]" at any depth before a payload is stored:
    # matched case-insensitively, ignoring separators, anywhere in the name ("DB_Password", "x-api-key"), and
    # on the "value" of {"name": "password", "value": ...} pairs.
    "REDACT_FIELDS": _env_list(
        "DASHBOARD_REDACT_FIELDS",
        ["password", "secret", "token", "api_key", "apikey", "authorization", "cookie"],
    ),
    # Integer literals longer than this many digits are refused (400) before Lambda is invoked.
    "MAX_INTEGER_DIGITS": 100,
    # Bounds on payloads checked against a function's JSON Schema, refused before validating: bytes (413),
    # nesting depth and items per array or object (400 payload_too_complex).
    "SCHEMA_MAX_PAYLOAD": 1024 * 1024,
    "SCHEMA_MAX_DEPTH": 64,
    "SCHEMA_MAX_ITEMS": 10_000,
    # Payloads larger than this are not stored even when STORE_PAYLOADS is on (size and hash still are).
    "MAX_STORED_PAYLOAD": 64 * 1024,
    # Lambda's own request limits: 6 MB for synchronous invocations, 256 KB for events.
    "MAX_SYNC_PAYLOAD": 6 * 1024 * 1024,
    "MAX_EVENT_PAYLOAD": 256 * 1024,
    # Seconds added to a function's timeout to get the HTTP read timeout (cold starts, the network).
    "READ_TIMEOUT_MARGIN": 5.0,
    # Retry-After (seconds) sent when Lambda throttles or cannot be reached and says nothing itself.
    "RETRY_AFTER": 5,
    # Longest FunctionError message passed to the caller and kept in the audit log.
    "MAX_ERROR_MESSAGE": 1000,
    # Identity-pool credentials are reused until this many seconds before they expire.
    "CREDENTIALS_EXPIRY_MARGIN": 120,
    "CREDENTIALS_CACHE_SIZE": 1024,
    # Cloud Connect login (the third credentials mode): the function that checks the Cloud Connect username and
    # password, the identity pool that gives the credentials, and the Logins key its token is given under
    # ("cognito-idp.<region>.amazonaws.com/<user pool id>"). Empty pool and key: COGNITO's identity pool, and
    # the key of COGNITO's user pool.
    "CLOUD_CONNECT_AUTH_FUNCTION": os.environ.get("CLOUD_CONNECT_AUTH_FUNCTION", "AuthLambda"),
    "CLOUD_CONNECT_IDENTITY_POOL_ID": os.environ.get("CLOUD_CONNECT_IDENTITY_POOL_ID", ""),
    "CLOUD_CONNECT_LOGIN_KEY": os.environ.get("CLOUD_CONNECT_LOGIN_KEY", ""),
    # Step 1's flow. Set to the identity pool's unauthenticated role ARN: the basic (classic) flow, GetId +
    # GetOpenIdToken + sts:AssumeRoleWithWebIdentity with that role, which gets the role's own rights (the pool
    # must have AllowClassicFlow). Empty: the enhanced flow (GetCredentialsForIdentity without logins), whose
    # credentials AWS scopes down to AmazonCognitoUnAuthedIdentitiesSessionPolicy (no lambda:InvokeFunction, so
    # step 2 is refused on AWS): use the basic flow on AWS.
    "CLOUD_CONNECT_UNAUTH_ROLE_ARN": os.environ.get("CLOUD_CONNECT_UNAUTH_ROLE_ARN", ""),
    # Seconds AuthLambda may take before the login fails with a timeout.
    "CLOUD_CONNECT_AUTH_TIMEOUT": 30,
    # The privileged credentials are renewed this many seconds before they expire (half-way for short-lived ones).
    "CLOUD_CONNECT_EXPIRY_MARGIN": 300,
}


class DashboardSettings(AppSettings):
    """Attribute access to the ``DASHBOARD`` dict, falling back to ``DEFAULTS``."""

    setting_name = "DASHBOARD"
    defaults = DEFAULTS


dashboard_settings = DashboardSettings()
