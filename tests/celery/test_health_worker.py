"""``/healthz`` asks a worker to answer ``config.ping`` when the broker is not the filesystem one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tests.conftest import CeleryWorker, UserPool

pytestmark = [pytest.mark.celery, pytest.mark.django_db]


@pytest.fixture
def fresh_pool() -> Iterator[None]:
    """Celery's connection pool follows the broker URL of the moment (the tests change it)."""
    from config.celery import app

    app._pool = None
    app.amqp._producer_pool = None  # bound to the pool of its time
    yield
    app._pool = None
    app.amqp._producer_pool = None  # bound to the pool of its time
    app._local.__dict__.pop("backend", None)


def test_healthz_reports_the_worker_that_answered_config_ping(
    client: Client, user_pool: UserPool, celery_worker: CeleryWorker, fresh_pool: None
) -> None:
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["worker"]["status"] == "ok"
    assert "config.ping answered" in body["checks"]["worker"]["detail"]


def test_healthz_is_503_naming_the_worker_when_none_answers(
    client: Client,
    user_pool: UserPool,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    fresh_pool: None,
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", redis_url.rsplit("/", 1)[0] + "/7")  # a broker no worker reads
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "")
    settings.HEALTHZ_WORKER_TIMEOUT = 0.5
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["checks"]["worker"] == {
        "status": "failing",
        "reason": "RuntimeError: no worker answered within 0.5 s",
        "duration_ms": body["checks"]["worker"]["duration_ms"],
    }
