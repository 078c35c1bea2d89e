"""Revocation between real processes: two gunicorn workers, one SQLite file, one real ``redis-server``.

Worker A revokes (``POST /bench/revoke/<sub>/``, the bench URL conf); worker B must refuse the token within
``REVOCATION_MEMO_SECONDS`` (2 s here) however the bus fares: delivered, the publish refused by Redis (an ACL
that denies PUBLISH to the bus's user, so B's subscription stays healthy while no message ever comes), and Redis
paused outright (SIGSTOP: connections stay open and nothing answers, as in a silent network partition). A third
worker shows ``COGNITO_ONLINE_CHECK`` from the environment refusing a token signed out directly at the stand-in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.cognito_backend.conftest import MOTO_KEY, JwksServer, _start_jwks_server, forged_claims
from tests.conftest import ROOT, CognitoFactory, CognitoUser, UserPool, free_port, start_redis, wait_for_port

MEMO_SECONDS = 2.0
LIVENESS_SECONDS = 1.0
HEADER = {"alg": "RS256", "kid": "dummy"}
BUS_USER = "bus"
BUS_PASSWORD = "bus-password"  # a throwaway local Redis user


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def admin(self) -> Any:
        return redis.Redis(port=self.port, socket_timeout=5)

    def cache_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0?socket_timeout=0.5&socket_connect_timeout=0.5"

    def bus_url(self) -> str:
        return f"redis://{BUS_USER}:{BUS_PASSWORD}@127.0.0.1:{self.port}/0"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of this module alone: it is paused and its ACL changed, which other tests must not feel."""
    process, port = start_redis("redis-server", tmp_path_factory.mktemp("redis-processes"))
    try:
        server = RedisServer(port, process)
        server.admin.execute_command("ACL", "SETUSER", BUS_USER, "on", f">{BUS_PASSWORD}", "~*", "&*", "+@all")
        yield server
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def keys() -> Iterator[JwksServer]:
    state, stop = _start_jwks_server()
    state.set_keys(MOTO_KEY.public_jwk())
    yield state
    stop()


def worker_env(database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNITO_", "CACHE_URL", "DATABASE_", "AWS_E"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench._bench_settings",
            "DJANGO_READ_DOTENV": "false",
            "DATABASE_URL": f"sqlite:///{database}",
            "DJANGO_SECRET_KEY": "processes-test-secret-key-not-for-production",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing of the forged pool talks to AWS; fail fast if so
            "PYTHONPATH": str(ROOT),
            **extra,
        }
    )
    return env


def migrated_database(directory: Path) -> Path:
    database = directory / "db.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        env=worker_env(database),
        cwd=ROOT,
        check=True,
    )
    return database


