"""Revocation: refuse tokens that still verify offline but whose session has ended.

Cognito's tokens verify until ``exp`` even after a global sign-out or RevokeToken; only Cognito's own APIs see
the revocation. This module records revocations where every process sees them and checks each token against
them. Public functions (other apps and Celery tasks call these):

- ``revoke_user_tokens(user_or_sub, reason=...)``: refuse every token of the user whose session began at or
  before now (global sign-out, password change, disable, delete).
- ``revoke_token_family(origin_jti, sub=..., reason=...)``: refuse the id and access tokens minted from one
  refresh token (RevokeToken, sign-out of one device).
- ``check_token(token)``: raise ``TokenRevoked`` when ``token`` is revoked (called by the backend).
- ``confirm_online(token)``: the online mode: ask Cognito (GetUser) whether an access token is still good, at
  most once per ``ONLINE_CHECK_INTERVAL`` per token, the answer shared through the Django cache.
- ``purge_expired()``: delete token-family rows that can no longer match a valid token.

The database is the truth; the Django cache in front of it is written by every revocation (with ``set``, while
readers fill misses with ``add`` so they never overwrite a newer revocation; "not revoked" is kept there only
``REVOCATION_NEGATIVE_CACHE_SECONDS``). Each process also remembers answers in memory for at most
``REVOCATION_MEMO_SECONDS`` (``cache.py``): a revocation made in this process drops them at once, one made in
another process is seen within that time, and with Redis at once through a pub/sub message. So with the default
per-process cache most requests cost no database query, and a revocation elsewhere still holds within the TTL.
Cognito's times have one-second resolution: a token issued in the same second as a revocation is refused too
(the safe side of the ambiguity).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.dispatch import receiver

from .cache import bus, retrier
from .conf import cognito_settings
from .exceptions import RevocationCheckUnavailable, TokenExpired, TokenRevoked
from .models import CognitoIdentity, RevokedTokenFamily, UserRevocation
from .tokens import VerifiedToken, token_cache

logger = logging.getLogger(__name__)

SUB_PREFIX = "cognito_backend:nvb:"
FAMILY_PREFIX = "cognito_backend:family:"
ONLINE_PREFIX = "cognito_backend:online:"
USER_VERSION_PREFIX = "cognito_backend:uver:"

_shared_cache: bool | None = None
_cache_down_until = 0.0
CACHE_PAUSE_SECONDS = 2.0


def _is_shared_cache() -> bool:
    """Whether every process reads the same Django cache (Redis, Memcached, database, files). Decided once per
    configuration: looking the cache up costs more than the rest of a cached authentication."""
    global _shared_cache
    shared = _shared_cache
    if shared is None:
        configured = cognito_settings.SHARED_CACHE
        if configured is not None:
            shared = bool(configured)
        else:
            backend = str((getattr(settings, "CACHES", {}) or {}).get("default", {}).get("BACKEND", ""))
            shared = not backend.endswith(("LocMemCache", "DummyCache"))
        _shared_cache = shared
    return shared


def _cache_usable() -> bool:
    """False for a moment after the shared cache failed, so requests go to the database without each waiting
    for the cache's timeout."""
    return time.monotonic() >= _cache_down_until


def _cache_failed(action: str, error: Exception) -> None:
    global _cache_down_until
    _cache_down_until = time.monotonic() + CACHE_PAUSE_SECONDS
    logger.warning("revocation: the Django cache could not be %s (%s)", action, type(error).__name__)


def _sub_of(user_or_sub: AbstractBaseUser | str) -> str:
    if isinstance(user_or_sub, str):
        return user_or_sub
    identity = CognitoIdentity.objects.filter(user_id=user_or_sub.pk).only("sub").first()
    return identity.sub if identity is not None else ""


def _write_through(key: str, value: Any, timeout: int) -> None:
    """A revocation's write to the shared cache. When it fails, the key must not keep its old answer (another
    process would trust it for up to a day): delete it, and retry the write in the background until it lands."""
    if not _is_shared_cache():
        return

    def write() -> None:
        cache.set(key, value, timeout=timeout)

    try:
        write()
        return
    except Exception as exc:  # noqa: BLE001 - handled below
        _cache_failed("written", exc)
    try:
        cache.delete(key)
    except Exception:  # noqa: BLE001 - the retry below repairs it
        logger.warning("revocation: the stale cache entry could not be deleted either; retrying the write")
    retrier.submit("revocation cache write", write, time.monotonic() + int(cognito_settings.REVOCATION_CACHE_SECONDS))


