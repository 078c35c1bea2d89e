"""Log lines in production: JSON, each with the id of its request, and never a password or a token."""

from __future__ import annotations

import json
import logging
import sys
import uuid

import pytest
import requests

from config.logging import JsonFormatter, RequestIdFilter, current_request_id

from .conftest import Site, https

PASSWORD = "Pa55-word-never-logged-7Q"
# Shaped like a Cognito token (header.payload.signature) so every redaction rule gets its chance.
TOKEN = "eyJraWQiOiJwcm9iZSJ9.eyJzdWIiOiJuZXZlci1sb2dnZWQifQ.c2lnbmF0dXJlLW5ldmVyLWxvZ2dlZA"
REFRESH = "refresh-token-never-logged-4Xq"
CODE = "oauth-code-never-logged-9Zk"

pytestmark = pytest.mark.production  # once per suite: its processes use databases of their own


def test_every_line_is_json_and_a_requests_lines_carry_its_id(site: Site) -> None:
    request_id = f"probe-{uuid.uuid4().hex}"
    answer = requests.get(
        f"{site.url}/api/auth/me/",
        headers=https(**{"X-Request-ID": request_id, "Authorization": "Bearer x"}),
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.headers["X-Request-ID"] == request_id
    lines = site.wait_for_log(lambda line: line["logger"] == "gunicorn.access" and line["request_id"] == request_id)
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    mine = {line["logger"] for line in lines if line["request_id"] == request_id}
    # Django's own line about the 401 (written after the middleware returned) and gunicorn's access line.
    assert {"django.request", "gunicorn.access"} <= mine


def test_a_request_without_an_id_gets_one_and_a_forged_one_is_replaced(site: Site) -> None:
    forged = 'x" "level": "CRITICAL'  # would break out of the JSON string were it copied raw
    answer = requests.get(f"{site.url}/api/auth/me/", headers=https(**{"X-Request-ID": forged}), timeout=30)
    given = answer.headers["X-Request-ID"]
    assert given != forged
    assert len(given) == 32
    lines = site.wait_for_log(lambda line: line["logger"] == "gunicorn.access" and line["request_id"] == given)
    assert any(line["logger"] == "django.request" and line["request_id"] == given for line in lines)


def test_passwords_and_tokens_in_requests_never_reach_the_log(site: Site) -> None:
    """Every way a secret arrives: a JSON body, a form, a bearer header, query strings, an OAuth callback; at DEBUG,
    with Cognito unreachable (every failure path logs)."""
    request_id = f"secrets-{uuid.uuid4().hex}"
    headers = https(**{"X-Request-ID": request_id})
    requests.post(
        f"{site.url}/api/auth/sign-in/?access_token={TOKEN}",
        json={"username": "eve", "password": PASSWORD},
        headers=headers,
        timeout=30,
    )
    requests.post(f"{site.url}/api/auth/token/refresh/", json={"refresh_token": REFRESH}, headers=headers, timeout=30)
    requests.get(f"{site.url}/api/auth/me/", headers={**headers, "Authorization": f"Bearer {TOKEN}"}, timeout=30)
    requests.post(
        f"{site.url}/accounts/sign-in/", data={"username": "eve", "password": PASSWORD}, headers=headers, timeout=30
    )
    requests.get(f"{site.url}/accounts/callback/?code={CODE}&state={CODE}", headers=headers, timeout=30)
    lines = site.wait_for_log(
        lambda line: line["logger"] == "gunicorn.access" and "/accounts/callback/" in line["message"]
    )
    assert sum(line["request_id"] == request_id for line in lines) >= 5  # the requests were logged
    text = site.log.read_text()
    for secret in (PASSWORD, TOKEN, TOKEN.split(".")[1], REFRESH, CODE):
        assert secret not in text


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ('Making request with params: {\'body\': b\'{"AuthParameters": {"PASSWORD": "%s"}}\'}', PASSWORD),
        ("headers: {'Authorization': 'Bearer %s'}", TOKEN),
        ("GET /accounts/callback/?state=1&code=%s HTTP/1.1", CODE),
        ("refresh failed: refresh_token=%s", REFRESH),
        ("claims of %s", TOKEN),
        ("form: {'password': ['%s'], 'username': ['eve']}", PASSWORD),
        ("SECRET_HASH=%s", "c2VjcmV0LWhhc2gtbmV2ZXItbG9nZ2Vk"),
    ],
)
def test_the_json_formatter_blanks_secrets_a_caller_let_slip(message: str, secret: str) -> None:
    record = logging.LogRecord("probe", logging.WARNING, __file__, 1, message, (secret,), None)
    assert secret not in JsonFormatter().format(record)


def test_a_secret_in_an_exceptions_message_is_blanked_in_the_traceback() -> None:
    try:
        raise ValueError(f"token rejected: {TOKEN}")
    except ValueError:
        record = logging.LogRecord("probe", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError" in line["exception"]
    assert TOKEN not in line["exception"]


def test_lines_outside_a_request_have_a_null_request_id_and_inside_one_its_id() -> None:
    record = logging.LogRecord("probe", logging.INFO, __file__, 1, "hello", (), None)
    RequestIdFilter().filter(record)
    assert json.loads(JsonFormatter().format(record))["request_id"] is None
    token = current_request_id.set("abc123abc123")
    try:
        record = logging.LogRecord("probe", logging.INFO, __file__, 1, "hello", (), None)
        RequestIdFilter().filter(record)
        assert json.loads(JsonFormatter().format(record))["request_id"] == "abc123abc123"
    finally:
        current_request_id.reset(token)


def test_a_celery_tasks_lines_carry_its_task_id() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.send(sender=None, task_id="task-0123456789", task=None)
    try:
        assert current_request_id.get() == "task-0123456789"
    finally:
        task_postrun.send(sender=None, task_id="task-0123456789", task=None)
    assert current_request_id.get() is None
