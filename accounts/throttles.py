"""Rate limits on the endpoints an attacker would hammer: per client IP and per username named in the request.

A view names its ``throttle_scope`` (``sign_in``, ``sign_up``, ``confirm``, ``forgot_password``); the IP
throttle uses that scope's rate, the username throttle ``<scope>_username`` (the user of a challenge answer is
read from its sealed session, so MFA codes cannot be guessed faster by rotating IPs). Rates come from
``COGNITO["THROTTLE_RATES"]`` (see ``accounts/conf.py``). The username is hashed into the cache key, never stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from . import conf


class _ScopedThrottle(SimpleRateThrottle):
    """Like DRF's ``ScopedRateThrottle``: the scope comes from the view, so the rate is read per request."""

    suffix = ""

    def __init__(self) -> None:
        # The rate depends on the view's scope, known only in allow_request().
        pass

    def get_rate(self) -> str | None:
        return conf.throttle_rate(str(self.scope))

    def allow_request(self, request: Request, view: APIView) -> bool:
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
    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UsernameThrottle(_ScopedThrottle):
    suffix = "_username"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        data: Any = request.data
        username = data.get("username") if isinstance(data, Mapping) else None
        if not isinstance(username, str) or not username.strip():
            username = _username_in_session(data)
        if not isinstance(username, str) or not username.strip():
            return None
        digest = hashlib.sha256(username.strip().casefold().encode("utf-8", "replace")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


def _username_in_session(data: Any) -> str | None:
    """A challenge answer names its user only inside the sealed session: MFA codes are limited per user too."""
    session = data.get("session") if isinstance(data, Mapping) else None
    if not isinstance(session, str) or not session:
        return None
    from cognito_backend.exceptions import SessionExpired

    from .services import open_session

    try:
        return open_session(session)[2]
    except SessionExpired:
        return None
