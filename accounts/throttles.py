"""Rate limits on the endpoints an attacker would hammer: per client address and per pool user.

A view names its ``throttle_scope`` (``sign_in``, ``sign_up``, ``confirm``, ``forgot_password``); the address
throttle uses that scope's rate, the user throttle ``<scope>_username``. Rates come from
``ACCOUNTS["THROTTLE_RATES"]`` (see ``accounts/conf.py``).

- The client address is ``REMOTE_ADDR``, unless that is one of ``TRUSTED_PROXIES``: then it is the right-most
  ``X-Forwarded-For`` entry that is not itself a trusted proxy (what the client writes there is ignored).
- The user is the pool user a typed username or email resolves to (one budget for a user's username, email and
  any case of them), else what was typed. A view whose request carries a sealed challenge session names its user
  from inside that session only (``throttle_user_source = "session"``). Keys hold hashes, never a username.
- The session sign-in page (``pages.py``) and the current-password check of sensitive changes spend the same
  budgets as ``POST /api/auth/sign-in/`` (``throttle_wait``).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from . import conf


def client_ip(request: HttpRequest | Request) -> str:
    """The client's address: ``REMOTE_ADDR``, or what the trusted proxies in front of it say it is."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = conf.trusted_proxies()
    if not proxies or not _is_trusted(remote, proxies):
        return remote
    hops = [hop.strip() for hop in str(request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else remote


def _is_trusted(address: str, proxies: tuple[conf.Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


class _ScopedThrottle(SimpleRateThrottle):
    """Like DRF's ``ScopedRateThrottle``: the scope comes from the view, so the rate is read per request."""

    suffix = ""

    def __init__(self) -> None:
        # The rate depends on the view's scope, known only in allow_request().
        pass

    def get_rate(self) -> str | None:
        return conf.throttle_rate(str(self.scope))

    def get_ident(self, request: Any) -> str:
        return client_ip(request)

    def allow_request(self, request: Any, view: Any) -> bool:
        base = getattr(view, "throttle_scope", None)
        if not base:
            return True
        self.scope = f"{base}{self.suffix}"
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class IPThrottle(_ScopedThrottle):
    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": _digest(self.get_ident(request))}


class UsernameThrottle(_ScopedThrottle):
    """Per pool user; the view's ``throttle_user(request)`` names the user (else the body's ``username``)."""

    suffix = "_username"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        named = getattr(view, "throttle_user", None)
        identifier = named(request) if callable(named) else username_in_body(request)
        if not identifier:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user_key(identifier)}


def username_in_body(request: Request) -> str | None:
    data: Any = request.data
    username = data.get("username") if isinstance(data, Mapping) else None
    return username.strip() if isinstance(username, str) and username.strip() else None


def username_in_session(request: Request) -> str | None:
    """The user sealed inside a challenge session; anything else the body says about the user is ignored."""
    data: Any = request.data
    session = data.get("session") if isinstance(data, Mapping) else None
    if not isinstance(session, str) or not session:
        return None
    from cognito_backend.exceptions import SessionExpired

    from .services import open_session

    try:
        return open_session(session)[2] or None
    except SessionExpired:
        return None


def user_key(identifier: str) -> str:
    """The budget of ``identifier``: its pool user's ``sub`` where one exists, else the casefolded text."""
    from .services import pool_user_sub

    sub = pool_user_sub(identifier)
    return _digest(f"sub:{sub}") if sub else _digest(f"name:{identifier.strip().casefold()}")


class _ScopeOf:
    """Stands for the API view whose budgets another caller spends."""

    def __init__(self, scope: str, username: str) -> None:
        self.throttle_scope = scope
        self._username = username.strip()

    def throttle_user(self, request: Any) -> str | None:
        return self._username or None


def throttle_wait(request: HttpRequest | Request, scope: str, username: str) -> float | None:
    """Spend one request of ``scope``'s budgets (address and user); the seconds to wait if refused.

    The same throttles and cache keys as the REST views, so a page (or another check) and the API share one budget.
    """
    view = _ScopeOf(scope, username)
    for throttle in (IPThrottle(), UsernameThrottle()):
        if not throttle.allow_request(request, view):
            wait = throttle.wait()
            return max(1.0, float(wait)) if wait is not None else 1.0
    return None
