"""Project-level tasks: the health ping and keeping the books (run by Celery beat, ``CELERY_BEAT_SCHEDULE``).

Each purge deletes only rows no valid token can depend on any more, in bounded chunks, and is idempotent: run
twice, or again after a worker was lost mid-way, it deletes what is left.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from celery import shared_task
from django.conf import settings

from cognito_backend import revocation
from cognito_backend.conf import cognito_settings

BOOKS = {"acks_late": True, "reject_on_worker_lost": True, "soft_time_limit": 300, "time_limit": 360}
CHUNK = 1000
# The longest an access or id token minted from a refresh token can outlive that refresh token (Cognito: 1 day).
MAX_TOKEN_LIFETIME = 24 * 3600


@shared_task(name="config.ping")
def ping() -> str:
    """Round trip through the broker and a worker; used by health checks and the Celery smoke test."""
    return "pong"


def _delete_in_chunks(queryset: object) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:CHUNK])  # type: ignore[attr-defined]
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]  # type: ignore[attr-defined]


@shared_task(name="config.purge_revocations", **BOOKS)
def purge_revocations() -> int:
    """Denylisted token families past their tokens' lifetime (``revocation.purge_expired``) and user
    revocations older than any token they could refuse (the refresh token lifetime plus a token's)."""
    from cognito_backend.models import UserRevocation

    cutoff = datetime.now(UTC) - timedelta(seconds=int(cognito_settings.REFRESH_TOKEN_LIFETIME) + MAX_TOKEN_LIFETIME)
    return revocation.purge_expired() + _delete_in_chunks(UserRevocation.objects.filter(not_valid_before__lt=cutoff))


@shared_task(name="config.purge_token_sets", **BOOKS)
def purge_token_sets() -> int:
    """Stored token sets whose refresh token has expired (signed in longer ago than its lifetime)."""
    from accounts.models import TokenSet

    cutoff = datetime.now(UTC) - timedelta(seconds=int(cognito_settings.REFRESH_TOKEN_LIFETIME))
    return _delete_in_chunks(TokenSet.objects.filter(created__lt=cutoff, expires_at__lt=datetime.now(UTC)))


@shared_task(name="config.purge_invocations", **BOOKS)
def purge_invocations() -> int:
    """Invocation audit rows older than ``INVOCATION_RETENTION_DAYS``."""
    from dashboard.models import Invocation

    cutoff = datetime.now(UTC) - timedelta(days=float(getattr(settings, "INVOCATION_RETENTION_DAYS", 90)))
    return _delete_in_chunks(Invocation.objects.filter(created_at__lt=cutoff))
