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

The database is the truth; the Django cache in front of it is written by every revocation, so with a shared
cache (Redis) all processes see a revocation at once. With Redis, answers are also kept in process memory and
dropped at once by a pub/sub message from whichever process revokes (``cache.py``), so a request usually costs
no round trip at all. With a per-process cache (locmem) the check asks the database on every request instead.
Cognito's times have one-second resolution: a token issued in the same second as a revocation is refused too
(the safe side of the ambiguity).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.dispatch import Signal, receiver

from .cache import bus
from .conf import cognito_settings
from .exceptions import RevocationCheckUnavailable, TokenRevoked
from .models import CognitoIdentity, RevokedTokenFamily, UserRevocation
from .tokens import VerifiedToken, token_cache

logger = logging.getLogger(__name__)

SUB_PREFIX = "cognito_backend:nvb:"
FAMILY_PREFIX = "cognito_backend:family:"
ONLINE_PREFIX = "cognito_backend:online:"
USER_VERSION_PREFIX = "cognito_backend:uver:"

# Sent after a revocation is recorded: ``sender`` is this module's name, ``sub`` / ``origin_jti`` and ``reason``.
tokens_revoked = Signal()


_shared_cache: bool | None = None


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


def _sub_of(user_or_sub: AbstractBaseUser | str) -> str:
    if isinstance(user_or_sub, str):
        return user_or_sub
    identity = CognitoIdentity.objects.filter(user_id=user_or_sub.pk).only("sub").first()
    return identity.sub if identity is not None else ""


def _cache_set(values: dict[str, Any]) -> None:
    try:
        cache.set_many(values, timeout=int(cognito_settings.REVOCATION_CACHE_SECONDS))
    except Exception:  # noqa: BLE001 - the cache is an accelerator; the database already holds the truth
        logger.warning("revocation: the Django cache could not be written", exc_info=True)


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
    _cache_set({SUB_PREFIX + sub: when.timestamp()})
    bus.publish(sub=sub, kind="revoked")
    _forget_online_answers(sub)
    token_cache.discard_where(lambda verified: verified.sub == sub)
    logger.info("tokens revoked: sub=%s reason=%s", sub, reason or "-")
    tokens_revoked.send(sender=__name__, sub=sub, origin_jti="", reason=reason)


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
    _cache_set({FAMILY_PREFIX + _digest(origin_jti): 1})
    bus.publish(origin_jti=origin_jti, kind="revoked")
    token_cache.discard_where(lambda verified: verified.origin_jti == origin_jti)
    logger.info("token family revoked: sub=%s reason=%s", sub or "-", reason or "-")
    tokens_revoked.send(sender=__name__, sub=sub, origin_jti=origin_jti, reason=reason)


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
    user_version: int


def state_for(token: VerifiedToken) -> RevocationState:
    """What is recorded against ``token``'s user and family: one cache round trip when the cache is shared."""
    shared = _is_shared_cache()
    if shared:
        memo_key = (token.sub, token.origin_jti)
        remembered = bus.get(memo_key)
        if remembered is not None:
            return remembered  # type: ignore[no-any-return]
        generation = bus.generation()
    sub_key = SUB_PREFIX + token.sub
    family_key = FAMILY_PREFIX + _digest(token.origin_jti) if token.origin_jti else ""
    version_key = USER_VERSION_PREFIX + token.sub
    if shared:
        keys = [sub_key, version_key] + ([family_key] if family_key else [])
        try:
            found = cache.get_many(keys)
        except Exception:  # noqa: BLE001 - fall back to the database below
            logger.warning("revocation: the Django cache could not be read", exc_info=True)
            found = {}
        missing: dict[str, Any] = {}
        nvb = found.get(sub_key)
        if nvb is None:
            nvb = _db_not_valid_before(token.sub)
            missing[sub_key] = nvb
        family = found.get(family_key) if family_key else 0
        if family is None:
            family = 1 if _db_family_revoked(token.origin_jti) else 0
            missing[family_key] = family
        version = found.get(version_key)
        if version is None:
            version = 0
            missing[version_key] = 0
        if missing:
            _cache_set(missing)
        state = RevocationState(float(nvb), bool(family), int(version))
        bus.put(memo_key, state, generation)
        return state
    return RevocationState(
        _db_not_valid_before(token.sub),
        bool(token.origin_jti) and _db_family_revoked(token.origin_jti),
        -1,  # no shared version: callers must not cache users across requests
    )


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
    if not sub or not _is_shared_cache():
        return
    key = USER_VERSION_PREFIX + sub
    try:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=int(cognito_settings.REVOCATION_CACHE_SECONDS))
    except Exception:  # noqa: BLE001 - see _cache_set
        logger.warning("revocation: the user version could not be bumped", exc_info=True)
    bus.publish(sub=sub, kind="user")


