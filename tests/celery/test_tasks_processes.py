"""Proactive refresh and sign-out with real processes: a real ``redis-server`` as broker and lock, real Celery
worker and beat processes, one SQLite file, and the stand-in (moto) behind a small counting proxy that counts
the refresh calls reaching it and can delay them or play an outage (moto cannot)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.celery.driver import fingerprint
from tests.conftest import ROOT, CognitoFactory, CognitoUser, UserPool

# once: its processes use a SQLite file of their own: the PostgreSQL pass would run it again unchanged.
pytestmark = [pytest.mark.celery, pytest.mark.once]

DRIVER = str(Path(__file__).with_name("driver.py"))
KEY = "tL0cQZbQm5N8yqC3bGzJxq2n6x0c7hW3lJ0nq3y8V2c="  # a test-only Fernet key


class CountingProxy:
    """Forwards to moto; counts InitiateAuth REFRESH_TOKEN_AUTH calls; ``delay`` slows them, ``down`` answers
    AdminUserGlobalSignOut with a 503 as an unreachable Cognito would."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.refreshes = 0
        self.get_users: list[str] = []  # fingerprints of the access tokens GetUser was called with
        self.sign_outs = 0
        self.delay = 0.0
        self.down = False
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
                if action == "AdminUserGlobalSignOut":
                    with proxy.lock:
                        proxy.sign_outs += 1
                    if proxy.down:
                        self.answer(503, b'{"__type": "InternalErrorException", "message": "down"}', {})
                        return
                if action == "GetUser":
                    with proxy.lock:
                        proxy.get_users.append(fingerprint(json.loads(body or b"{}").get("AccessToken", "")))
                if action == "InitiateAuth" and json.loads(body or b"{}").get("AuthFlow") == "REFRESH_TOKEN_AUTH":
                    with proxy.lock:
                        proxy.refreshes += 1
                    time.sleep(proxy.delay)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
                upstream = requests.post(proxy.target + self.path, data=body, headers=headers, timeout=30)
                self.answer(upstream.status_code, upstream.content, upstream.headers)

            def answer(self, status: int, content: bytes, headers: Any) -> None:
                self.send_response(status)
                for name, value in dict(headers).items():
                    if name.lower() in {"content-type", "x-amzn-requestid", "x-amzn-errortype"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("celery-db") / "template.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_READ_DOTENV": "false"}
    env.update(DATABASE_URL=f"sqlite:///{path}", TOKEN_ENCRYPTION_KEY=KEY, COGNITO_APP_CLIENT_ID="placeholder")
    env["COGNITO_USER_POOL_ID"] = "us-east-1_Placeholder"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return path


def process_env(
    redis_url: str, db: Path, aws_url: str, user_pool: UserPool, *, broker: int, cache: int, **extra: str
) -> dict[str, str]:
    """The environment of the site's processes (web, worker, beat, shell) of one test: the production settings on
    the SQLite file ``db``, Redis databases ``broker`` and ``cache`` of their own (emptied here), Cognito and
    Lambda at ``aws_url`` (the stand-in or a proxy in front of it), one attempt per call; ``extra`` on top."""
    import redis

    base = redis_url.rsplit("/", 1)[0]
    for number in (broker, cache):
        redis.Redis.from_url(f"{base}/{number}").flushdb()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_READ_DOTENV": "false",
        "DATABASE_URL": f"sqlite:///{db}",
        "CACHE_URL": f"{base}/{cache}",
        "CELERY_BROKER_URL": f"{base}/{broker}",
        "CELERY_RESULT_BACKEND": "",
        "TOKEN_ENCRYPTION_KEY": KEY,
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_MAX_ATTEMPTS": "1",
        "COGNITO_USER_POOL_ID": user_pool.pool_id,
        "COGNITO_APP_CLIENT_ID": user_pool.client_id,
        "COGNITO_JWKS_URL": user_pool.jwks_url,
        **extra,
    }


