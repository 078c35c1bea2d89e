"""The Cognito tokens of a signed-in session, kept server-side and encrypted at rest.

After a sign-in the page calls ``store(request, tokens)``: the id, access and refresh tokens go into one
``TokenSet`` row, encrypted with ``TOKEN_ENCRYPTION_KEY`` (a ``MultiFernet`` of the comma-separated keys,
newest first: the newest encrypts, every one decrypts, so a key can rotate), and the session holds only the
row's random id. The browser never sees a token; logs name the row and the user, never a token.

- ``tokens_for(request)``: the session's tokens, refreshed first when they are about to expire; None when the
  session has none. A row that cannot be decrypted (wrong key, corrupted) or whose refresh token Cognito
  refuses ends the session: it is signed out, never handed back as ciphertext.
- ``refresh_if_needed(token_set)``: the inline refresh (Celery reuses it), under ``token_set_lock``, with the
  app client the tokens were issued to (``TokenSet.client_id``: the hosted UI's may differ from the site's). A
  throttled or unreachable Cognito is asked again with backoff and jitter (``TOKEN_REFRESH_ATTEMPTS``); the old
  tokens serve meanwhile while they are valid. A refusal ends the session and is recorded (``EndedSession``).
- ``rotate_keys()``: re-encrypt every row under the newest key (``manage.py rotate_token_encryption_key``).

Functions that hold tokens are ``sensitive_variables``: an error report (DEBUG page, admin email) shows none.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_out
from django.db import OperationalError
from django.db.models import Case, F, Q, Value, When
from django.dispatch import receiver
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from cognito_backend import exceptions as exc
from cognito_backend.conf import cognito_settings
from cognito_backend.tokens import verify_token

from . import conf, services
from .models import EndedSession, TokenSet

logger = logging.getLogger(__name__)

SESSION_KEY = "accounts.token_set"


class TokenSetUnreadable(Exception):
    """The row cannot be decrypted with any configured key (or is not what was written): signed out."""

    reason = EndedSession.Reason.UNREADABLE


class TokenSetEnded(Exception):
    """The tokens cannot be renewed (Cognito refused the refresh token, or the row is gone): signed out.

    ``reason`` is the ``EndedSession.Reason`` of a refusal; empty when the row was already gone (whoever deleted
    it, a sign-out or the caller that met the refusal first, has accounted for it)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


# Cognito's answers that end the session, and those worth asking again (the old tokens serve meanwhile).
REFUSED: tuple[type[exc.CognitoError], ...] = (exc.NotAuthorized, exc.UserDisabled, exc.UserNotFound)
TRANSIENT: tuple[type[exc.CognitoError], ...] = (exc.ServiceUnavailable, exc.Throttled)


@dataclass(frozen=True)
class StoredTokens:
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float


# --- encryption ------------------------------------------------------------------------------------------------

_fernet: tuple[str, MultiFernet] | None = None