def start_worker(env: dict[str, str]) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    process = subprocess.Popen(
        [gunicorn, "--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "config.wsgi"],
        env=env,
        cwd=ROOT,
    )
    return port, process


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Workers:
    a: int
    b: int
    redis: RedisServer


@pytest.fixture(scope="module")
def workers(redis_server: RedisServer, keys: JwksServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    database = migrated_database(tmp_path_factory.mktemp("processes"))
    cognito = {
        "REGION": "us-east-1",
        "USER_POOL_ID": "us-east-1_Forged1",
        "APP_CLIENT_ID": "forgedclient",
        "JWKS_URL": keys.url,
        "REVOCATION_MEMO_SECONDS": MEMO_SECONDS,
        "INVALIDATION_LIVENESS_SECONDS": LIVENESS_SECONDS,
        "INVALIDATION_REDIS_URL": redis_server.bus_url(),
    }
    env = worker_env(database, CACHE_URL=redis_server.cache_url(), BENCH_COGNITO=json.dumps(cognito))
    started = [start_worker(env), start_worker(env)]
    try:
        for port, _ in started:
            wait_for_port(port, timeout=60)
        yield Workers(started[0][0], started[1][0], redis_server)
    finally:
        stop_workers([process for _, process in started])


def token_for(sub: str) -> str:
    return MOTO_KEY.sign(HEADER, forged_claims("access", sub=sub, username=f"user-{sub[-4:]}", jti=f"jti-{sub}"))


def status(port: int, token: str) -> int:
    response = requests.get(
        f"http://127.0.0.1:{port}/api/auth/me/", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code in {200, 401}, response.text
    return response.status_code


def revoke(port: int, sub: str) -> float:
    """Revoke in that worker; returns when the revocation was answered (monotonic)."""
    assert requests.post(f"http://127.0.0.1:{port}/bench/revoke/{sub}/", timeout=30).status_code == 204
    return time.monotonic()


def seconds_until_refused(port: int, token: str, since: float, give_up: float = MEMO_SECONDS + 5) -> float:
    while time.monotonic() - since < give_up:
        if status(port, token) == 401:
            return time.monotonic() - since
        time.sleep(0.05)
    raise AssertionError(f"worker still accepts the revoked token {give_up:.0f}s after the revocation")


def warm(workers: Workers, sub: str) -> str:
    """Both workers have accepted the token a few times: B answers it from memory now."""
    token = token_for(sub)
    for port in (workers.b, workers.a, workers.b, workers.b):
        response = requests.get(
            f"http://127.0.0.1:{port}/api/auth/me/", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert response.status_code == 200, response.text
    return token


def test_revocation_in_one_worker_is_refused_by_the_other_at_once(workers: Workers) -> None:
    sub = "aaaaaaaa-0000-0000-0000-000000000001"
    token = warm(workers, sub)
    since = revoke(workers.a, sub)
    assert seconds_until_refused(workers.b, token, since) < MEMO_SECONDS  # the message, not the TTL


def test_a_failed_publish_leaves_the_other_worker_refusing_within_the_memo_ttl(workers: Workers) -> None:
    sub = "aaaaaaaa-0000-0000-0000-000000000002"
    token = warm(workers, sub)
    admin = workers.redis.admin

    def refused_publishes() -> int:
        stats = admin.info("errorstats")
        return int(stats.get("errorstat_NOPERM", {}).get("count", 0))

    before = refused_publishes()
    admin.execute_command("ACL", "SETUSER", BUS_USER, "-publish")
    try:
        since = revoke(workers.a, sub)
        elapsed = seconds_until_refused(workers.b, token, since)
        assert refused_publishes() > before  # the publish really failed (and its retries too)
    finally:
        admin.execute_command("ACL", "SETUSER", BUS_USER, "+publish")
    assert elapsed <= MEMO_SECONDS + 1.0  # the TTL, plus one request on a busy machine


def test_with_redis_paused_the_other_worker_refuses_within_the_memo_ttl(workers: Workers) -> None:
    sub = "aaaaaaaa-0000-0000-0000-000000000003"
    token = warm(workers, sub)
    redis_process = workers.redis.process
    redis_process.send_signal(signal.SIGSTOP)  # connections stay open, nothing answers: a silent partition
    try:
        since = revoke(workers.a, sub)  # the database has it; the cache write and the publish time out
        elapsed = seconds_until_refused(workers.b, token, since)
    finally:
        redis_process.send_signal(signal.SIGCONT)
    assert elapsed <= MEMO_SECONDS + 1.0  # the TTL, plus one request on a busy machine
    # Once Redis is back, A's failed cache write is retried: the shared cache says "revoked", not the old answer.
    key = f":1:cognito_backend:nvb:{sub}"
    deadline = time.monotonic() + 15
    while workers.redis.admin.get(key) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers.redis.admin.get(key) is not None
    other = warm(workers, "aaaaaaaa-0000-0000-0000-000000000004")  # and both workers answer normally again
    assert status(workers.b, other) == 200


def test_online_check_from_the_environment_refuses_a_token_signed_out_at_cognito(
    cognito: CognitoFactory, user_pool: UserPool, cognito_user: CognitoUser, moto_server: str, tmp_path: Path
) -> None:
    """amazon-cognito-identity-js calls GlobalSignOut against Cognito, not through the site. moto's GetUser
    refuses a globally signed-out access token ("Invalid token"), as Cognito does ("Access Token has been
    revoked")."""
    database = migrated_database(tmp_path)
    env = worker_env(
        database,
        COGNITO_ONLINE_CHECK="true",
        COGNITO_ONLINE_CHECK_INTERVAL="1",
        AWS_ENDPOINT_URL=moto_server,
        BENCH_COGNITO=json.dumps(user_pool.settings()),
    )
    port, process = start_worker(env)
    try:
        wait_for_port(port, timeout=60)
        token = cognito_user.tokens.access_token
        assert status(port, token) == 200
        assert status(port, token) == 200
        cognito.idp.global_sign_out(AccessToken=token)
        since = time.monotonic()
        # Within the interval, plus the latency of the request that asks (GetUser to the stand-in in this process).
        assert seconds_until_refused(port, token, since, give_up=10) <= 1.0 + 1.0
    finally:
        stop_workers([process])


# once: its processes use a SQLite file of their own: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
