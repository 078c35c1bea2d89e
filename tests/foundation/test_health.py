"""``GET /healthz`` reports each dependency with a reason, 200 when all are ok and 503 otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import UserPool, free_port

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_when_database_cache_broker_and_jwks_answer(client: Client, user_pool: UserPool) -> None:
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    # "worker" is checked too once a broker other than the filesystem one is configured (tests/celery).
    assert {name: check["status"] for name, check in body["checks"].items() if name != "worker"} == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "cognito": "ok",
    }
    assert body["checks"].get("worker", {"status": "ok"})["status"] == "ok"


def test_healthz_is_503_naming_cognito_when_jwks_is_unreachable(
    client: Client, user_pool: UserPool, settings: Any
) -> None:
    settings.COGNITO = {**user_pool.settings(), "JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json"}
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["cognito"]["status"] == "failing"
    assert "unreachable" in body["checks"]["cognito"]["reason"]
    assert body["checks"]["database"]["status"] == "ok"


def test_healthz_is_503_when_the_pool_has_no_keys_endpoint(client: Client, user_pool: UserPool, settings: Any) -> None:
    settings.COGNITO = {**user_pool.settings(), "JWKS_URL": f"{user_pool.endpoint}/us-east-1_nope/.well-known/x"}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cognito"]["status"] == "failing"


def test_healthz_is_503_naming_the_broker_when_redis_is_down(
    client: Client, user_pool: UserPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.celery import app

    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    app._pool = None
    app.amqp._producer_pool = None  # bound to the pool of its time
    try:
        response = client.get("/healthz")
    finally:
        app._pool = None  # its connections point at the closed port: later tests get a pool of their own
        app.amqp._producer_pool = None  # bound to the pool of its time
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "failing"
