"""The accounts app's settings: extra keys of the one ``COGNITO`` dict, with defaults.

Read here rather than in ``cognito_backend.conf`` because they are this site's choices (which sign-in flow the
server runs, rate limits, what deleting an account does locally), not the reusable app's.
"""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings

AuthFlow = Literal["USER_PASSWORD_AUTH", "USER_SRP_AUTH"]

DEFAULT_THROTTLE_RATES: dict[str, str] = {
    # per client IP
    "sign_in": "30/min",
    "sign_up": "10/min",
    "confirm": "20/min",
    "forgot_password": "10/min",
    # per username (or email) named in the request, whatever the IP
    "sign_in_username": "10/min",
    "sign_up_username": "5/min",
    "confirm_username": "10/min",
    "forgot_password_username": "5/min",
}


def _conf() -> dict[str, Any]:
    return dict(getattr(settings, "COGNITO", {}) or {})


def auth_flow() -> AuthFlow:
    """``USER_PASSWORD_AUTH`` (default: lazy migration and the migration trigger need it) or ``USER_SRP_AUTH``."""
    flow = str(_conf().get("AUTH_FLOW") or "USER_PASSWORD_AUTH").upper()
    return "USER_SRP_AUTH" if flow in {"USER_SRP_AUTH", "SRP"} else "USER_PASSWORD_AUTH"


def throttle_rate(scope: str) -> str | None:
    rates = {**DEFAULT_THROTTLE_RATES, **(_conf().get("THROTTLE_RATES") or {})}
    rate = rates.get(scope)
    return str(rate) if rate else None


def delete_local_user() -> Literal["deactivate", "delete"]:
    """What deleting the account does to the local user: keep it inactive (default) or delete it."""
    return "delete" if str(_conf().get("DELETE_LOCAL_USER") or "deactivate").lower() == "delete" else "deactivate"


def totp_issuer() -> str:
    return str(_conf().get("TOTP_ISSUER") or "Cognito for Django")


def challenge_max_age() -> int:
    """Seconds a signed challenge session is accepted; Cognito's own session lasts 3 to 15 minutes."""
    return int(_conf().get("CHALLENGE_MAX_AGE") or 900)