class Site:
    """The environment every process of one test shares, and the processes it started."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def driver(self, *args: str) -> Any:
        done = subprocess.run([sys.executable, DRIVER, *args], cwd=ROOT, env=self.env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        return json.loads(done.stdout.decode().strip().splitlines()[-1])

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel", "INFO"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        process = self.start(name, "worker", "--pool", "solo", "-n", f"{name}@%h")
        wait_for(lambda: "ready." in (self.logs / f"{name}.log").read_text(), f"worker {name} ready", self)
        return process

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.logs.glob("*.log")))


def wait_for(condition: Callable[[], bool], what: str, site: Site, deadline: float = 90.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {deadline} s\n{site.log_tail()}")


@pytest.fixture
def site(
    redis_url: str, template_db: Path, tmp_path: Path, moto_server: str, user_pool: UserPool
) -> Iterator[tuple[Site, CountingProxy]]:
    db = tmp_path / "site.sqlite3"
    shutil.copy(template_db, db)
    proxy = CountingProxy(moto_server)
    env = process_env(
        redis_url,
        db,
        proxy.url,
        user_pool,
        broker=5,
        cache=6,
        CELERY_VISIBILITY_TIMEOUT="3",
        TOKEN_REFRESH_INTERVAL="1",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Site(env, logs)
    yield running, proxy
    for process in running.processes:
        if process.poll() is None:
            process.terminate()
    for process in running.processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    proxy.server.shutdown()


def versions(site: Site) -> list[int]:
    """The token sets' versions, read from the shared SQLite file (no Django process to start for a poll)."""
    path = site.env["DATABASE_URL"].removeprefix("sqlite:///")
    with closing(sqlite3.connect(path, timeout=30)) as db:
        return [row[0] for row in db.execute("SELECT version FROM accounts_tokenset ORDER BY id")]


def test_beat_refreshes_tokens_near_expiry_once_each_and_the_page_keeps_working_with_the_new_ones(
    site: tuple[Site, CountingProxy], cognito_user: CognitoUser
) -> None:
    running, proxy = site
    # A session signed in through the page, its tokens made to expire in 120 s (inside beat's window: the worker
    # renews them before the page needs to), beside two more token sets due within a minute.
    session = running.driver("sign-in", cognito_user.username, cognito_user.password, "120")
    running.driver("seed", "2", cognito_user.username, cognito_user.password)
    running.worker("w1")
    running.start("beat", "beat", "--schedule", str(running.logs / "beat-schedule"))
    wait_for(lambda: versions(running) == [2, 2, 2], "the three token sets refreshed", running)
    time.sleep(3)  # beat keeps running: sets no longer due are left alone
    assert versions(running) == [2, 2, 2]
    assert proxy.refreshes == 3

    page = running.driver("page", session["cookie"], "/accounts/profile/")

    assert page["status"] == 200 and cognito_user.email in page["body"]
    assert page["fingerprint"] != session["fingerprint"]  # new tokens stored
    assert proxy.get_users[-1] == page["fingerprint"]  # and the page asked Cognito with the new access token
    assert proxy.refreshes == 3 and versions(running) == [2, 2, 2]  # the page did not need to renew them


def test_two_workers_racing_on_the_same_token_sets_refresh_each_once(
    site: tuple[Site, CountingProxy], cognito_user: CognitoUser
) -> None:
    running, proxy = site
    ids = running.driver("seed", "3", cognito_user.username, cognito_user.password)
    proxy.delay = 0.3
    running.worker("w1")
    running.worker("w2")
    running.driver("refresh", "4", *ids)  # both workers take a copy of the batch at the same moment
    wait_for(lambda: versions(running) == [2, 2, 2], "the three token sets refreshed", running)
    time.sleep(3)
    assert versions(running) == [2, 2, 2]
    assert proxy.refreshes == 3


def test_a_worker_killed_mid_batch_is_replaced_and_no_token_set_is_refreshed_twice(
    site: tuple[Site, CountingProxy], cognito_user: CognitoUser
) -> None:
    running, proxy = site
    ids = running.driver("seed", "6", cognito_user.username, cognito_user.password)
    proxy.delay = 2.0
    running.driver("refresh", "1", *ids)
    first = running.worker("w1")
    wait_for(lambda: proxy.refreshes >= 2, "the second refresh of the batch under way", running)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    done_before = versions(running).count(2)
    assert done_before < 6
    running.worker("w2")
    wait_for(lambda: versions(running) == [2] * 6, "the batch completed by the new worker", running)
    assert versions(running) == [2] * 6  # none refreshed twice
    assert proxy.refreshes <= 7  # at most the one call in flight at the kill was repeated


def test_sign_out_retries_while_cognito_is_down_and_completes_when_it_returns(
    site: tuple[Site, CountingProxy], cognito: CognitoFactory, cognito_user: CognitoUser
) -> None:
    running, proxy = site
    running.driver("seed", "1", cognito_user.username, cognito_user.password)
    proxy.down = True
    running.worker("w1")
    running.driver("sign-out", cognito_user.username)
    wait_for(lambda: proxy.sign_outs >= 2, "two attempts while Cognito is down", running)
    status, reason, _ = running.driver("state")["sign_outs"][0]
    assert status == "pending" and reason.startswith("retrying")
    assert cognito.idp.get_user(AccessToken=cognito_user.tokens.access_token)  # not signed out at Cognito yet
    proxy.down = False
    wait_for(lambda: running.driver("state")["sign_outs"][0][0] == "done", "the sign-out confirmed", running)
    with pytest.raises(cognito.idp.exceptions.NotAuthorizedException):
        cognito.idp.get_user(AccessToken=cognito_user.tokens.access_token)