# --- recording -------------------------------------------------------------------------------------------------


def revoke_user_tokens(user_or_sub: AbstractBaseUser | str, *, reason: str = "", at: datetime | None = None) -> None:
    """Refuse every token of this user whose session (``auth_time``, else ``iat``) began at or before ``at``.

    ``user_or_sub`` is a local user linked to Cognito or a Cognito ``sub``; an unlinked user is a no-op. Call it
    after a global sign-out, a password change or reset, and when disabling or deleting the user. ``at``
    defaults to now; a later ``not_valid_before`` already recorded is kept. The user's next sign-in gets new
    tokens that pass.
    """
    sub = _sub_of(user_or_sub)
    if not sub:
        return
    when = at or datetime.now(UTC)
    for _ in range(3):
        try:
            with transaction.atomic():
                row, created = UserRevocation.objects.select_for_update().get_or_create(
                    sub=sub, defaults={"not_valid_before": when, "reason": reason}
                )
                if not created and row.not_valid_before < when:
                    row.not_valid_before = when
                    row.reason = reason
                    row.save(update_fields=["not_valid_before", "reason", "updated"])
                when = max(when, row.not_valid_before)
            break
        except IntegrityError:
            continue  # a concurrent revocation created the row; update it on the next pass
    _write_through(SUB_PREFIX + sub, when.timestamp(), int(cognito_settings.REVOCATION_CACHE_SECONDS))
    bus.publish(sub=sub, kind="revoked")
    _forget_online_answers(sub)
    token_cache.discard_where(lambda verified: verified.sub == sub)
    logger.info("tokens revoked: sub=%s reason=%s", sub, reason or "-")


def revoke_token_family(
    origin_jti: str, *, sub: str = "", reason: str = "", expires_at: datetime | None = None
) -> None:
    """Refuse the id and access tokens minted from the refresh token whose family id is ``origin_jti``.

    Call it with the ``origin_jti`` of a token being signed out (RevokeToken, one device's sign-out). The row is
    kept until ``expires_at`` (default: now plus ``REFRESH_TOKEN_LIFETIME``).
    """
    if not origin_jti:
        return
    expiry = expires_at or datetime.fromtimestamp(time.time() + int(cognito_settings.REFRESH_TOKEN_LIFETIME), UTC)
    RevokedTokenFamily.objects.update_or_create(
        origin_jti=origin_jti, defaults={"sub": sub, "reason": reason, "expires_at": expiry}
    )
    _write_through(FAMILY_PREFIX + _digest(origin_jti), 1, int(cognito_settings.REVOCATION_CACHE_SECONDS))
    bus.publish(origin_jti=origin_jti, kind="revoked")
    token_cache.discard_where(lambda verified: verified.origin_jti == origin_jti)
    logger.info("token family revoked: sub=%s reason=%s", sub or "-", reason or "-")


def purge_expired() -> int:
    """Delete revoked token families that no token can belong to any more; returns how many."""
    deleted, _ = RevokedTokenFamily.objects.filter(expires_at__lt=datetime.now(UTC)).delete()
    return int(deleted)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


# --- checking --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevocationState:
    not_valid_before: float  # 0 when the user has no revocation
    family_revoked: bool
    # Changes whenever the local user behind the sub may have changed: callers may keep the user while it stays
    # the same. -1: no version known (callers must not cache users across requests).
    user_version: int


# Versions handed out when there is no shared user version (per-process cache): a new one each time the memo is
# refilled from the database, so a user cached under it lives no longer than a memo answer.
_local_versions = itertools.count(1)


