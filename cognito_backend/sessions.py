"""Django sessions signed in with a Cognito token honour revocation like the token itself.

At ``login()`` through ``CognitoBackend`` the session records the identity of the token it was opened with
(issuer, ``sub``, the session's start ``auth_time``/``iat``, ``origin_jti``, groups; no token): ``record_identity``,
connected to ``user_logged_in``. On every request ``middleware.SessionRevocationMiddleware`` turns that identity
back into a ``VerifiedToken`` without claims (``session_token``) and asks ``revocation.check_token``: the same
answers as for a bearer token (the user's not-valid-before, the revoked family), from the same in-process memo,
so a revocation anywhere ends the session in every process. ``authentication.CognitoSessionAuthentication`` gives
DRF views that token as ``request.auth``.

A site that keeps the session's Cognito tokens server-side names where they are with ``set_access_token_source``
(a function of the request returning the session's current access token, None for a session without tokens, or
raising ``TokenRevoked`` when its tokens can no longer be used): with ``ONLINE_CHECK`` the middleware then asks
Cognito (GetUser) about that token once per ``ONLINE_CHECK_INTERVAL`` per session and process, so a session whose
user was signed out straight at Cognito ends too.

``SessionStore`` (``SESSION_ENGINE = "cognito_backend.sessions"``) is Django's ``cached_db`` engine plus the
revocation memo's rule: while the Redis invalidation bus is live, each process keeps a session it read for at most
``REVOCATION_MEMO_SECONDS``, and only until the next bus message (any revocation, user change or session write
anywhere moves the bus's generation); every save, delete or key change of a session publishes one. So a session
request costs no round trip to the cache, and a sign-out in one process holds in the others as soon as the
message lands.

Without a live bus each process also keeps a session it read for at most ``REVOCATION_MEMO_SECONDS``, but only
while the browser presents the session's version: ``SessionRevocationMiddleware`` stamps every write of a session
with a new random version (``VERSION_KEY`` in the data, and a cookie beside the session cookie, ``<name>_v``), and
a remembered copy serves a request only when its version is the one the request presents. A write in another
process therefore reaches the next request at once (the browser presents the new version), a repeated request
costs no query, and a session deleted in another process is honoured within ``REVOCATION_MEMO_SECONDS``, like a
revoked bearer token (a sign-out also records a revocation, which the middleware checks); so is a write no request
stamped (a script's ``save()``: it drops the version, so this process reads the database until the next stamped
write). With a per-process cache (the default, no ``CACHE_URL``) the cache is not used for sessions at all: only
the database, which every process shares.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends import cached_db, db
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

from .cache import bus, memo_seconds
from .tokens import VerifiedToken, configured_pools

IDENTITY_KEY = "_cognito_identity"
BACKEND = "cognito_backend.backends.CognitoBackend"

_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})
_tokens: dict[tuple[Any, ...], VerifiedToken] = {}
_tokens_lock = threading.Lock()
_TOKENS_LIMIT = 8192


def identity_of(token: VerifiedToken) -> list[Any]:
    """What a session keeps of its token: nothing that authenticates by itself."""
    return [
        token.pool.issuer,
        token.sub,
        token.revocation_time,
        token.origin_jti,
        token.username,
        list(token.groups),
        token.token_use,
    ]


@receiver(user_logged_in)
def record_identity(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """After ``login()`` with a token the backend accepted, keep the token's identity in the session."""
    if request is None or not hasattr(request, "session"):
        return
    token = getattr(request, "cognito_token", None)
    if isinstance(token, VerifiedToken):
        request.session[IDENTITY_KEY] = identity_of(token)
    else:
        request.session.pop(IDENTITY_KEY, None)


AccessTokenSource = Callable[[HttpRequest], "str | None"]
_access_token_source: AccessTokenSource | None = None


def set_access_token_source(source: AccessTokenSource | None) -> None:
    """Tell the middleware where a session's access token is kept (module docstring); None forgets it."""
    global _access_token_source
    _access_token_source = source


def access_token_source() -> AccessTokenSource | None:
    return _access_token_source


