"""The accounts app's settings: ``settings.ACCOUNTS``, with defaults (``accounts_settings.AUTH_FLOW`` ...).

A dict of its own rather than extra keys of ``COGNITO``: these are this site's choices (which sign-in flow the
server runs, rate limits, what deleting an account does locally), not the reusable app's. The client address
comes from the site-wide ``TRUSTED_PROXIES`` setting (the proxies whose ``X-Forwarded-For`` is believed).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from typing import Any, Literal

from django.conf import settings

from cognito_backend.conf import AppSettings

logger = logging.getLogger(__name__)

AuthFlow = Literal["USER_PASSWORD_AUTH", "USER_SRP_AUTH"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_THROTTLE_RATES: dict[str, str] = {
    # per client IP
    "sign_in": "30/min",
    "sign_up": "10/min",
    "confirm": "20/min",
    "forgot_password": "10/min",
    # per pool user (the user a username or email resolves to, else what was typed), whatever the IP
    "sign_in_username": "10/min",
    "sign_up_username": "5/min",
    "confirm_username": "10/min",
    "forgot_password_username": "5/min",
}

DEFAULTS: dict[str, Any] = {
    # USER_PASSWORD_AUTH (lazy migration and the migration trigger need it) or USER_SRP_AUTH.
    "AUTH_FLOW": "USER_PASSWORD_AUTH",
    # What deleting the account does to the local user: "deactivate" (keeps its rows) or "delete".
    "DELETE_LOCAL_USER": "deactivate",
    # The issuer name authenticator apps show.
    "TOTP_ISSUER": "Cognito for Django",
    # {scope: rate} over DEFAULT_THROTTLE_RATES; a false rate turns that limit off.
    "THROTTLE_RATES": {},
    # Seconds a signed challenge session is accepted; Cognito's own session lasts 3 to 15 minutes.
    "CHALLENGE_MAX_AGE": 900,
    # Sensitive changes (email or phone, MFA, a new authenticator) need the current password, or a sign-in
    # (the access token's auth_time) at most this many seconds old.
    "REAUTH_MAX_AGE": 300,
    # Seconds the pool's writable attributes (DescribeUserPoolClient, DescribeUserPool) are kept per process.
    "ATTRIBUTES_CACHE_SECONDS": 300,
    # Seconds a typed username or email stays resolved to its pool user for the per-user rate limits.
    "USER_KEY_CACHE_SECONDS": 300,
    # Seconds before expiry at which a session's stored tokens are renewed (accounts/token_store.py).
    "TOKEN_REFRESH_MARGIN": 300,
    # The app client rotates refresh tokens (RefreshTokenRotation ENABLED): renew with GetTokensFromRefreshToken,
    # which returns a new refresh token that replaces the stored one (the old one then stops working).
    "REFRESH_TOKEN_ROTATION": False,
    # User admin actions on more users than this run as a Celery task with a progress page.
    "ADMIN_BULK_THRESHOLD": 50,
    # Cognito calls per second the user admin's actions make (under the pool's quota, shared with the site).
    "ADMIN_COGNITO_RATE": 10.0,
    # Times one user's call is retried with backoff when Cognito throttles before it is reported as throttled.
    "ADMIN_THROTTLE_RETRIES": 5,
}


class AccountsSettings(AppSettings):
    setting_name = "ACCOUNTS"
    defaults = DEFAULTS


accounts_settings = AccountsSettings()


def auth_flow() -> AuthFlow:
    """``USER_PASSWORD_AUTH`` (default: lazy migration and the migration trigger need it) or ``USER_SRP_AUTH``."""
    flow = str(accounts_settings.AUTH_FLOW or "USER_PASSWORD_AUTH").upper()
    return "USER_SRP_AUTH" if flow in {"USER_SRP_AUTH", "SRP"} else "USER_PASSWORD_AUTH"


def throttle_rate(scope: str) -> str | None:
    rates = {**DEFAULT_THROTTLE_RATES, **(accounts_settings.THROTTLE_RATES or {})}
    rate = rates.get(scope)
    return str(rate) if rate else None


def delete_local_user() -> Literal["deactivate", "delete"]:
    """What deleting the account does to the local user: keep it inactive (default) or delete it."""
    return "delete" if str(accounts_settings.DELETE_LOCAL_USER or "").lower() == "delete" else "deactivate"


def totp_issuer() -> str:
    return str(accounts_settings.TOTP_ISSUER or "Cognito for Django")


def challenge_max_age() -> int:
    """Seconds a signed challenge session is accepted; Cognito's own session lasts 3 to 15 minutes."""
    return int(accounts_settings.CHALLENGE_MAX_AGE or 900)


def reauth_max_age() -> int:
    return max(0, int(accounts_settings.REAUTH_MAX_AGE or 0))


def trusted_proxies() -> tuple[Network, ...]:
    """``settings.TRUSTED_PROXIES``: addresses or networks (CIDR) of the proxies in front of the site.

    Empty by default: ``X-Forwarded-For`` is then ignored and the client is ``REMOTE_ADDR``. An entry that is not
    an address is skipped (and logged): trusting less only makes clients behind it share one budget.
    """
    raw: Any = getattr(settings, "TRUSTED_PROXIES", None) or ()
    if isinstance(raw, str):
        raw = raw.split(",")
    return _networks(tuple(str(item).strip() for item in raw if str(item).strip()))


@functools.lru_cache(maxsize=8)
def _networks(items: tuple[str, ...]) -> tuple[Network, ...]:
    networks: list[Network] = []
    for text in items:
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            logger.warning("TRUSTED_PROXIES: %r is not an address or network; ignored", text[:64])
    return tuple(networks)
