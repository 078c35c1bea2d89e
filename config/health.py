"""``GET /healthz``: database, cache, broker and Cognito (JWKS reachable), each ok or failing with a reason."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from cognito_backend.conf import cognito_settings

CHECK_TIMEOUT = 2.0


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("unexpected answer to SELECT 1")


def check_cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    value = cache.get(key)
    cache.delete(key)
    if value != "1":
        raise RuntimeError("value written was not read back")


def check_broker() -> None:
    from config.celery import app

    with app.connection_for_write(app.conf.broker_url) as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)


def check_worker() -> str:
    """A worker answers ``config.ping`` (through the result backend, else Celery's control ping) in time."""
    from config.celery import app
    from config.tasks import ping

    deadline = float(getattr(settings, "HEALTHZ_WORKER_TIMEOUT", 2.0))
    if app.conf.result_backend:
        started = time.perf_counter()
        result = ping.apply_async(expires=deadline * 5)
        try:
            if result.get(timeout=deadline) != "pong":
                raise RuntimeError("config.ping answered something else")
        except CeleryTimeout as exc:
            raise RuntimeError(f"no worker answered config.ping within {deadline:g} s") from exc
        finally:
            result.forget()
        return f"config.ping answered in {(time.perf_counter() - started) * 1000:.0f} ms"
    replies = app.control.ping(timeout=deadline)
    if not replies:
        raise RuntimeError(f"no worker answered within {deadline:g} s")
    return f"{len(replies)} worker(s) answered: " + ", ".join(sorted(name for reply in replies for name in reply))


def _uses_worker_check() -> bool:
    from config.celery import app

    return not str(app.conf.broker_url or "").startswith("filesystem://")


def check_cognito() -> None:
    url = cognito_settings.jwks_url
    if not cognito_settings.USER_POOL_ID:
        raise RuntimeError("COGNITO_USER_POOL_ID is not set")
    response = requests.get(url, timeout=CHECK_TIMEOUT)
    if response.status_code != 200:
        raise RuntimeError(f"JWKS answered HTTP {response.status_code}")
    try:
        keys = response.json().get("keys")
    except (ValueError, AttributeError) as exc:
        raise RuntimeError("JWKS is not a JSON object") from exc
    if not isinstance(keys, list) or not keys:
        raise RuntimeError("JWKS holds no keys")


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "cognito": check_cognito,
    # Only with a broker other than the filesystem one (run_checks): a worker answers within the deadline.
    "worker": check_worker,
}


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.RequestException):
        return f"unreachable ({type(exc).__name__})"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def run_checks() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, check in CHECKS.items():
        if name == "worker" and not _uses_worker_check():
            continue
        started = time.perf_counter()
        try:
            detail = check()
        except Exception as exc:  # noqa: BLE001 - a health check reports every failure, whatever it is
            results[name] = {"status": "failing", "reason": _reason(exc)}
        else:
            results[name] = {"status": "ok", **({"detail": detail} if detail else {})}
        results[name]["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    healthy = all(item["status"] == "ok" for item in results.values())
    body = {"status": "ok" if healthy else "failing", "checks": results}
    response = JsonResponse(body, status=200 if healthy else 503, json_dumps_params={"indent": 2})
    response["Cache-Control"] = "no-store"
    return response
