"""System checks for project-level settings: each names the environment variable at fault."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


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
    return errors
