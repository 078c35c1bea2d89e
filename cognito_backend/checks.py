"""System checks: missing or contradictory Cognito settings are named before the first request fails.

Each message names the environment variable that ``config/settings.py`` reads into ``settings.COGNITO``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import cognito_settings

POOL_ID_RE = re.compile(r"^(?P<region>[a-z]{2}(-[a-z]+)+-\d)_[0-9A-Za-z]+$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def _is_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc)


@register(Tags.security)
def check_cognito_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    cognito_settings.reload()
    errors: list[CheckMessage] = []
    region = str(cognito_settings.REGION or "")
    pool_id = str(cognito_settings.USER_POOL_ID or "")
    if not REGION_RE.match(region):
        errors.append(
            Error(
                f"COGNITO_REGION {region!r} is not an AWS region name.",
                hint="Set COGNITO_REGION, e.g. eu-west-1.",
                id="cognito_backend.E001",
            )
        )
    if not pool_id:
        errors.append(
            Error(
                "COGNITO_USER_POOL_ID is missing.",
                hint="Set COGNITO_USER_POOL_ID (locally, run `manage.py localaws up`, which writes it to .env).",
                id="cognito_backend.E002",
            )
        )
    else:
        match = POOL_ID_RE.match(pool_id)
        if not match:
            errors.append(
                Error(
                    f"COGNITO_USER_POOL_ID {pool_id!r} is malformed.",
                    hint="A user pool id reads <region>_<id>, e.g. eu-west-1_AbCdEf123.",
                    id="cognito_backend.E003",
                )
            )
        elif match.group("region") != region:
            errors.append(
                Error(
                    f"COGNITO_USER_POOL_ID is in {match.group('region')} but COGNITO_REGION is {region}.",
                    hint="Make COGNITO_REGION the region the pool id starts with.",
                    id="cognito_backend.E004",
                )
            )
    if not cognito_settings.APP_CLIENT_ID:
        errors.append(
            Error(
                "COGNITO_APP_CLIENT_ID is missing.",
                hint="Set COGNITO_APP_CLIENT_ID to the id of the user pool's app client.",
                id="cognito_backend.E005",
            )
        )
    for name, value in (
        ("COGNITO_ISSUER", cognito_settings.ISSUER),
        ("COGNITO_JWKS_URL", cognito_settings.JWKS_URL),
        ("COGNITO_DOMAIN", cognito_settings.DOMAIN),
    ):
        if value and not _is_url(str(value)):
            errors.append(
                Error(
                    f"{name} {value!r} is not an http(s) URL.",
                    hint=f"Set {name} to a full URL or leave it unset for the default.",
                    id="cognito_backend.E006",
                )
            )
    if cognito_settings.ISSUER and not cognito_settings.JWKS_URL and pool_id:
        errors.append(
            Warning(
                "COGNITO_ISSUER is set but COGNITO_JWKS_URL is not; keys will be fetched from the issuer.",
                hint="Set COGNITO_JWKS_URL when the keys are served elsewhere (e.g. a local stand-in).",
                id="cognito_backend.W001",
            )
        )
    identity_pool = str(cognito_settings.IDENTITY_POOL_ID or "")
    if identity_pool and not identity_pool.startswith(f"{region}:"):
        errors.append(
            Error(
                f"COGNITO_IDENTITY_POOL_ID {identity_pool!r} is not in region {region}.",
                hint="An identity pool id reads <region>:<uuid>.",
                id="cognito_backend.E007",
            )
        )
    errors.extend(_check_encryption_key())
    return errors


def _check_encryption_key() -> list[CheckMessage]:
    key = str(getattr(settings, "TOKEN_ENCRYPTION_KEY", "") or "")
    if not key:
        return [
            Error(
                "TOKEN_ENCRYPTION_KEY is missing.",
                hint=(
                    "Set TOKEN_ENCRYPTION_KEY to a Fernet key, e.g. the output of "
                    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
                ),
                id="cognito_backend.E008",
            )
        ]
    try:
        raw = base64.urlsafe_b64decode(key.encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        return [
            Error(
                "TOKEN_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes).",
                hint="Generate one with cryptography.fernet.Fernet.generate_key().",
                id="cognito_backend.E009",
            )
        ]
    if key == getattr(settings, "SECRET_KEY", None):
        return [
            Error(
                "TOKEN_ENCRYPTION_KEY must not be the same as DJANGO_SECRET_KEY.",
                id="cognito_backend.E010",
            )
        ]
    return []
