"""System checks for ``COGNITO_MIGRATION``: an operator learns of a bad rate or a weak secret before a run."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import migration_settings

# Cognito's default quota for user creation (AdminCreateUser and SignUp together), per account and region.
USER_CREATION_QUOTA = 50.0


@register(Tags.compatibility)
def check_migration_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    migration_settings.reload()
    messages: list[CheckMessage] = []
    for key in ("RATE", "READ_RATE", "UPDATE_RATE"):
        value = getattr(migration_settings, key)
        if not isinstance(value, int | float) or value <= 0:
            messages.append(
                Error(
                    f"COGNITO_MIGRATION_{key} must be a positive number of requests per second, not {value!r}.",
                    id="migrations_tools.E001",
                )
            )
    rate = migration_settings.RATE
    if isinstance(rate, int | float) and rate > USER_CREATION_QUOTA:
        messages.append(
            Warning(
                f"COGNITO_MIGRATION_RATE is {rate:g}/s, above Cognito's default user-creation quota of "
                f"{USER_CREATION_QUOTA:g}/s shared with sign-up: the run will be throttled and sign-ups refused.",
                hint="Stay under the quota (the default is 25), or raise the quota with AWS first.",
                id="migrations_tools.W001",
            )
        )
    workers = migration_settings.WORKERS
    if not isinstance(workers, int) or workers < 1:
        messages.append(
            Error(f"COGNITO_MIGRATION_WORKERS must be 1 or more, not {workers!r}.", id="migrations_tools.E002")
        )
    for key in ("LAZY_MAX_FAILURES", "LAZY_MAX_FAILURES_PER_USER", "LAZY_FAILURE_WINDOW"):
        value = getattr(migration_settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            messages.append(
                Error(
                    f"COGNITO_MIGRATION[{key!r}] must be a whole number, 1 or more, not {value!r}.",
                    id="migrations_tools.E003",
                )
            )
    if not isinstance(migration_settings.MARKER_GROUP, str):
        messages.append(
            Error(
                "COGNITO_MIGRATION['MARKER_GROUP'] must be a Cognito group name (or \"\" for none).",
                id="migrations_tools.E004",
            )
        )
    secret = str(migration_settings.TRIGGER_SECRET or "")
    if secret and len(secret) < 32:
        messages.append(
            Warning(
                "COGNITO_MIGRATION_TRIGGER_SECRET is shorter than 32 characters.",
                hint='Use a long random value: python -c "import secrets; print(secrets.token_urlsafe(48))"',
                id="migrations_tools.W002",
            )
        )
    return messages