def session_token(identity: Any) -> VerifiedToken | None:
    """The claim-less ``VerifiedToken`` of a recorded identity (built once per process); None when the identity is
    malformed or its pool is no longer configured."""
    try:
        key = tuple(tuple(part) if isinstance(part, list) else part for part in identity)
    except TypeError:
        return None
    token = _tokens.get(key)
    if token is not None:
        return token
    try:
        issuer, sub, started, origin_jti, username, groups, token_use = identity
        pool = configured_pools().get(str(issuer))
        if pool is None or not sub:
            return None
        token = VerifiedToken(
            header=_EMPTY,
            claims=_EMPTY,
            pool=pool,
            token_use=str(token_use),
            sub=str(sub),
            username=str(username),
            groups=tuple(str(group) for group in groups),
            scopes=frozenset(),
            expires_at=0.0,
            issued_at=float(started),
            auth_time=float(started),
            jti="",
            origin_jti=str(origin_jti or ""),
        )
    except (TypeError, ValueError):
        return None
    with _tokens_lock:
        if len(_tokens) >= _TOKENS_LIMIT:
            _tokens.clear()
        _tokens[key] = token
    return token


# --- the session engine ----------------------------------------------------------------------------------------

# session key -> (monotonic expiry, bus generation when read, session data)
_sessions: dict[str, tuple[float, int, dict[str, Any]]] = {}
_SESSIONS_LIMIT = 50_000


VERSION_KEY = "_cognito_v"

# session key -> (monotonic expiry, version, wall-clock expiry of the session, session data): the versioned memo
_versioned: dict[str, tuple[float, str, float, dict[str, Any]]] = {}


def version_cookie_name() -> str:
    return f"{settings.SESSION_COOKIE_NAME}_v"


def _shared_cache() -> bool:
    from .revocation import _is_shared_cache

    return _is_shared_cache()


class SessionStore(cached_db.SessionStore):
    """``cached_db`` with a per-process memo kept honest by the invalidation bus or by the session's version
    (module docstring)."""

    presented_version = ""  # the version the request's cookie names (set by the middleware)
    stamped = False  # the middleware gave this write a new version

    def load(self) -> dict[str, Any]:
        key = self.session_key
        if not key:
            return super().load()
        if not bus.bus_live():
            return self._load_versioned(key)
        generation = bus.generation()
        entry = _sessions.get(key)
        if entry is not None and entry[1] == generation and entry[0] > time.monotonic():
            return dict(entry[2])
        data = super().load()
        if data and self.session_key == key and bus.generation() == generation:
            if len(_sessions) >= _SESSIONS_LIMIT:
                _sessions.clear()
            _sessions[key] = (time.monotonic() + memo_seconds(), generation, dict(data))
        return data

    def _load_versioned(self, key: str) -> dict[str, Any]:
        entry = _versioned.get(key)
        version = self.presented_version
        if (
            version
            and entry is not None
            and entry[1] == version
            and entry[0] > time.monotonic()
            and entry[2] > time.time()
        ):
            return dict(entry[3])
        if _shared_cache():
            data = super().load()
            expires = float("inf")  # the shared cache's entry and the row expire together
        else:  # a per-process cache would keep sessions another process deleted or changed: the database only
            row = self._get_session_from_db()  # type: ignore[attr-defined]
            data = self.decode(row.session_data) if row else {}
            expires = row.expire_date.timestamp() if row else 0.0
        if data.get(VERSION_KEY) and self.session_key == key:
            _remember(key, str(data[VERSION_KEY]), expires, data)
        return data

    def save(self, must_create: bool = False) -> None:
        data: dict[str, Any] = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        if not self.stamped:
            data.pop(VERSION_KEY, None)  # changed without a new version: no remembered copy may match it
        if _shared_cache() or bus.bus_live():
            super().save(must_create=must_create)
        else:
            db.SessionStore.save(self, must_create=must_create)
        _changed(self.session_key)
        if self.session_key and data.get(VERSION_KEY):
            _remember(self.session_key, str(data[VERSION_KEY]), self.get_expiry_date().timestamp(), data)

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        super().delete(session_key)
        _changed(key)

    def cycle_key(self) -> None:
        old = self.session_key
        super().cycle_key()
        _changed(old)


@receiver(setting_changed)
def _forget_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    """Remembered sessions were read under the old keys and engine settings (tests change them live)."""
    if setting in {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "CACHES", "COGNITO"} or setting.startswith("SESSION_"):
        _sessions.clear()
        _versioned.clear()


def _remember(key: str, version: str, expires: float, data: dict[str, Any]) -> None:
    if len(_versioned) >= _SESSIONS_LIMIT:
        _versioned.clear()
    _versioned[key] = (time.monotonic() + memo_seconds(), version, expires, dict(data))


def _changed(session_key: str | None) -> None:
    """A session was written or deleted: every process drops what it remembers (the message moves the bus's
    generation everywhere; here at once)."""
    if not session_key:
        return
    _sessions.pop(session_key, None)
    _versioned.pop(session_key, None)
    bus.publish(session=hashlib.sha256(session_key.encode()).hexdigest()[:16], kind="session")  # no bus: no-op