# --- online mode -----------------------------------------------------------------------------------------------

_online_memo: dict[str, tuple[float, bool]] = {}
_online_lock = threading.Lock()
_ONLINE_MEMO_LIMIT = 8192


def _forget_online_answers(sub: str) -> None:
    with _online_lock:
        _online_memo.clear()  # rare event; cheaper than indexing answers by sub


def confirm_online(token: VerifiedToken) -> None:
    """Ask Cognito whether ``token`` (an access token) is still good; raise ``TokenRevoked`` when it is not.

    At most one GetUser per token per ``ONLINE_CHECK_INTERVAL`` seconds, the answer shared through the Django
    cache. A refused token also records a "not valid before" for its user, so the offline check refuses the
    user's other old tokens at once. Id tokens cannot be checked this way and pass. When Cognito cannot be
    reached the token passes (``ONLINE_CHECK_FAIL_OPEN``) or is refused with a 503-class error; either way
    it is logged.
    """
    if token.token_use != "access" or not token.raw:  # noqa: S105 - a claim value
        return
    key = ONLINE_PREFIX + _digest(token.jti or token.raw)
    interval = float(cognito_settings.ONLINE_CHECK_INTERVAL)
    now = time.monotonic()
    memo = _online_memo.get(key)
    if memo is not None and now - memo[0] < interval:
        if not memo[1]:
            raise TokenRevoked()
        return
    try:
        shared = cache.get(key) if interval > 0 else None
    except Exception:  # noqa: BLE001 - ask Cognito instead
        shared = None
    if shared is None:
        good = _ask_cognito(token)
        if good is None:  # unreachable, already logged and judged as fail-open
            return
        if interval > 0:
            try:
                cache.set(key, 1 if good else 0, timeout=math.ceil(interval))
            except Exception:  # noqa: BLE001
                logger.warning("online check: the Django cache could not be written", exc_info=True)
    else:
        good = bool(shared)
    with _online_lock:
        if len(_online_memo) >= _ONLINE_MEMO_LIMIT:
            _online_memo.clear()
        _online_memo[key] = (now, good)
    if not good:
        raise TokenRevoked()


def _ask_cognito(token: VerifiedToken) -> bool | None:
    """True: Cognito accepts the token. False: refused (and recorded). None: unreachable and failing open."""
    from .clients import get_client

    client = get_client(
        "cognito-idp",
        read_timeout=float(cognito_settings.ONLINE_CHECK_TIMEOUT),
        max_attempts=1,
        region=token.pool.region,
    )
    try:
        client.get_user(AccessToken=token.raw)
        return True
    except ClientError as exc:
        error = exc.response.get("Error", {}).get("Code", "")
        if error in {"NotAuthorizedException", "UserNotFoundException"}:
            logger.info("online check: Cognito refused the token of sub=%s (%s)", token.sub, error)
            revoke_user_tokens(token.sub, reason="cognito_refused", at=datetime.now(UTC))
            return False
        reason = error or "ClientError"
    except BotoCoreError as exc:
        reason = type(exc).__name__
    if cognito_settings.ONLINE_CHECK_FAIL_OPEN:
        logger.warning("online check: Cognito unreachable (%s); failing open for sub=%s", reason, token.sub)
        return None
    logger.warning("online check: Cognito unreachable (%s); failing closed for sub=%s", reason, token.sub)
    raise RevocationCheckUnavailable()


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    global _shared_cache
    if setting in {"COGNITO", "CACHES"}:
        _shared_cache = None
        with _online_lock:
            _online_memo.clear()
        bus.stop()
