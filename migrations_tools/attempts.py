"""Attempt counters and single-use nonces shared by every process of the site, kept in the database.

The site's default cache (``locmem``) is private to each process: counters kept there multiply by the number of
workers, and a nonce remembered by one worker is unknown to the next. A unique constraint in the database is
what every web worker, every server and every setup has in common. Expired rows are deleted as new ones come.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from django.db import IntegrityError, models, transaction

from .models import AttemptCounter, TriggerNonce


def digest(value: str) -> str:
    """A fixed-length key part for a username or an address (neither is stored as typed)."""
    return hashlib.sha256(value.strip().casefold().encode()).hexdigest()[:40]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _window(window: int, now: float | None) -> tuple[int, datetime]:
    now = time.time() if now is None else now
    number = int(now // window)
    return number, _at((number + 1) * window)


def count(key: str, *, window: int, now: float | None = None) -> int:
    """Attempts under ``key`` in the current fixed window of ``window`` seconds."""
    number, _ = _window(window, now)
    found = AttemptCounter.objects.filter(key=key, window=number).values_list("count", flat=True).first()
    return int(found or 0)


def add(key: str, *, window: int, now: float | None = None) -> int:
    """Count one attempt under ``key`` in the current window; returns the count including this one."""
    number, expires = _window(window, now)
    AttemptCounter.objects.filter(expires_at__lt=_at(time.time() if now is None else now)).delete()
    rows = AttemptCounter.objects.filter(key=key, window=number)
    if not rows.update(count=models.F("count") + 1):
        try:
            with transaction.atomic():
                AttemptCounter.objects.create(key=key, window=number, count=1, expires_at=expires)
            return 1
        except IntegrityError:  # another process created it first
            rows.update(count=models.F("count") + 1)
    return int(rows.values_list("count", flat=True).first() or 1)


def use_nonce(nonce: str, *, ttl: int, now: float | None = None) -> bool:
    """True the first time ``nonce`` is seen (by any process) within ``ttl`` seconds, False for a replay."""
    now = time.time() if now is None else now
    TriggerNonce.objects.filter(expires_at__lt=_at(now)).delete()
    try:
        with transaction.atomic():
            TriggerNonce.objects.create(nonce=nonce, expires_at=_at(now + ttl))
    except IntegrityError:
        return False
    return True
