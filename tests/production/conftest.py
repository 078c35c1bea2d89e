"""Processes started the way production starts them: the Procfile's commands, ``config.settings`` read from a
production environment (``DJANGO_DEBUG=false``, JSON logs, HTTPS settings), static files collected first."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, wait_for_port

BIN = Path(sys.executable).parent
# A Fernet key and a secret key used only by these tests' processes.
TOKEN_KEY = "l6V7Kx1Qj4r8mYk7v2S0bq3yq8D1r2w5a9Z3c6Xx0YI="
SECRET_KEY = "production-test-secret-key-" + "s" * 40


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    entries: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            entries[name.strip()] = command.strip()
    return entries


def command(process_type: str, *extra: str) -> list[str]:
    """The Procfile's command for ``process_type`` as argv, its programs taken from this virtualenv."""
    argv = shlex.split(procfile()[process_type]) + list(extra)
    if argv[0] == "python":
        argv[0] = sys.executable
    elif (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    return argv


def production_env(**extra: str) -> dict[str, str]:
    """The environment of a production process: nothing of the developer's or the test run's settings leaks in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_READ_DOTENV": "false",
            "DJANGO_DEBUG": "false",
            "DJANGO_HTTPS": "true",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto=https",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TOKEN_ENCRYPTION_KEY": TOKEN_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "COGNITO_REGION": "us-east-1",
            "COGNITO_USER_POOL_ID": "us-east-1_Production",
            "COGNITO_APP_CLIENT_ID": "productionclient",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


@dataclass
class Site:
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    static_root: Path

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def wait_for_log(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> list[dict[str, Any]]:
        """The log's lines once one satisfies ``predicate`` (gunicorn writes the access line after the answer)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log_lines()
            if any(predicate(line) for line in lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)


def start_web(env: dict[str, str], log: Path, port: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(command("web"), cwd=ROOT, env={**env, "PORT": str(port)}, stdout=out, stderr=out)
    try:
        wait_for_port(port, timeout=60)
    except RuntimeError:
        stop(process)
        raise RuntimeError(f"gunicorn did not start: {log.read_text()[-3000:]}") from None
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Quick shutdown (gunicorn: SIGINT; Celery: its warm shutdown): nothing is in flight when a test ends."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """``stop`` for many at once: every one is told first, then each is waited for."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        stop(process)


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """gunicorn as the Procfile starts it (2 workers), on a migrated SQLite file, with static files
    collected; Cognito points at a closed port (every failure path logs), the broker is in memory."""
    workdir = tmp_path_factory.mktemp("production-site")
    closed = f"http://127.0.0.1:{free_port()}"
    env = production_env(
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        DJANGO_STATIC_ROOT=str(workdir / "static"),
        DJANGO_LOG_LEVEL="DEBUG",
        AWS_ENDPOINT_URL=closed,
        AWS_MAX_ATTEMPTS="1",
        AWS_CONNECT_TIMEOUT="0.5",
        COGNITO_JWKS_URL=f"{closed}/jwks.json",
        CELERY_BROKER_URL="memory://",  # no worker: /healthz answers 503 at once
        HEALTHZ_WORKER_TIMEOUT="0.1",
        WEB_CONCURRENCY="2",
    )
    subprocess.run(command("release"), cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = workdir / "gunicorn.log"
    process = start_web(env, log, port)
    try:
        yield Site(url=f"http://127.0.0.1:{port}", log=log, process=process, static_root=workdir / "static")
    finally:
        stop(process)


def https(**headers: str) -> dict[str, str]:
    """Headers of a request the TLS-ending proxy forwarded (DJANGO_SECURE_PROXY_SSL_HEADER)."""
    return {"X-Forwarded-Proto": "https", **headers}
