"""A large user admin action on a real Celery worker process: 200 users disabled by ``accounts.admin_bulk_action``
with a real Redis broker, one SQLite file shared by the processes, and the stand-in (moto) behind a small proxy
that refuses AdminDisableUser for a few users (the injected failures: moto refuses nobody)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import requests

from tests.celery.test_tasks_processes import process_env, template_db  # noqa: F401 - the fixture
from tests.conftest import ROOT, UserPool

# once: its processes use a SQLite file of their own: the PostgreSQL pass would run it again unchanged.
pytestmark = [pytest.mark.celery, pytest.mark.once]

REFUSED = {"u007", "u100", "u199"}


class RefusingProxy:
    """Forwards to moto; answers AdminDisableUser for the users in ``REFUSED`` with NotAuthorizedException."""

    def __init__(self, target: str) -> None:
        proxy = self
        self.target = target
        self.refused = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
                if action == "AdminDisableUser" and json.loads(body).get("Username") in REFUSED:
                    proxy.refused += 1
                    self.answer(400, b'{"__type": "NotAuthorizedException", "message": "refused (injected)"}')
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
                upstream = requests.post(proxy.target + self.path, data=body, headers=headers, timeout=30)
                self.answer(upstream.status_code, upstream.content)

            def answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


SEED = dedent(
    """
    from django.contrib.auth import get_user_model
    from accounts.admin_models import AdminActionRun
    from accounts.admin_tasks import admin_bulk_action
    from cognito_backend.models import CognitoIdentity

    User = get_user_model()
    root = User.objects.create_superuser("root", "root@example.com", "x")
    User.objects.bulk_create([User(username=f"u{{i:03d}}") for i in range(200)])
    users = list(User.objects.filter(username__startswith="u").order_by("pk"))
    CognitoIdentity.objects.bulk_create(
        CognitoIdentity(user=u, sub=f"sub-{{u.username}}", pool_id={pool!r}, username=u.username, issuer={issuer!r})
        for u in users
    )
    run = AdminActionRun.objects.create(
        action="cognito_disable", user_ids=[u.pk for u in users], total=len(users), actor=root
    )
    admin_bulk_action.delay(str(run.pk))
    print(run.pk)
    """
)


@pytest.fixture
def site_env(
    redis_url: str,
    template_db: Path,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    moto_server: str,
    user_pool: UserPool,
) -> Iterator[tuple[dict[str, str], Path]]:
    db = tmp_path / "site.sqlite3"
    shutil.copy(template_db, db)
    proxy = RefusingProxy(moto_server)
    env = process_env(redis_url, db, proxy.url, user_pool, broker=7, cache=8, COGNITO_ADMIN_RATE="500")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield env, log
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        proxy.server.shutdown()


def test_two_hundred_users_disabled_by_the_task_on_a_worker_with_per_user_results(
    site_env: tuple[dict[str, str], Path], user_pool: UserPool
) -> None:
    env, log = site_env
    from cognito_backend.clients import get_client

    idp = get_client("cognito-idp")
    for i in range(200):
        idp.admin_create_user(UserPoolId=user_pool.pool_id, Username=f"u{i:03d}", MessageAction="SUPPRESS")
    script = SEED.format(pool=user_pool.pool_id, issuer=user_pool.issuer)
    seeded = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    run_id = seeded.stdout.strip().splitlines()[-1].replace("-", "")
    path = env["DATABASE_URL"].removeprefix("sqlite:///")

    def status() -> str:
        with closing(sqlite3.connect(path, timeout=30)) as db:
            row = db.execute("SELECT status FROM accounts_adminactionrun WHERE id = ?", (run_id,)).fetchone()
        return str(row[0]) if row else ""

    deadline = time.monotonic() + 240  # generous: two cores shared with the rest of the suite
    while status() != "done":
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    with closing(sqlite3.connect(path, timeout=30)) as db:
        results = dict(
            db.execute("SELECT username, outcome FROM accounts_adminactionresult WHERE run_id = ?", (run_id,))
        )
        active = {name for (name,) in db.execute("SELECT username FROM auth_user WHERE is_active = 1")}
        logged = db.execute("SELECT COUNT(*) FROM django_admin_log").fetchone()[0]
    assert len(results) == 200
    assert {name for name, outcome in results.items() if outcome == "refused"} == REFUSED
    assert sum(outcome == "done" for outcome in results.values()) == 197
    assert active == {"root", *REFUSED}
    assert logged == 200
    enabled = {
        u["Username"]
        for page in idp.get_paginator("list_users").paginate(UserPoolId=user_pool.pool_id)
        for u in page["Users"]
        if u["Enabled"]
    }
    assert enabled == REFUSED
