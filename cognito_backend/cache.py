"""The in-process memo of revocation answers and the invalidation bus that keeps it honest across processes.

Reading revocation state from the shared cache or the database on every request costs a round trip, which is
most of what authentication would cost. So each process remembers answers in memory, each for at most
``REVOCATION_MEMO_SECONDS``: whatever happens to the bus, a revocation made by another process is seen within
that time, because the next read after expiry goes to the shared cache or the database.

With Redis (the cache's own server, or ``COGNITO["INVALIDATION_REDIS_URL"]``) each process also subscribes to one
pub/sub channel in a daemon thread, and revocations and user changes publish a message there; subscribers drop
the matching answers within milliseconds. The subscription must prove it is alive: it pings Redis every third
of ``INVALIDATION_LIVENESS_SECONDS`` and awaits the answer. While it is not confirmed (starting, Redis down or
silent, reconnecting) nothing is answered from memory and callers read the shared cache. Publishes leave the
request at once and are retried by a background thread until they succeed or the memo TTL has passed (by then
every answer they were meant to drop has expired anyway). Without Redis there is no bus: answers live for their
TTL only. A generation counter, moved by every message and every reconnect, keeps a reader that raced a message
from storing an answer from before it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from django.conf import settings

from .conf import cognito_settings

logger = logging.getLogger(__name__)

CHANNEL = "cognito_backend:invalidate"
MEMO_LIMIT = 50_000
RETRY_LIMIT = 10_000


def invalidation_url() -> str:
    """The Redis URL of the bus: the setting, else the default cache's Redis server, else "" (no bus)."""
    configured = cognito_settings.INVALIDATION_REDIS_URL
    if configured is not None:
        return str(configured)
    default = (getattr(settings, "CACHES", {}) or {}).get("default", {})
    backend = str(default.get("BACKEND", ""))
    location = default.get("LOCATION", "")
    if "redis" in backend.lower():
        if isinstance(location, (list, tuple)):
            location = location[0] if location else ""
        return str(location or "")
    return ""


def memo_seconds() -> float:
    return max(0.0, float(cognito_settings.REVOCATION_MEMO_SECONDS))


def liveness_seconds() -> float:
    return max(0.1, float(cognito_settings.INVALIDATION_LIVENESS_SECONDS))


