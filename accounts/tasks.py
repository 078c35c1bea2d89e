"""Celery tasks of the site's accounts: proactive refresh of stored tokens and the Cognito part of sign-out.

Every task is idempotent and acknowledged late (``acks_late``, ``reject_on_worker_lost``): a worker killed
mid-task leaves the message on the broker and another worker runs it again; running it twice does no harm (a
refreshed token set is no longer due, a done sign-out is left alone).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Task, shared_task
from celery.exceptions import MaxRetriesExceededError
from django.conf import settings

from cognito_backend import exceptions as exc

from . import signout, token_store
from .models import EndedSession, TokenSet

logger = logging.getLogger(__name__)

RELIABLE: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}


def refresh_window() -> float:
    """Seconds before expiry at which beat refreshes a token set (``TOKEN_REFRESH_WINDOW``, default 300)."""
    return float(getattr(settings, "TOKEN_REFRESH_WINDOW", 300))


def refresh_batch_size() -> int:
    return max(1, int(getattr(settings, "TOKEN_REFRESH_BATCH_SIZE", 50)))


# --- sign out everywhere ---------------------------------------------------------------------------------------


@shared_task(bind=True, name="accounts.global_sign_out", max_retries=20, soft_time_limit=60, time_limit=90, **RELIABLE)
def global_sign_out(self: Task, job_id: int) -> str:
    """The Cognito part of one sign-out (AdminUserGlobalSignOut), retried with backoff and jitter while Cognito
    is unreachable or throttling; the job row says pending / done / failed with the reason."""
    try:
        return signout.cognito_sign_out(job_id)
    except signout.TRANSIENT as error:
        retry_after = float(getattr(error, "retry_after", 0) or 0)
        countdown = max(retry_after, signout.backoff(self.request.retries + 1))
        try:
            raise self.retry(countdown=countdown, exc=error)
        except MaxRetriesExceededError:
            signout.give_up(job_id, f"gave up after {self.request.retries + 1} attempts: {error.code}")
            return "failed"


@shared_task(name="accounts.resume_global_sign_outs", soft_time_limit=120, time_limit=180, **RELIABLE)
def resume_global_sign_outs() -> int:
    """Beat: queue again the sign-outs whose task was lost (the broker was down when they were asked for)."""
    return signout.resume_pending()


# --- proactive refresh -----------------------------------------------------------------------------------------


@shared_task(name="accounts.refresh_due_token_sets", soft_time_limit=60, time_limit=90, **RELIABLE)
def refresh_due_token_sets() -> int:
    """Beat: find the token sets expiring within the window and fan them out in batches; how many were queued."""
    limit = datetime.now(UTC) + timedelta(seconds=refresh_window())
    ids = [str(pk) for pk in TokenSet.objects.filter(expires_at__lte=limit).values_list("pk", flat=True)]
    size = refresh_batch_size()
    for start in range(0, len(ids), size):
        refresh_token_sets.delay(ids[start : start + size])
    return len(ids)


@shared_task(name="accounts.refresh_token_sets", soft_time_limit=120, time_limit=150, **RELIABLE)
def refresh_token_sets(ids: list[str]) -> dict[str, int]:
    """Refresh each token set of the batch if it is still due (each under its own lock, so a set is refreshed
    once however many workers or web requests race); a set Cognito refuses ends its session. Once Cognito could
    not renew one set even after the retries (throttling, an outage), the rest of the batch is left for the next
    round (counted failed) instead of each spending its own retries against it."""
    counts = {"refreshed": 0, "current": 0, "ended": 0, "failed": 0}
    window = refresh_window()
    unavailable = ""  # Cognito throttling or unreachable even after the retries: the rest waits for the next round
    for token_set in TokenSet.objects.filter(pk__in=ids):
        if not token_store.is_due(token_set, margin=window):
            counts["current"] += 1
            continue
        if unavailable:
            counts["failed"] += 1
            continue
        try:
            tokens = token_store.refresh_if_needed(token_set, margin=window)
        except (token_store.TokenSetEnded, token_store.TokenSetUnreadable) as error:
            counts["ended"] += 1
            end_sessions_of(token_set, error.reason)
            continue
        except exc.CognitoError as error:
            counts["failed"] += 1
            logger.warning("refresh of token set %s failed: %s", token_set.pk, error.code)
            if isinstance(error, token_store.TRANSIENT):
                unavailable = error.code
            continue
        moved = tokens.expires_at > token_set.expires_at.timestamp()  # renewed, by this task or meanwhile
        if not moved and tokens.expires_at <= time.time() + window:
            # Still due: Cognito could not renew them (the old tokens serve meanwhile); the next round tries again.
            counts["failed"] += 1
            unavailable = "unavailable"
            continue
        counts["refreshed" if moved else "current"] += 1
    return counts


def end_sessions_of(token_set: TokenSet, reason: str = "") -> None:
    """The Django session that held a token set Cognito refused (or no key opens) ends, and why is recorded
    (``reason`` empty: the row was already gone, whoever removed it accounted for it)."""
    if reason:
        token_store.record_ended(token_set, reason, source="worker")
    TokenSet.objects.filter(pk=token_set.pk).delete()
    try:
        signout.delete_sessions([token_set.user_id], token_set_id=str(token_set.pk))
    except Exception:
        logger.exception("the session of token set %s could not be deleted", token_set.pk)
    logger.info("token set %s of sub=%s ended: %s", token_set.pk, token_set.sub, reason or "already gone")


# --- the books -------------------------------------------------------------------------------------------------


def ended_session_retention() -> float:
    """Days an ``EndedSession`` record is kept (``ENDED_SESSION_RETENTION_DAYS``, default 90)."""
    return float(getattr(settings, "ENDED_SESSION_RETENTION_DAYS", 90))


@shared_task(name="accounts.purge_ended_sessions", soft_time_limit=300, time_limit=360, **RELIABLE)
def purge_ended_sessions() -> int:
    """Beat: records of ended sessions older than the retention, in chunks; how many went. Idempotent."""
    cutoff = datetime.now(UTC) - timedelta(days=ended_session_retention())
    deleted = 0
    while True:
        ids = list(EndedSession.objects.filter(ended__lt=cutoff).values_list("pk", flat=True)[:1000])
        if not ids:
            return deleted
        deleted += EndedSession.objects.filter(pk__in=ids).delete()[0]
