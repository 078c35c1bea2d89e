"""The token bucket, the backoff and the progress display, on a simulated clock (no real waiting)."""

from __future__ import annotations

import io

import pytest

from cognito_backend import exceptions as exc
from migrations_tools.ratelimit import TRANSIENT_ATTEMPTS, Backoff, TokenBucket, paced
from migrations_tools.reporting import Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_bucket_lets_calls_out_at_the_configured_rate_at_most() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)

    for _ in range(101):
        bucket.acquire()

    assert clock.now == pytest.approx(10.0, abs=0.2)


def test_throttling_halves_the_rate_and_it_recovers_gradually() -> None:
    clock = FakeClock()
    bucket = TokenBucket(40, clock=clock, sleep=clock.sleep)

    bucket.throttled(pause=1.0)

    assert bucket.rate == 20
    for _ in range(400):
        bucket.acquire()
    assert bucket.rate == 40


def test_throttled_calls_are_retried_until_they_go_through_with_growing_jittered_delays() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1000, clock=clock, sleep=clock.sleep)
    backoff = Backoff(base=0.1, cap=5.0, sleep=clock.sleep)
    answers = [exc.Throttled() for _ in range(30)]

    def operation() -> str:
        if answers:
            raise answers.pop()
        return "done"

    assert paced(bucket, operation, backoff=backoff) == "done"
    delays = [d for d in clock.sleeps if d >= 0.05]
    assert len(delays) == 30
    assert delays[0] < 0.2
    assert all(2.5 <= d <= 5.0 for d in delays[10:])  # capped, and never less than half the cap
    assert len(set(delays)) == len(delays)  # jittered


def test_outages_are_retried_a_few_times_then_reported() -> None:
    clock = FakeClock()
    calls = []

    def operation() -> None:
        calls.append(1)
        raise exc.ServiceUnavailable()

    with pytest.raises(exc.ServiceUnavailable):
        paced(TokenBucket(100, clock=clock, sleep=clock.sleep), operation, backoff=Backoff(sleep=clock.sleep))
    assert len(calls) == TRANSIENT_ATTEMPTS


def test_progress_is_a_bar_with_rate_and_eta_on_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(4, out, tty=True)

    for _ in range(2):
        progress.update({"created": 1})
    progress.close()

    assert "2/4" in out.getvalue()
    assert "user/s" in out.getvalue() or "s/user" in out.getvalue()
    assert "\r" in out.getvalue()


def test_progress_is_plain_periodic_lines_otherwise() -> None:
    clock = FakeClock()
    out = io.StringIO()
    progress = Progress(100, out, interval=10, tty=False, clock=clock)

    for _ in range(50):
        clock.now += 1
        progress.update({"created": 1})

    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[-1].startswith("progress: 50/100 users | 1.0/s | ETA 0m50s")
