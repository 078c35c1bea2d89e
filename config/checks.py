"""System checks for project-level settings: each names the environment variable at fault."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def check_environment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, message in getattr(settings, "SETTINGS_ERRORS", []):
        errors.append(
            Error(
                f"{name} is malformed: {message}",
                hint=f"Fix or unset the environment variable {name}.",
                id="config.E001",
            )
        )
    if not settings.DEBUG and getattr(settings, "SECRET_KEY_MISSING", False):
        errors.append(
            Error(
                "DJANGO_SECRET_KEY is missing while DJANGO_DEBUG is off.",
                hint="Set DJANGO_SECRET_KEY to a long random value.",
                id="config.E002",
            )
        )
    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        errors.append(
            Error(
                "DJANGO_ALLOWED_HOSTS is empty while DJANGO_DEBUG is off.",
                hint="Set DJANGO_ALLOWED_HOSTS to a comma-separated list of host names.",
                id="config.E003",
            )
        )
    errors.extend(check_token_encryption_key())
    return errors


def check_token_encryption_key() -> list[CheckMessage]:
    """The key of the site's token store (``accounts/token_store.py``: one Fernet key, or several comma-separated,
    newest first, while rotating). Checked here, by the site, since the reusable app never reads it."""
    raw = str(getattr(settings, "TOKEN_ENCRYPTION_KEY", "") or "")
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        return [
            Error(
                "TOKEN_ENCRYPTION_KEY is missing.",
                hint=(
                    "Set TOKEN_ENCRYPTION_KEY to a Fernet key, e.g. the output of "
                    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
                ),
                id="config.E004",
            )
        ]
    for key in keys:
        try:
            decoded = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            return [
                Error(
                    "TOKEN_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes), or a "
                    "comma-separated list of them.",
                    hint="Generate one with cryptography.fernet.Fernet.generate_key().",
                    id="config.E005",
                )
            ]
    if getattr(settings, "SECRET_KEY", None) in keys:
        return [Error("TOKEN_ENCRYPTION_KEY must not be the same as DJANGO_SECRET_KEY.", id="config.E006")]
    return []


@register(deploy=True)
def check_production_services(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: the services a site of several processes needs (docs/operations.md)."""
    if settings.DEBUG:
        return []
    warnings: list[CheckMessage] = []
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        warnings.append(
            Warning(
                "DATABASE_URL is SQLite: one writer at a time, on one machine.",
                hint="Use PostgreSQL in production: DATABASE_URL=postgres://user:password@host:5432/name.",
                id="config.W010",
            )
        )
    broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if broker.startswith(("filesystem://", "memory://")):
        warnings.append(
            Warning(
                f"CELERY_BROKER_URL is {broker.split(':', 1)[0]}://: tasks reach only workers on this machine.",
                hint="Use Redis in production: CELERY_BROKER_URL=redis://host:6379/2.",
                id="config.W011",
            )
        )
    return warnings
