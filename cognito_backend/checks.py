"""System checks: missing or contradictory Cognito settings are named before the first request fails.

Each message names the package's own setting at fault (``COGNITO['USER_POOL_ID']`` ...), never a site's
environment variable: how a site fills ``settings.COGNITO`` is its own business.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import cognito_settings

POOL_ID_RE = re.compile(r"^(?P<region>[a-z]{2}(-[a-z]+)+-\d)_[0-9A-Za-z]+$")
LOCAL_POOL_ID_RE = re.compile(r"^local_[0-9A-Za-z]+$")
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
                f"COGNITO['REGION'] {region!r} is not an AWS region name.",
                hint="Set COGNITO['REGION'] to the user pool's region, e.g. eu-west-1.",
                id="cognito_backend.E001",
            )
        )
    if not pool_id:
        errors.append(
            Error(
                "COGNITO['USER_POOL_ID'] is missing.",
                hint="Set COGNITO['USER_POOL_ID'] to the id of the user pool, e.g. eu-west-1_AbCdEf123.",
                id="cognito_backend.E002",
            )
        )
    else:
        match = POOL_ID_RE.match(pool_id)
        if not match:
            errors.append(
                Error(
                    f"COGNITO['USER_POOL_ID'] {pool_id!r} is malformed.",
                    hint="A user pool id reads <region>_<id>, e.g. eu-west-1_AbCdEf123.",
                    id="cognito_backend.E003",
                )
            )
        elif match.group("region") != region:
            errors.append(
                Error(
                    f"COGNITO['USER_POOL_ID'] is in {match.group('region')} but COGNITO['REGION'] is {region}.",
                    hint="Make COGNITO['REGION'] the region the pool id starts with.",
                    id="cognito_backend.E004",
                )
            )
    if not cognito_settings.APP_CLIENT_ID:
        errors.append(
            Error(
                "COGNITO['APP_CLIENT_ID'] is missing.",
                hint="Set COGNITO['APP_CLIENT_ID'] to the id of the user pool's app client.",
                id="cognito_backend.E005",
            )
        )
    for name, value in (
        ("COGNITO['ISSUER']", cognito_settings.ISSUER),
        ("COGNITO['JWKS_URL']", cognito_settings.JWKS_URL),
        ("COGNITO['DOMAIN']", cognito_settings.DOMAIN),
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
                "COGNITO['ISSUER'] is set but COGNITO['JWKS_URL'] is not; keys will be fetched from the issuer.",
                hint="Set COGNITO['JWKS_URL'] when the keys are served elsewhere (e.g. a local stand-in).",
                id="cognito_backend.W001",
            )
        )
    identity_pool = str(cognito_settings.IDENTITY_POOL_ID or "")
    if identity_pool and not identity_pool.startswith(f"{region}:"):
        errors.append(
            Error(
                f"COGNITO['IDENTITY_POOL_ID'] {identity_pool!r} is not in region {region}.",
                hint="An identity pool id reads <region>:<uuid>.",
                id="cognito_backend.E007",
            )
        )
    return errors


# --- token verification, users and revocation (tokens.py, backends.py, revocation.py) ---------------------------

SUPPORTED_ALGORITHMS = {"RS256", "RS384", "RS512"}


@register(Tags.security)
def check_verification_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Contradictions in the verifier's settings that would otherwise show up as every token refused."""
    cognito_settings.reload()
    errors: list[CheckMessage] = []
    algorithms = set(cognito_settings.ALGORITHMS or [])
    if not algorithms or not algorithms <= SUPPORTED_ALGORITHMS:
        errors.append(
            Error(
                f"COGNITO['ALGORITHMS'] {sorted(algorithms)!r} must be a non-empty subset of RS256, RS384, RS512.",
                hint="Cognito signs with RS256; leave the default ['RS256'].",
                id="cognito_backend.E011",
            )
        )
    token_use = set(cognito_settings.TOKEN_USE or [])
    if not token_use or not token_use <= {"id", "access"}:
        errors.append(
            Error(
                f"COGNITO['TOKEN_USE'] {sorted(token_use)!r} must name 'id', 'access' or both.",
                id="cognito_backend.E012",
            )
        )
    if cognito_settings.LINK_BY not in ("email", "username", "", None):
        errors.append(
            Error(
                f"COGNITO['LINK_BY'] {cognito_settings.LINK_BY!r} is not 'email', 'username' or ''.",
                id="cognito_backend.E013",
            )
        )
    if cognito_settings.LINK_BY == "username" and cognito_settings.TRUST_POOL_USERNAMES is not True:
        errors.append(
            Error(
                "COGNITO['LINK_BY'] is 'username': whoever signs up in the pool as an unlinked local username "
                "takes over that local account.",
                hint="Use LINK_BY 'email' (verified emails only) or '', or set COGNITO['TRUST_POOL_USERNAMES'] "
                "to True if every pool username belongs to the local user of that name.",
                id="cognito_backend.E020",
            )
        )
    for index, pool in enumerate(cognito_settings.POOLS or []):
        pool_id = str((pool or {}).get("USER_POOL_ID", "")) if isinstance(pool, dict) else ""
        clients = [pool.get("APP_CLIENT_ID"), *(pool.get("APP_CLIENT_IDS") or [])] if isinstance(pool, dict) else []
        # cognito-local names its pools local_<id>: accepted where the entry names its issuer (a stand-in).
        stand_in = bool(LOCAL_POOL_ID_RE.match(pool_id)) and bool(isinstance(pool, dict) and pool.get("ISSUER"))
        if not (POOL_ID_RE.match(pool_id) or stand_in) or not any(clients):
            errors.append(
                Error(
                    f"COGNITO['POOLS'][{index}] needs a USER_POOL_ID like eu-west-1_AbCdEf123 and APP_CLIENT_IDS.",
                    id="cognito_backend.E014",
                )
            )
    for name in (
        "LEEWAY",
        "MAX_TOKEN_SIZE",
        "MAX_TOKEN_LIFETIME",
        "JWKS_PENALTY_SECONDS",
        "JWKS_READ_TIMEOUT",
        "ONLINE_CHECK_INTERVAL",
        "REVOCATION_MEMO_SECONDS",
        "INVALIDATION_LIVENESS_SECONDS",
    ):
        value = getattr(cognito_settings, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            errors.append(Error(f"COGNITO['{name}'] {value!r} must be a number >= 0.", id="cognito_backend.E015"))
    if cognito_settings.LEEWAY and isinstance(cognito_settings.LEEWAY, (int, float)) and cognito_settings.LEEWAY > 300:
        errors.append(
            Warning(
                f"COGNITO['LEEWAY'] is {cognito_settings.LEEWAY} s: expired tokens stay usable that long.",
                hint="A few seconds cover clock skew.",
                id="cognito_backend.W002",
            )
        )
    return errors


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Deploy check: with a per-process cache, each process learns of another's revocations only when its
    in-memory answers expire, and online-check answers are not shared."""
    from django.conf import settings

    backend = str((getattr(settings, "CACHES", {}) or {}).get("default", {}).get("BACKEND", ""))
    if settings.DEBUG or not backend.endswith(("LocMemCache", "DummyCache")):
        return []
    return [
        Warning(
            f"CACHES['default'] is per-process ({backend.rsplit('.', 1)[-1]}): a revocation made in one process "
            f"reaches the others only after COGNITO['REVOCATION_MEMO_SECONDS'] "
            f"({cognito_settings.REVOCATION_MEMO_SECONDS} s), and every process asks Cognito on its own.",
            hint="Use a cache every process shares, e.g. django.core.cache.backends.redis.RedisCache (its Redis "
            "also carries the invalidation bus, which makes revocations reach every process at once).",
            id="cognito_backend.W003",
        )
    ]
