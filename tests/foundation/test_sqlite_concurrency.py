"""The default database (a SQLite file) under a real multi-process web server: concurrent first requests of a
new user all succeed, and a database that stays locked is a 503 with Retry-After, never a 500.

gunicorn runs the project's own settings (``config.settings``, not the test settings) with 2 workers x 4 threads
on a temporary SQLite file, against the moto stand-in. moto's tokens are real RS256 tokens of the pool the test
creates; nothing here depends on what moto does not check.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT, CognitoFactory, UserPool, free_port, wait_for_port

# once: SQLite under a web server, on a file of its own: the SQLite pass only.
pytestmark = [pytest.mark.django_db, pytest.mark.once]

CONCURRENT = 10


@dataclass
class Site:
    url: str
    database: Path


def _environment(pool: UserPool, database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "COGNITO_", "DATABASE_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_READ_DOTENV": "false",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "sqlite-concurrency-test-key-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{database}",
            "COGNITO_REGION": "us-east-1",
            "COGNITO_USER_POOL_ID": pool.pool_id,
            "COGNITO_APP_CLIENT_ID": pool.client_id,
            "COGNITO_JWKS_URL": pool.jwks_url,
            "AWS_ENDPOINT_URL": pool.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def site_factory(user_pool: UserPool) -> Iterator[Any]:
    """Start gunicorn (2 workers x 4 threads) on a fresh, migrated SQLite file; stopped after the test."""
    processes: list[subprocess.Popen[bytes]] = []
    workdir = Path(tempfile.mkdtemp(prefix="sqlite-site-"))

    def start(**extra: str) -> Site:
        database = workdir / f"db{len(processes)}.sqlite3"
        env = _environment(user_pool, database, **extra)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--skip-checks", "-v", "0"], env=env, cwd=ROOT, check=True
        )
        port = free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        processes.append(
            subprocess.Popen(
                [
                    gunicorn,
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                    "config.wsgi:application",
                ],
                env=env,
                cwd=ROOT,
            )
        )
        wait_for_port(port, timeout=60)
        return Site(f"http://127.0.0.1:{port}", database)

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for path in sorted(workdir.iterdir()):
        path.unlink()
    workdir.rmdir()


def _concurrently(url: str, token: str, count: int) -> list[requests.Response]:
    """``count`` GETs released at the same instant by a barrier, each on its own connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        except requests.RequestException as exc:
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_first_requests_of_new_users_all_succeed_on_the_default_sqlite_database(
    cognito: CognitoFactory, user_pool: UserPool, site_factory: Any
) -> None:
    site = site_factory()
    for name in ("ann", "ben", "cat"):  # each a new user: 10 first requests racing to create the local user
        user = cognito.create_user(user_pool, name)
        responses = _concurrently(f"{site.url}/api/auth/me/", user.tokens.access_token, CONCURRENT)
        statuses = [r.status_code if isinstance(r, requests.Response) else repr(r) for r in responses]
        assert statuses == [200] * CONCURRENT, statuses
        assert {r.json()["username"] for r in responses} == {name}
    with sqlite3.connect(site.database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM cognito_backend_cognitoidentity").fetchone()[0] == 3


def test_database_that_stays_locked_is_a_503_with_retry_after(
    cognito: CognitoFactory, user_pool: UserPool, site_factory: Any
) -> None:
    """Another process holds the write lock longer than the busy timeout (here 0.5 s): the first request of a
    new user cannot create the local user and is told to come back, with the API's error shape."""
    site = site_factory(DATABASE_SQLITE_TIMEOUT="0.5")
    user = cognito.create_user(user_pool, "dan")
    holder = sqlite3.connect(site.database, timeout=5, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        response = requests.get(
            f"{site.url}/api/auth/me/", headers={"Authorization": f"Bearer {user.tokens.access_token}"}, timeout=60
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "database_busy"
    assert int(response.headers["Retry-After"]) >= 1
    again = requests.get(
        f"{site.url}/api/auth/me/", headers={"Authorization": f"Bearer {user.tokens.access_token}"}, timeout=60
    )
    assert again.status_code == 200, again.content


def test_page_that_finds_the_database_locked_is_a_503_with_retry_after(
    cognito: CognitoFactory, user_pool: UserPool, site_factory: Any
) -> None:
    """The session sign-in page creates the local user in its view; with the write lock held elsewhere past the
    busy timeout it answers 503 with Retry-After (DatabaseBusyMiddleware), not the 500 page."""
    site = site_factory(DATABASE_SQLITE_TIMEOUT="0.5")
    user = cognito.create_user(user_pool, "eve", sign_in=False)
    browser = requests.Session()
    form = browser.get(f"{site.url}/accounts/sign-in/", timeout=60)
    assert form.status_code == 200
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf is not None
    holder = sqlite3.connect(site.database, timeout=5, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        response = browser.post(
            f"{site.url}/accounts/sign-in/",
            data={"username": user.username, "password": user.password, "csrfmiddlewaretoken": csrf.group(1)},
            headers={"Referer": f"{site.url}/accounts/sign-in/"},
            allow_redirects=False,
            timeout=60,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503, response.text[:500]
    assert int(response.headers["Retry-After"]) >= 1
    assert "try again" in response.text
