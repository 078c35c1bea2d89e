"""The trigger endpoint served by two separate gunicorn processes sharing one database and nothing else.

Each process has its own default cache (``locmem``), as two workers of one server have: a nonce or a counter
kept there would be unknown to the other process. A signed request replayed to the other process must be
refused, and the per-client rate must count requests to both.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrations_tools.trigger.handler import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.conftest import ROOT, UserPool, free_port, wait_for_port
from tests.migrations_tools.conftest import run, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

SEED = """
import django
django.setup()
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(username="kim", email="kim@example.com", password="Old-passw0rd")
"""


@pytest.fixture
def two_servers(migration_pool: UserPool, separate_database: str, tmp_path: Path) -> Iterator[list[str]]:
    env = subprocess_env(migration_pool, separate_database)
    env["DJANGO_SETTINGS_MODULE"] = "tests.migrations_tools.process_settings"
    run(env, "manage.py", "migrate", "--no-input", "-v", "0")
    run(env, "-c", SEED)
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = (tmp_path / f"gunicorn-{name}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [
                        str(ROOT / ".venv" / "bin" / "gunicorn"),
                        "config.wsgi:application",
                        "-w",
                        "1",
                        "-b",
                        f"127.0.0.1:{port}",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            wait_for_port(port, timeout=60)
            urls.append(f"http://127.0.0.1:{port}/api/migration/trigger/")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def signed() -> tuple[bytes, dict[str, str]]:
    payload = {
        "triggerSource": "UserMigration_Authentication",
        "userName": "kim",
        "password": "Wrong-passw0rd",
        "nonce": uuid.uuid4().hex,
    }
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign("test-trigger-secret", stamp, body),
    }
    return body, headers


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_a_signed_request_replayed_to_another_process_is_refused(two_servers: list[str]) -> None:
    first, second = two_servers
    body, headers = signed()

    assert post(first, body, headers) == (403, {"code": "not_authorized"})

    assert post(second, body, headers) == (401, {"code": "bad_signature"})


def test_the_per_client_rate_counts_requests_to_every_process(two_servers: list[str]) -> None:
    first, second = two_servers
    if time.time() % 60 > 40:  # the rate counts per clock minute: start early in one
        time.sleep(61 - time.time() % 60)
    for url in (first, second, first):
        assert post(url, *signed())[0] == 403

    assert post(second, *signed()) == (429, {"code": "throttled"})
