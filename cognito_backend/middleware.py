"""``SessionRevocationMiddleware``: every request of a session opened with a Cognito token is checked against the
revocation service, and a revoked session is ended at once.

Put it after ``AuthenticationMiddleware`` and ``MessageMiddleware``. For a session ``CognitoBackend`` logged in,
it rebuilds the session's token from the identity recorded at sign-in (``sessions.session_token``) and asks
``revocation.check_token``: a global sign-out, a password change or reset, an administrator's revocation or a
revoked refresh-token family anywhere ends the session, in every process (the in-process memo is dropped by the
Redis bus at once, else within ``REVOCATION_MEMO_SECONDS``). A user deactivated locally ends it too. Such a
session is signed out (``logout``) with a message; a browser navigating (GET asking for HTML) is sent to
``LOGIN_URL``, anything else goes on as an anonymous request (APIs answer 401 as usual).

With ``ONLINE_CHECK``, a session whose tokens the site keeps server-side (``sessions.set_access_token_source``)
is also confirmed with Cognito (GetUser on its access token, ``revocation.confirm_online``) once per
``ONLINE_CHECK_INTERVAL`` per session and process, never on every request: a user signed out straight at Cognito
(another app's GlobalSignOut, the console) loses the session at the first request after the interval.

A browser navigating with the cookie of a session that no longer exists (deleted by a sign-out everywhere in
another request, or expired) gets the same message on the page it lands on.

A Cognito session opened before identities were recorded has none: it is ended too, since it could not be
checked. The user is kept in process memory per shared user version (like the bearer path's user cache), so a
session request costs no database query for the user while nothing changed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.crypto import constant_time_compare

from . import revocation, sessions
from .conf import cognito_settings
from .exceptions import CognitoError, RevocationCheckUnavailable, TokenExpired, TokenRevoked
from .mapping import _clone
from .tokens import verify_token

logger = logging.getLogger(__name__)

ENDED_MESSAGE = "Your session has ended; please sign in again."

# user pk -> (user version, monotonic time cached, user, its session auth hash)
_users: dict[str, tuple[int, float, Any, str]] = {}
_users_lock = threading.Lock()
_USERS_LIMIT = 4096

# session key -> monotonic time of its last online check in this process
_online_checked: dict[str, float] = {}
_ONLINE_LIMIT = 50_000


def stamp(request: HttpRequest, response: HttpResponse) -> None:
    """A session written by this request gets a new version, in its data and in the version cookie, so copies
    remembered by any process serve the browser's next request only if they hold this write
    (``sessions.SessionStore``). An emptied session loses the cookie."""
    session = getattr(request, "session", None)
    if not isinstance(session, sessions.SessionStore):
        return
    name = sessions.version_cookie_name()
    if session.is_empty():
        if name in request.COOKIES:
            response.delete_cookie(
                name,
                path=settings.SESSION_COOKIE_PATH,
                domain=settings.SESSION_COOKIE_DOMAIN,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
        return
    if not session.modified or response.status_code >= 500:
        return
    version = secrets.token_urlsafe(12)
    session[sessions.VERSION_KEY] = version
    session.stamped = True
    max_age = None if session.get_expire_at_browser_close() else session.get_expiry_age()
    response.set_cookie(
        name,
        version,
        max_age=max_age,
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        secure=bool(settings.SESSION_COOKIE_SECURE),
        httponly=bool(settings.SESSION_COOKIE_HTTPONLY),
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )


def _navigation(request: HttpRequest) -> bool:
    """A browser navigating (GET asking for HTML), as opposed to an API call."""
    return request.method in {"GET", "HEAD"} and "text/html" in request.headers.get("Accept", "")


def _say_ended(request: HttpRequest) -> None:
    try:
        from django.contrib import messages

        messages.warning(request, ENDED_MESSAGE, fail_silently=True)
    except ImportError:  # pragma: no cover - sites without django.contrib.messages
        pass


def interval() -> float:
    return float(cognito_settings.ONLINE_CHECK_INTERVAL)


class SessionRevocationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if isinstance(session, sessions.SessionStore):
            session.presented_version = request.COOKIES.get(sessions.version_cookie_name(), "")
        response: HttpResponse | None = None
        if session is not None and session.get(BACKEND_SESSION_KEY) == sessions.BACKEND:
            reason = self.check(request, session)
            if reason:
                response = self.end(request, reason)
        elif session is not None and session.session_key is None and _navigation(request):
            if request.COOKIES.get(settings.SESSION_COOKIE_NAME):  # its session is gone (signed out elsewhere)
                _say_ended(request)
        if response is None:
            response = self.get_response(request)
        stamp(request, response)
        return response

    def check(self, request: HttpRequest, session: Any) -> str:
        """ "" when the session stands (``request.user`` is then set), else why it ended."""
        token = sessions.session_token(session.get(sessions.IDENTITY_KEY))
        if token is None:
            return "no_identity"
        try:
            state = revocation.check_token(token)
        except TokenRevoked:
            return "revoked"
        request.cognito_session_token = token  # type: ignore[attr-defined]
        user = self.user(request, session, state.user_version)
        if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
            return "user_inactive"
        if cognito_settings.ONLINE_CHECK:
            return self.check_online(request, session)
        return ""

    def check_online(self, request: HttpRequest, session: Any) -> str:
        """The online mode for a session holding server-side tokens: at most once per interval, ask Cognito about
        its access token; "" when it stands."""
        source = sessions.access_token_source()
        key = session.session_key or ""
        now = time.monotonic()
        last = _online_checked.get(key)
        if source is None or not key or (last is not None and now - last < interval()):
            return ""
        if len(_online_checked) >= _ONLINE_LIMIT:
            _online_checked.clear()
        _online_checked[key] = now
        try:
            raw = source(request)
            if not raw:
                return ""
            revocation.confirm_online(verify_token(raw, token_use=["access"], groups=(), scopes=()))
        except (TokenRevoked, TokenExpired, RevocationCheckUnavailable) as error:
            _online_checked.pop(key, None)
            return f"online_{error.code}"
        except CognitoError as error:  # tokens that cannot be checked now: the offline check stands
            logger.warning("session online check skipped: %s", error.code)
        return ""

    def user(self, request: HttpRequest, session: Any, version: int) -> Any:
        """The session's user: the one cached under the current user version, else Django's ``get_user``."""
        user_id = str(session.get(SESSION_KEY, ""))
        entry = _users.get(user_id) if version >= 0 else None
        user: Any = None
        if (
            entry is not None
            and entry[0] == version
            and time.monotonic() - entry[1] <= float(cognito_settings.USER_CACHE_SECONDS)
        ):
            stored_hash = session.get(HASH_SESSION_KEY) or ""
            if stored_hash and constant_time_compare(stored_hash, entry[3]):
                user = _clone(entry[2])
        if user is None:
            user = get_user(request)
            if version >= 0 and getattr(user, "is_authenticated", False):
                with _users_lock:
                    if len(_users) >= _USERS_LIMIT:
                        _users.clear()
                    _users[user_id] = (version, time.monotonic(), user, user.get_session_auth_hash())
                user = _clone(user)
        request.user = user
        request._cached_user = user  # type: ignore[attr-defined]
        return user

    def end(self, request: HttpRequest, reason: str) -> HttpResponse:
        logger.info("session ended: %s", reason)
        logout(request)
        _say_ended(request)
        if _navigation(request):
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?next={quote(request.get_full_path())}")
        return self.get_response(request)
