"""Client-side pacing of Cognito calls: a token bucket per quota category and backoff with jitter on throttling.

Cognito's quotas are per account and per category (user creation 50/s shared with sign-up); the bucket keeps the
run under a configured rate and, when Cognito throttles anyway (another process shares the quota), halves its
rate for a while and every caller backs off exponentially with jitter, retrying until the call goes through:
a run never fails because of throttling.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from cognito_backend import exceptions as exc

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TokenBucket:
    """Thread-safe token bucket: ``acquire()`` blocks until a call may go out at ``rate`` per second.

    The burst is one second's worth at most, so the average over any window stays at or under ``rate``.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.configured_rate = float(rate)
        self.rate = float(rate)
        self.capacity = max(1.0, float(burst if burst is not None else min(rate, 5.0)))
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0
        self._last = clock()
        self._lock = threading.Lock()
        self._recover_at = 0.0

    def _refill(self, now: float) -> None:
        if self.rate < self.configured_rate and now >= self._recover_at:
            # Additive recovery after a throttle: a tenth of the configured rate per second of calm.
            self.rate = min(self.configured_rate, self.rate + self.configured_rate * 0.1 * (now - self._last))
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._tokens >= 1.0 - 1e-9:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)

    def throttled(self, pause: float = 1.0) -> None:
        """Cognito said slow down: halve the rate and drain the bucket so every worker waits."""
        with self._lock:
            self.rate = max(self.configured_rate / 16, self.rate / 2)
            self._tokens = min(self._tokens, 0.0)
            self._recover_at = self._clock() + pause


class Backoff:
    """Exponential backoff with 'equal jitter': half the delay fixed, half random, capped."""

    def __init__(self, base: float = 0.2, cap: float = 20.0, *, sleep: Callable[[float], None] = time.sleep):
        self.base = base
        self.cap = cap
        self.sleep = sleep

    def delay(self, attempt: int) -> float:
        ceiling = float(min(self.cap, self.base * (2**attempt)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


# Transient failures other than throttling are retried a few times, then reported (and retried on the next run).
TRANSIENT_ATTEMPTS = 5


def paced(
    bucket: TokenBucket,
    operation: Callable[[], T],
    *,
    backoff: Backoff | None = None,
    on_throttle: Callable[[], None] | None = None,
) -> T:
    """Run ``operation`` under ``bucket``; retry throttling for ever and outages a few times, with backoff."""
    backoff = backoff or Backoff()
    throttles = 0
    outages = 0
    while True:
        bucket.acquire()
        try:
            return operation()
        except exc.Throttled as error:
            throttles += 1
            bucket.throttled(pause=float(error.retry_after))
            if on_throttle is not None:
                on_throttle()
            delay = max(backoff.delay(min(throttles, 16)), 0.0)
            logger.info("throttled by Cognito; retry %d in %.2fs", throttles, delay)
            backoff.sleep(delay)
        except exc.ServiceUnavailable:
            outages += 1
            if outages >= TRANSIENT_ATTEMPTS:
                raise
            backoff.sleep(backoff.delay(outages))