def _no_retry(timeout: float) -> dict[str, Any]:
    """Connection options that bound every call by ``timeout``: redis-py's default retries back off for seconds."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry": Retry(NoBackoff(), 0)}


class Retrier:
    """One daemon thread per process that runs jobs until they succeed or their deadline passes.

    A job is a callable returning nothing and raising on failure. The first attempt runs at once (in the thread),
    later ones back off from 0.1 s to 2 s. Jobs past their deadline are dropped with a warning.
    """

    def __init__(self) -> None:
        self._jobs: deque[tuple[str, Callable[[], None], float]] = deque()
        self._wake = threading.Condition()
        self._pid = 0

    def submit(self, name: str, job: Callable[[], None], deadline: float) -> None:
        with self._wake:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._jobs.clear()
                thread = threading.Thread(target=self._run, name="cognito-retrier", daemon=True)
                thread.start()
            if len(self._jobs) >= RETRY_LIMIT:
                dropped = self._jobs.popleft()
                logger.warning("retrier: too many pending jobs; dropped %s", dropped[0])
            self._jobs.append((name, job, deadline))
            self._wake.notify()

    def pending(self) -> int:
        return len(self._jobs)

    def _run(self) -> None:
        delay = 0.1
        while True:
            with self._wake:
                while not self._jobs:
                    delay = 0.1
                    self._wake.wait()
                jobs = list(self._jobs)
                self._jobs.clear()
            failed: list[tuple[str, Callable[[], None], float]] = []
            for name, job, deadline in jobs:
                try:
                    job()
                except Exception as exc:  # noqa: BLE001 - retried below, whatever failed
                    if time.monotonic() < deadline:
                        failed.append((name, job, deadline))
                    else:
                        logger.warning("retrier: gave up on %s (%s)", name, type(exc).__name__)
            if not failed:
                delay = 0.1
                continue
            with self._wake:
                self._jobs.extendleft(reversed(failed))
            time.sleep(delay)
            delay = min(2.0, delay * 2)


retrier = Retrier()


class InvalidationBus:
    """One per process: the TTL-bounded memo, a subscriber thread that keeps it honest, and the publisher."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (monotonic expiry, value)
        self._memo: dict[Any, tuple[float, Any]] = {}
        self._generation = 0
        self._last_heard = 0.0  # monotonic time Redis last answered the subscriber; 0: not subscribed
        self._pid = 0
        self._url = ""
        self._stop = threading.Event()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._publisher: Any = None
        self._origin = ""

    # --- memo ----------------------------------------------------------------------------------------------

    def generation(self) -> int:
        return self._generation

    def get(self, key: Any) -> Any:
        """A remembered answer younger than the memo TTL, while memo answers may be used; None otherwise."""
        if self._pid != os.getpid():
            self._start()
        entry = self._memo.get(key)
        if entry is None or entry[0] <= time.monotonic() or not self._active_now():
            return None
        return entry[1]

    def put(self, key: Any, value: Any, generation: int) -> None:
        """Remember ``value`` for the memo TTL unless a message (or reconnect) arrived since ``generation``."""
        ttl = memo_seconds()
        if ttl <= 0:
            return
        with self._lock:
            if generation != self._generation or self._pid != os.getpid() or not self._active_now():
                return
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = (time.monotonic() + ttl, value)

    def on_message(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener(message)`` for every message (after the memo is cleared of it)."""
        self._listeners.append(listener)

    def invalidate_local(self, message: dict[str, Any]) -> None:
        """Drop this process's answers about ``message["sub"]`` / ``message["origin_jti"]``."""
        sub = message.get("sub") or ""
        family = message.get("origin_jti") or ""
        with self._lock:
            self._generation += 1
            if sub:
                self._memo.pop(("sub", sub), None)
            if family:
                self._memo.pop(("family", family), None)
        for listener in self._listeners:
            listener(message)

    def _reset(self, *, heard: float) -> None:
        with self._lock:
            self._generation += 1
            self._memo.clear()
            self._last_heard = heard

    def _heard(self, when: float) -> None:
        self._last_heard = when

    # --- subscription --------------------------------------------------------------------------------------

    def active(self) -> bool:
        """Whether memo answers may be used; starts the subscriber in this process on first use.

        Without a bus: always (answers live for their TTL). With one: only while Redis answered the subscriber
        within the liveness deadline, so a silent partition stops the memo within that time.
        """
        if self._pid != os.getpid():
            self._start()
        return self._active_now()

    def _active_now(self) -> bool:
        if not self._url:
            return True
        heard = self._last_heard
        return heard > 0 and time.monotonic() - heard <= liveness_seconds()

    def bus_live(self) -> bool:
        """Whether a bus is configured and its subscription confirmed and alive."""
        active = self.active()  # first: after stop() or a fork it starts afresh and reads the URL again
        return bool(self._url) and active

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # After a fork (gunicorn) the parent's thread does not exist here: start afresh.
            self._pid = os.getpid()
            self._origin = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex}"
            self._last_heard = 0.0
            self._generation += 1
            self._memo.clear()
            self._publisher = None
            self._url = invalidation_url()
            if not self._url:
                return
            self._stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(self._url, self._stop), daemon=True)
            thread.name = "cognito-invalidation"
            thread.start()

    def _run(self, url: str, stop: threading.Event) -> None:
        import redis

        while not stop.is_set():
            liveness = liveness_seconds()
            pubsub: Any = None
            try:
                client: Any = redis.Redis.from_url(url, **_no_retry(liveness))
                pubsub = client.pubsub(ignore_subscribe_messages=False)
                pubsub.subscribe(CHANNEL)
                heard = time.monotonic()
                next_ping = heard + liveness / 3
                while not stop.is_set():
                    message = pubsub.get_message(timeout=min(0.25, liveness / 3))
                    now = time.monotonic()
                    if stop.is_set():
                        break
                    if message is not None:
                        heard = now
                        kind = message.get("type")
                        if kind == "subscribe":
                            self._reset(heard=now)  # answers from before may have missed messages
                        else:
                            self._heard(now)
                        if kind == "message":
                            self._deliver(message.get("data"))
                    if now - heard > liveness:
                        raise TimeoutError(f"Redis has not answered for {liveness:.1f}s")
                    if now >= next_ping:
                        pubsub.ping()  # the answer arrives as a "pong" message above
                        next_ping = now + liveness / 3
            except Exception as exc:  # noqa: BLE001 - any failure: stop trusting the memo, reconnect shortly
                if self._last_heard and not stop.is_set():
                    logger.warning(
                        "invalidation bus: subscription lost (%s); answering from the shared cache", type(exc).__name__
                    )
                if not stop.is_set():
                    self._reset(heard=0.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001, S110 - closing a broken connection
                        pass
            stop.wait(0.5)

    def _deliver(self, raw: Any) -> None:
        try:
            data = json.loads(raw)
        except (ValueError, TypeError):
            return
        if isinstance(data, dict) and data.get("origin") != self._origin:
            self.invalidate_local(data)  # our own messages were applied when published

    def publish(self, **message: str) -> None:
        """Tell every process (this one at once) to drop what it remembers about ``sub``/``origin_jti``.

        The message leaves from a background thread, retried until it is delivered to Redis or the memo TTL has
        passed: after that every answer it was meant to drop has expired in every process.
        """
        self.invalidate_local(message)
        own = self._pid == os.getpid()
        message["origin"] = self._origin if own else ""  # only this process's subscriber may skip it
        url = self._url if own else invalidation_url()
        if not url:
            return
        body = json.dumps(message)
        failures = [0]
        import redis

        def send() -> None:
            try:
                if self._publisher is None:
                    self._publisher = redis.Redis.from_url(url, **_no_retry(liveness_seconds()))
                self._publisher.publish(CHANNEL, body)
            except Exception as exc:
                if not failures[0]:
                    logger.warning(
                        "invalidation bus: publish failed (%s); retrying until the memo TTL has passed",
                        type(exc).__name__,
                    )
                failures[0] += 1
                self._publisher = None
                raise

        retrier.submit("invalidation publish", send, time.monotonic() + memo_seconds())

    def stop(self) -> None:
        """Stop this process's subscriber (tests, settings changes); the next use starts a new one."""
        with self._lock:
            self._stop.set()
            self._pid = 0
            self._last_heard = 0.0
            self._memo.clear()
            self._generation += 1

    def wait_until_active(self, timeout: float = 5.0) -> bool:
        """For tests and benchmarks: start the subscriber and wait until it is confirmed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.active():
                return True
            time.sleep(0.01)
        return False


bus = InvalidationBus()