def state_for(token: VerifiedToken) -> RevocationState:
    """What is recorded against ``token``'s user and family.

    From process memory while an answer younger than ``REVOCATION_MEMO_SECONDS`` is remembered (see cache.py),
    else from the shared cache (one round trip), else from the database.
    """
    sub_key = ("sub", token.sub)
    family_key = ("family", token.origin_jti)
    user = bus.get(sub_key)
    family: Any = bus.get(family_key) if token.origin_jti else False
    if user is not None and family is not None:
        return RevocationState(user[0], family, user[1])
    generation = bus.generation()
    shared = _is_shared_cache()
    cache_sub = SUB_PREFIX + token.sub
    cache_family = FAMILY_PREFIX + _digest(token.origin_jti) if token.origin_jti else ""
    cache_version = USER_VERSION_PREFIX + token.sub
    found: dict[str, Any] = {}
    readable = shared and _cache_usable()
    if readable:
        keys = ([cache_sub, cache_version] if user is None else []) + ([cache_family] if family is None else [])
        try:
            found = cache.get_many(keys)
        except Exception as exc:  # noqa: BLE001 - fall back to the database below
            _cache_failed("read", exc)
            readable = False
    fills: list[tuple[str, Any, int]] = []
    positive = int(cognito_settings.REVOCATION_CACHE_SECONDS)
    negative = int(cognito_settings.REVOCATION_NEGATIVE_CACHE_SECONDS)
    if user is None:
        nvb = found.get(cache_sub)
        if nvb is None:
            nvb = _db_not_valid_before(token.sub)
            fills.append((cache_sub, nvb, positive if nvb else negative))
        version = found.get(cache_version) if shared else next(_local_versions)
        if version is None:
            version = _fresh_version()
            fills.append((cache_version, version, positive))
        user = (float(nvb), int(version))
        bus.put(sub_key, user, generation)
    if family is None:
        cached = found.get(cache_family)
        if cached is None:
            cached = 1 if _db_family_revoked(token.origin_jti) else 0
            fills.append((cache_family, cached, positive if cached else negative))
        family = bool(cached)
        bus.put(family_key, family, generation)
    if readable and fills:
        # ``add``, never ``set``: a revocation written since our database read must win over our older answer.
        try:
            for key, value, timeout in fills:
                cache.add(key, value, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - the cache is an accelerator; the answer stands
            _cache_failed("filled", exc)
    return RevocationState(user[0], bool(family), user[1])


def _fresh_version() -> int:
    """A user version unlikely to repeat one held before the key expired (milliseconds since the epoch)."""
    return int(time.time() * 1000)


def _db_not_valid_before(sub: str) -> float:
    value = UserRevocation.objects.filter(sub=sub).values_list("not_valid_before", flat=True).first()
    return value.timestamp() if value is not None else 0.0


def _db_family_revoked(origin_jti: str) -> bool:
    return RevokedTokenFamily.objects.filter(origin_jti=origin_jti).exists()


def is_revoked(token: VerifiedToken, state: RevocationState | None = None) -> bool:
    state = state or state_for(token)
    if state.family_revoked:
        return True
    # Whole seconds on Cognito's side: a session that began in the second of the revocation is refused too.
    return bool(state.not_valid_before) and token.revocation_time <= math.floor(state.not_valid_before)


def check_token(token: VerifiedToken, state: RevocationState | None = None) -> RevocationState:
    """Raise ``TokenRevoked`` when ``token`` has been revoked; returns the state it was judged on."""
    state = state or state_for(token)
    if is_revoked(token, state):
        raise TokenRevoked()
    return state


def bump_user_version(sub: str) -> None:
    """Tell every process that the local user behind ``sub`` changed, so cached copies are dropped."""
    if not sub:
        return
    if _is_shared_cache():
        key = USER_VERSION_PREFIX + sub
        try:
            try:
                cache.incr(key)
            except ValueError:  # no version yet (or expired): any new value differs from what others hold
                cache.set(key, _fresh_version(), timeout=int(cognito_settings.REVOCATION_CACHE_SECONDS))
        except Exception:  # noqa: BLE001 - a stale version would keep old users: write a fresh one, retried
            _write_through(key, _fresh_version(), int(cognito_settings.REVOCATION_CACHE_SECONDS))
    bus.publish(sub=sub, kind="user")


# --- online mode -----------------------------------------------------------------------------------------------

_online_memo: dict[str, tuple[float, int]] = {}
_online_lock = threading.Lock()
_ONLINE_MEMO_LIMIT = 8192


def _forget_online_answers(sub: str) -> None:
    with _online_lock:
        _online_memo.clear()  # rare event; cheaper than indexing answers by sub


# GetUser works only with access tokens carrying this scope; others cannot be checked online.
ADMIN_SCOPE = "aws.cognito.signin.user.admin"

# How Cognito's GetUser answers are judged (``_ask_cognito``): these NotAuthorizedException messages say nothing
# about revocation. "Access Token has expired": a token inside our leeway that Cognito's clock calls expired.
# "... does not have required scopes": a token GetUser cannot check. Every other NotAuthorizedException
# ("Access Token has been revoked", "User is disabled.", "Invalid Access Token") and UserNotFoundException mean
# the session is over.
_EXPIRED = "expired"
_UNCHECKABLE = "scope"

GOOD, REVOKED, EXPIRED = 1, 0, 2


def confirm_online(token: VerifiedToken) -> None:
    """Ask Cognito whether ``token`` (an access token) is still good; raise ``TokenRevoked`` when it is not.

    At most one GetUser per token per ``ONLINE_CHECK_INTERVAL`` seconds, the answer shared through the Django
    cache. A token Cognito calls revoked also records a "not valid before" for its user, so the offline check
    refuses the user's other old tokens at once; one it calls expired is refused alone (``TokenExpired``). Id
    tokens, and access tokens without the ``aws.cognito.signin.user.admin`` scope, cannot be checked this way
    and pass. When Cognito cannot be reached the token passes (``ONLINE_CHECK_FAIL_OPEN``) or is refused with a
    503-class error; either way it is logged.
    """
    if token.token_use != "access" or not token.raw or ADMIN_SCOPE not in token.scopes:  # noqa: S105 - a claim
        return
    key = ONLINE_PREFIX + _digest(token.jti or token.raw)
    interval = float(cognito_settings.ONLINE_CHECK_INTERVAL)
    now = time.monotonic()
    memo = _online_memo.get(key)
    if memo is not None and now - memo[0] < interval:
        _judge(memo[1])
        return
    try:
        shared = cache.get(key) if interval > 0 else None
    except Exception:  # noqa: BLE001 - ask Cognito instead
        shared = None
    if shared is None:
        answer = _ask_cognito(token)
        if answer is None:  # unreachable, already logged and judged as fail-open
            return
        if interval > 0:
            try:
                cache.set(key, answer, timeout=math.ceil(interval))
            except Exception:  # noqa: BLE001
                logger.warning("online check: the Django cache could not be written", exc_info=True)
    else:
        answer = int(shared)
    with _online_lock:
        if len(_online_memo) >= _ONLINE_MEMO_LIMIT:
            _online_memo.clear()
        _online_memo[key] = (now, answer)
    _judge(answer)


def _judge(answer: int) -> None:
    if answer == REVOKED:
        raise TokenRevoked()
    if answer == EXPIRED:
        raise TokenExpired()


def _ask_cognito(token: VerifiedToken) -> int | None:
    """GOOD, REVOKED (and recorded) or EXPIRED; None when Cognito is unreachable and the check fails open."""
    from . import exceptions, idp

    try:
        idp.call(
            "get_user",
            read_timeout=float(cognito_settings.ONLINE_CHECK_TIMEOUT),
            max_attempts=1,
            region=token.pool.region,
            AccessToken=token.raw,
        )
        return GOOD
    except (exceptions.NotAuthorized, exceptions.UserDisabled, exceptions.UserNotFound) as error:
        message = _cognito_message(error)
        if isinstance(error, exceptions.NotAuthorized) and _EXPIRED in message:
            logger.info("online check: Cognito calls the token of sub=%s expired; not a revocation", token.sub)
            return EXPIRED
        if isinstance(error, exceptions.NotAuthorized) and _UNCHECKABLE in message:
            logger.info("online check: the token of sub=%s cannot be checked with GetUser (scope)", token.sub)
            return GOOD
        logger.info("online check: Cognito refused the token of sub=%s (%s)", token.sub, error.code)
        revoke_user_tokens(token.sub, reason="cognito_refused", at=datetime.now(UTC))
        return REVOKED
    except exceptions.CognitoError as error:
        reason = error.code
    if cognito_settings.ONLINE_CHECK_FAIL_OPEN:
        logger.warning("online check: Cognito unreachable (%s); failing open for sub=%s", reason, token.sub)
        return None
    logger.warning("online check: Cognito unreachable (%s); failing closed for sub=%s", reason, token.sub)
    raise RevocationCheckUnavailable()


def _cognito_message(error: Exception) -> str:
    """Cognito's own message behind a translated error (idp.py keeps it as the cause), lower-cased; it tells an
    expired or unscoped token apart from a revoked one, which share NotAuthorizedException."""
    response = getattr(error.__cause__, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "") or "").lower()


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    global _shared_cache, _cache_down_until
    if setting in {"COGNITO", "CACHES"}:
        _shared_cache = None
        _cache_down_until = 0.0
        with _online_lock:
            _online_memo.clear()
        bus.stop()
