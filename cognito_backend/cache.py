"""Cross-process invalidation: lets each process keep revocation answers in memory and still honour a revocation
made by another process at once.

A shared cache read on every request costs a network round trip, which is most of what authentication would
cost. Instead, with Redis (the cache's own server, or ``COGNITO["INVALIDATION_REDIS_URL"]``) each process
subscribes to one pub/sub channel in a daemon thread. Revocations and user changes publish a message there;
every subscriber drops the matching in-memory answers within milliseconds. While the subscription is not
confirmed (starting, Redis down, reconnecting) nothing is answered from memory: callers read the shared cache
or the database as before. A generation counter, moved by every message and every reconnect, keeps a reader
that raced a message from storing an answer from before it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings

from .conf import cognito_settings

logger = logging.getLogger(__name__)

CHANNEL = "cognito_backend:invalidate"
MEMO_LIMIT = 50_000


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


class InvalidationBus:
    """One per process: a subscriber thread and a bounded memo that it keeps honest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memo: dict[Any, Any] = {}
        # sub / origin_jti -> memo keys naming it, so a message drops its entries without a scan
        self._index: dict[str, set[Any]] = {}
        self._generation = 0
        self._healthy = False
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
        """A remembered answer, only while the subscription is live; None otherwise."""
        if not self.active():
            return None
        return self._memo.get(key)

    def put(self, key: Any, value: Any, generation: int) -> None:
        """Remember ``value`` unless a message (or reconnect) arrived since ``generation`` was read."""
        with self._lock:
            if not self._healthy or generation != self._generation:
                return
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
                self._index.clear()
            self._memo[key] = value
            for part in key if isinstance(key, tuple) else (key,):
                if part:
                    self._index.setdefault(part, set()).add(key)

    def on_message(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener(message)`` for every message (after the memo is cleared of it)."""
        self._listeners.append(listener)

    def _invalidate(self, message: dict[str, Any]) -> None:
        sub = message.get("sub") or ""
        family = message.get("origin_jti") or ""
        with self._lock:
            self._generation += 1
            for part in (sub, family):
                for key in self._index.pop(part, ()) if part else ():
                    self._memo.pop(key, None)
        for listener in self._listeners:
            listener(message)

    def _reset(self, healthy: bool) -> None:
        with self._lock:
            self._generation += 1
            self._memo.clear()
            self._index.clear()
            self._healthy = healthy

    # --- subscription --------------------------------------------------------------------------------------

    def active(self) -> bool:
        """Whether memo answers may be used; starts the subscriber in this process on first use."""
        if self._pid != os.getpid():
            self._start()
        return self._healthy

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # After a fork (gunicorn) the parent's thread does not exist here: start afresh.
            self._pid = os.getpid()
            self._origin = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex}"
            self._healthy = False
            self._memo.clear()
            self._index.clear()
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
            try:
                client: Any = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=10)
                pubsub = client.pubsub(ignore_subscribe_messages=False)
                pubsub.subscribe(CHANNEL)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "subscribe":
                        self._reset(healthy=True)
                        continue
                    if message.get("type") != "message":
                        continue
                    try:
                        data = json.loads(message["data"])
                    except (ValueError, TypeError):
                        continue
                    if isinstance(data, dict) and data.get("origin") != self._origin:
                        self._invalidate(data)  # our own messages were applied when published
            except Exception:  # noqa: BLE001 - any failure: stop trusting the memo, reconnect shortly
                if self._healthy:
                    logger.warning("invalidation bus: subscription lost; answering from the shared cache")
                self._reset(healthy=False)
                stop.wait(1.0)

    def publish(self, **message: str) -> None:
        """Tell every process (this one at once) to drop what it remembers about ``sub``/``origin_jti``."""
        self._invalidate(message)
        # Only a subscriber of this very process may skip the message (it was applied above).
        message["origin"] = self._origin if self._pid == os.getpid() else ""
        url = self._url if self._pid == os.getpid() else invalidation_url()
        if not url:
            return
        try:
            import redis

            if self._publisher is None:
                self._publisher = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            self._publisher.publish(CHANNEL, json.dumps(message))
        except Exception:  # noqa: BLE001 - the database and shared cache still hold the revocation
            logger.warning("invalidation bus: publish failed; other processes rely on the shared cache")
            self._publisher = None

    def stop(self) -> None:
        """Stop this process's subscriber (tests, settings changes); the next use starts a new one."""
        with self._lock:
            self._stop.set()
            self._pid = 0
            self._healthy = False
            self._memo.clear()
            self._index.clear()
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