def keys() -> list[str]:
    """The configured keys, newest first (``TOKEN_ENCRYPTION_KEY`` is one key or several, comma-separated)."""
    raw = str(getattr(settings, "TOKEN_ENCRYPTION_KEY", "") or "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def fernet() -> MultiFernet:
    """The ``MultiFernet`` of the configured keys, built once per setting value."""
    global _fernet
    raw = str(getattr(settings, "TOKEN_ENCRYPTION_KEY", "") or "")
    built = _fernet
    if built is None or built[0] != raw:
        built = (raw, MultiFernet([Fernet(key) for key in keys()]))
        _fernet = built
    return built[1]


@sensitive_variables()
def _encrypt(id_token: str, access_token: str, refresh_token: str) -> str:
    data = json.dumps({"id_token": id_token, "access_token": access_token, "refresh_token": refresh_token})
    return fernet().encrypt(data.encode()).decode()


@sensitive_variables()
def read(token_set: TokenSet) -> StoredTokens:
    """The decrypted tokens of ``token_set``; ``TokenSetUnreadable`` when no key opens it."""
    try:
        data = json.loads(fernet().decrypt(token_set.ciphertext.encode()))
        tokens = StoredTokens(
            id_token=str(data["id_token"]),
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            expires_at=token_set.expires_at.timestamp(),
        )
    except (InvalidToken, ValueError, TypeError, KeyError, UnicodeError) as error:
        logger.warning("token set %s of sub=%s cannot be decrypted; signed out", token_set.pk, token_set.sub)
        raise TokenSetUnreadable() from error
    return tokens


@sensitive_variables()
def _expiry(tokens: services.Tokens) -> tuple[datetime, Any]:
    """When the earlier of the id and access tokens expires, and the verified id token (sub, username)."""
    identity = verify_token(tokens.id_token, token_use=["id"])
    expires = identity.expires_at
    try:
        expires = min(expires, verify_token(tokens.access_token, token_use=["access"]).expires_at)
    except exc.TokenError:
        logger.warning("the access token of sub=%s did not verify; the id token's expiry is used", identity.sub)
    return datetime.fromtimestamp(expires, UTC), identity


# --- the session's tokens --------------------------------------------------------------------------------------


@sensitive_variables()
def store(request: HttpRequest, tokens: services.Tokens, *, client_id: str = "") -> TokenSet:
    """Keep ``tokens`` for the signed-in session of ``request`` (call it after ``login()``); ``client_id``: the
    app client they were issued to when not ``COGNITO["APP_CLIENT_ID"]`` (the hosted UI's)."""
    expires_at, identity = _expiry(tokens)
    discard(request)
    token_set = TokenSet.objects.create(
        user_id=cast(int, request.user.pk),
        sub=identity.sub,
        username=str(identity.get("cognito:username") or identity.username or ""),
        client_id=client_id if client_id and client_id != str(cognito_settings.APP_CLIENT_ID or "") else "",
        ciphertext=_encrypt(tokens.id_token, tokens.access_token, tokens.refresh_token),
        expires_at=expires_at,
    )
    request.session[SESSION_KEY] = str(token_set.pk)
    return token_set


def token_set_for(request: HttpRequest) -> TokenSet | None:
    """The session's row, if it has one (and it still belongs to the session's user)."""
    ident = request.session.get(SESSION_KEY)
    user_pk = request.user.pk
    if not ident or user_pk is None:
        return None
    try:
        return TokenSet.objects.filter(pk=uuid.UUID(str(ident)), user_id=user_pk).first()
    except ValueError:
        return None


@sensitive_variables()
def tokens_for(request: HttpRequest) -> StoredTokens | None:
    """The session's tokens, fresh; None (and the session ended) when it has none that can be used.

    A session that never held tokens (a password login to the admin) gets None and stays signed in.
    """
    if not request.session.get(SESSION_KEY):
        return None
    token_set = token_set_for(request)
    try:
        if token_set is None:
            raise TokenSetEnded()
        return refresh_if_needed(token_set)
    except (TokenSetUnreadable, TokenSetEnded) as error:
        if token_set is not None and error.reason:
            record_ended(token_set, error.reason, source="page")
        end_session(request)
        return None


def record_ended(token_set: TokenSet, reason: str, *, source: str) -> EndedSession:
    """Record why the site ended the session of ``token_set`` (who, why, when; no token)."""
    logger.info("session of token set %s (sub=%s) ended: %s (%s)", token_set.pk, token_set.sub, reason, source)
    return EndedSession.objects.create(
        user_id=token_set.user_id,
        sub=token_set.sub,
        username=token_set.username,
        token_set=str(token_set.pk),
        reason=reason,
        source=source,
    )


def end_session(request: HttpRequest) -> None:
    """Sign the session out (its row goes too) and say why on the next page."""
    logout(request)
    try:
        from django.contrib import messages

        messages.warning(request, "Your session has ended; please sign in again.", fail_silently=True)
    except Exception:  # noqa: BLE001 - messages are a courtesy
        logger.debug("no message storage on this request")


def discard(request: HttpRequest) -> None:
    """Delete the session's row (sign-out, or a new sign-in replacing it)."""
    ident = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if ident:
        try:
            TokenSet.objects.filter(pk=uuid.UUID(str(ident))).delete()
        except ValueError:
            pass
        request.session.pop(SESSION_KEY, None)


@receiver(user_logged_out)
def _forget_on_logout(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    if request is not None:
        discard(request)


# --- refresh ---------------------------------------------------------------------------------------------------


def refresh_margin() -> float:
    """Seconds before expiry at which tokens are renewed (``ACCOUNTS["TOKEN_REFRESH_MARGIN"]``)."""
    return float(conf.accounts_settings.TOKEN_REFRESH_MARGIN)


def refresh_attempts() -> int:
    """Calls per refresh when Cognito is throttling or unreachable (``TOKEN_REFRESH_ATTEMPTS``, default 3)."""
    return max(1, int(getattr(settings, "TOKEN_REFRESH_ATTEMPTS", 3)))


def refresh_backoff() -> float:
    """The first retry's mean wait in seconds (``TOKEN_REFRESH_BACKOFF``, default 0.5); doubling, full jitter."""
    return max(0.0, float(getattr(settings, "TOKEN_REFRESH_BACKOFF", 0.5)))


# Retries stop once this much of the lease is spent, so the lease (30 s) outlives the last call (<= 12 s).
RETRY_BUDGET = 15.0
BACKOFF_CAP = 5.0


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): exponential with full jitter, capped."""
    return random.uniform(0, min(BACKOFF_CAP, refresh_backoff() * (2 ** (attempt - 1))))


def app_client(token_set: TokenSet) -> tuple[str, str | None]:
    """(client id, secret) of the app client that received the refresh token; ("", None) for the site's own
    (``COGNITO["APP_CLIENT_ID"]``, whose secret ``idp`` knows). The hosted UI's secret is
    ``COGNITO_HOSTED_UI["CLIENT_SECRET"]``."""
    client_id = token_set.client_id
    if not client_id or client_id == str(cognito_settings.APP_CLIENT_ID or ""):
        return "", None
    hosted = getattr(settings, "COGNITO_HOSTED_UI", None) or {}
    if client_id == str(hosted.get("CLIENT_ID") or ""):
        return client_id, str(hosted.get("CLIENT_SECRET") or "") or None
    return client_id, None


@sensitive_variables()
def _ask_cognito(token_set: TokenSet, tokens: StoredTokens) -> services.Tokens:
    """REFRESH_TOKEN_AUTH with the token set's app client; a throttled or unreachable Cognito is asked again
    (``refresh_attempts()`` calls in all, backoff with full jitter, at least the ``Retry-After`` Cognito gave)
    within ``RETRY_BUDGET``. botocore does not retry underneath (``max_attempts=1``): these are the only retries,
    so the calls stay within Cognito's quota. Raises the last error."""
    client_id, secret = app_client(token_set)
    started = time.monotonic()
    attempts = refresh_attempts()
    for attempt in range(1, attempts + 1):
        try:
            return services.refresh(
                tokens.refresh_token, token_set.username, client_id=client_id, client_secret=secret, max_attempts=1
            )
        except TRANSIENT as error:
            wait = max(backoff(attempt), float(getattr(error, "retry_after", 0) or 0))
            if attempt >= attempts or time.monotonic() - started + wait > RETRY_BUDGET:
                raise
            logger.info(
                "refresh of token set %s: %s, attempt %d of %d; again in %.2f s",
                token_set.pk,
                error.code,
                attempt,
                attempts,
                wait,
            )
            time.sleep(wait)
    raise AssertionError("unreachable")


def is_due(token_set: TokenSet, *, margin: float | None = None) -> bool:
    limit = time.time() + (refresh_margin() if margin is None else margin)
    return token_set.expires_at.timestamp() <= limit


@dataclass
class Lease:
    """The refresh lease of one token set, as ``token_set_lock`` took it. ``released``: the holder's own write
    already gave it back (the new tokens and the release are one UPDATE), so none is needed on the way out."""

    owner: str
    held: bool = False
    released: bool = False


@contextmanager
def token_set_lock(token_set_id: Any, *, timeout: float = 30.0, wait: float = 15.0) -> Iterator[Lease]:
    """Hold the refresh lease of one token set while its tokens are renewed; yields the ``Lease`` (``held``: it
    was taken).

    The lease is the row itself: one conditional UPDATE moves ``lease_until`` from empty (or past) to the future,
    and the database lets exactly one caller do that, whichever process it runs in and whatever cache the site
    has. No transaction stays open across the Cognito call. A lease left by a killed process expires after
    ``timeout``. Whoever gives up waiting proceeds; the row's ``version`` keeps a late writer from overwriting
    newer tokens.
    """
    owner = uuid.uuid4().hex
    lease = Lease(owner)
    deadline = time.monotonic() + wait
    held = False
    while True:
        now = datetime.now(UTC)
        try:
            held = bool(
                TokenSet.objects.filter(pk=token_set_id)
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
                .update(lease_until=now + timedelta(seconds=timeout), lease_owner=owner)
            )
            gone = not held and not TokenSet.objects.filter(pk=token_set_id).exists()
        except OperationalError as error:
            if not exc.is_database_locked(error):
                raise
            held = gone = False  # another writer holds the database this instant: the lease is contended, wait
        if held or gone or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    lease.held = held
    try:
        yield lease
    finally:
        if held and not lease.released:
            TokenSet.objects.filter(pk=token_set_id, lease_owner=owner).update(lease_until=None, lease_owner="")


@sensitive_variables()
def refresh_if_needed(token_set: TokenSet, *, margin: float | None = None) -> StoredTokens:
    """The tokens of ``token_set``, renewed first (REFRESH_TOKEN_AUTH) when they expire within ``margin``.

    Under ``token_set_lock``: of concurrent callers one asks Cognito, the others then read its answer. Raises
    ``TokenSetUnreadable`` or ``TokenSetEnded`` (Cognito refused the refresh token: the row is deleted). When
    Cognito cannot be reached, tokens not yet expired are returned as they are; expired ones raise the error.
    """
    if not is_due(token_set, margin=margin):
        return read(token_set)
    with token_set_lock(token_set.pk) as lease:
        current = TokenSet.objects.filter(pk=token_set.pk).first()
        if current is None:
            raise TokenSetEnded()
        tokens = read(current)
        if not is_due(current, margin=margin):
            return tokens  # renewed by whoever held the lock before us
        try:
            fresh = _ask_cognito(current, tokens)
        except REFUSED as error:
            logger.info("refresh of token set %s (sub=%s) refused: %s; signed out", current.pk, current.sub, error.code)
            TokenSet.objects.filter(pk=current.pk).delete()
            raise TokenSetEnded(_refusal(error)) from error
        except exc.CognitoError as error:
            if tokens.expires_at > time.time():
                logger.warning("refresh of token set %s failed (%s); the current tokens serve", current.pk, error.code)
                return tokens
            raise
        expires_at, _ = _expiry(fresh)
        # The new tokens and the lease's release in one write (the release only if the lease is still ours).
        ours = Q(lease_owner=lease.owner)
        updated = TokenSet.objects.filter(pk=current.pk, version=current.version).update(
            ciphertext=_encrypt(fresh.id_token, fresh.access_token, fresh.refresh_token or tokens.refresh_token),
            expires_at=expires_at,
            version=F("version") + 1,
            refreshed=datetime.now(UTC),
            lease_until=Case(When(ours, then=Value(None)), default=F("lease_until")),
            lease_owner=Case(When(ours, then=Value("")), default=F("lease_owner")),
        )
        lease.released = bool(updated)
        if not updated:  # someone else wrote newer tokens meanwhile (or deleted the row)
            latest = TokenSet.objects.filter(pk=current.pk).first()
            if latest is None:
                raise TokenSetEnded()
            return read(latest)
        logger.info("tokens of token set %s (sub=%s) refreshed", current.pk, current.sub)
        return StoredTokens(
            id_token=fresh.id_token,
            access_token=fresh.access_token,
            refresh_token=fresh.refresh_token or tokens.refresh_token,
            expires_at=expires_at.timestamp(),
        )


def _refusal(error: exc.CognitoError) -> str:
    """The ``EndedSession.Reason`` of a refusal (``services.refresh`` keeps Cognito's own error as the cause)."""
    for candidate in (error, error.__cause__):
        if isinstance(candidate, exc.UserDisabled):
            return EndedSession.Reason.USER_DISABLED
        if isinstance(candidate, exc.UserNotFound):
            return EndedSession.Reason.USER_GONE
    return EndedSession.Reason.REFRESH_REFUSED


# --- key rotation ----------------------------------------------------------------------------------------------


@dataclass
class RotationResult:
    rotated: int = 0
    unreadable: list[str] = field(default_factory=list)


@sensitive_variables()
def rotate_keys(batch_size: int = 500) -> RotationResult:
    """Re-encrypt every row under the newest key (``MultiFernet.rotate``). Rows no key opens are left as they
    are and named (they already count as signed out)."""
    multi = fernet()
    result = RotationResult()
    last: Any = None
    while True:
        page = TokenSet.objects.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.only("pk", "ciphertext", "version")[:batch_size])
        if not rows:
            return result
        for row in rows:
            try:
                rotated = multi.rotate(row.ciphertext.encode()).decode()
            except InvalidToken:
                result.unreadable.append(str(row.pk))
                continue
            # Only if untouched since read: a refresh meanwhile already wrote under the newest key.
            result.rotated += TokenSet.objects.filter(pk=row.pk, version=row.version).update(ciphertext=rotated)
        last = rows[-1].pk
