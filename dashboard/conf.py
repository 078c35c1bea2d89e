"""Typed access to ``settings.DASHBOARD`` with defaults, reloaded when a test overrides the setting.

Each default can also come from the environment (``DASHBOARD_<NAME>``), so an operator can switch payload
storage on without editing settings. Read ``dashboard_settings.STORE_PAYLOADS`` anywhere.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


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
    # Object keys whose values are replaced by "[redacted]" at any depth before a payload is stored
    # (compared case-insensitively).
    "REDACT_FIELDS": _env_list(
        "DASHBOARD_REDACT_FIELDS",
        ["password", "secret", "token", "access_token", "id_token", "refresh_token", "authorization", "api_key"],
    ),
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
}


class DashboardSettings:
    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Invalid dashboard setting: {name!r}")
        if name not in self._cache:
            user = dict(getattr(settings, "DASHBOARD", {}) or {})
            self._cache[name] = user.get(name, DEFAULTS[name])
        return self._cache[name]

    def reload(self) -> None:
        self._cache.clear()


dashboard_settings = DashboardSettings()


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "DASHBOARD":
        dashboard_settings.reload()
