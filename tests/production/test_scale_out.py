"""Scale out: two gunicorn processes (two workers each), two Celery workers and beat, all started from the Procfile
with the production settings, against one PostgreSQL and one Redis. Whatever process a request reaches, the answer
is the same: a sign-in made through one serves through the other, a revocation made through one is refused by the
other within the documented bound, a due refresh happens once, an invocation is audited once."""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
import requests

from tests.conftest import DEFAULT_PASSWORD, PASSWORD_POLICY, ROOT, free_port, start_redis, wait_for_port

from .conftest import command, production_env, start_web, stop_all

# Once per suite (the SQLite pass; bin/test leaves it out of the PostgreSQL pass): it brings its own PostgreSQL.
pytestmark = pytest.mark.production

REVOCATION_BOUND = 5.0  # COGNITO_REVOCATION_MEMO_SECONDS: the longest another process may take (README)
SIGN_IN_MARGIN = 1.5  # a request's own time on a loaded machine, on top of the bound


def as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.getuid() == 0 else args


@contextmanager
def postgres(workdir: Path) -> Iterator[str]:
    """A database of our own: in the suite's PostgreSQL when it runs on one, else in a throwaway cluster."""
    import psycopg

    suite_url = os.environ.get("DATABASE_URL", "")
    if suite_url.startswith(("postgres://", "postgresql://")):
        name = f"scale_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(suite_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        parts = urlsplit(suite_url)
        try:
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            with psycopg.connect(suite_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        return
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not binaries:
        pytest.skip("PostgreSQL is not installed (bin/test installs it)")
    pg_bin = binaries[-1]
    # Outside pytest's private temporary folder: the postgres user must reach it (bin/test does the same).
    pgdir = Path(tempfile.mkdtemp(prefix="scale-pg."))
    pgdir.chmod(0o755)
    if os.getuid() == 0:
        shutil.chown(pgdir, "postgres")
    data = pgdir / "data"
    port = free_port()
    subprocess.run(
        as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {pgdir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        as_postgres(
            [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(pgdir / "pg.log"), "-w", "-o", options, "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(pgdir, ignore_errors=True)


@dataclass
class Cluster:
    web: list[str]
    database_url: str
    moto: str
    pool_id: str
    client_id: str
    refresh_log: Path
    users: Iterator[str] = field(default_factory=lambda: iter(f"user{i}" for i in range(100)))
    idp: Any = None

    def refreshes(self) -> int:
        """REFRESH_TOKEN_AUTH calls the local Cognito has answered so far."""
        return len(self.refresh_log.read_text().splitlines()) if self.refresh_log.exists() else 0

    def user(self) -> str:
        """A fresh confirmed user (each test signs in its own, so sign-in budgets and sign-outs do not mix)."""
        name = next(self.users)
        self.idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=name,
            UserAttributes=[
                {"Name": "email", "Value": f"{name}@example.com"},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
            TemporaryPassword="Temp-Passw0rd!",
        )
        self.idp.admin_set_user_password(
            UserPoolId=self.pool_id, Username=name, Password=DEFAULT_PASSWORD, Permanent=True
        )
        return name

    def sign_in(self, web: str, username: str) -> dict[str, Any]:
        answer = requests.post(
            f"{web}/api/auth/sign-in/", json={"username": username, "password": DEFAULT_PASSWORD}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["tokens"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        pytest.skip("redis-server is not installed (bin/test installs it)")
    workdir = tmp_path_factory.mktemp("scale-out")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # Cognito and Lambda: a moto server process of our own that counts the refreshes it answers.
        moto_port = free_port()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.production.counting_moto", str(moto_port), str(workdir / "refreshes")],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for_port(moto_port, timeout=60)
        redis_process, redis_port = start_redis(redis_binary, workdir)
        processes.append(redis_process)
        with postgres(workdir) as database_url:
            try:
                yield _start(workdir, processes, f"http://127.0.0.1:{moto_port}", database_url, redis_port)
            finally:
                stop_all(processes[2:])  # the site's processes before its database goes
    finally:
        stop_all(processes)


def _start(
    workdir: Path,
    processes: list[subprocess.Popen[bytes]],
    moto: str,
    database_url: str,
    redis_port: int,
) -> Cluster:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    idp = session.client("cognito-idp", endpoint_url=moto)
    pool_id = idp.create_user_pool(
        PoolName="scale-out",
        Policies={"PasswordPolicy": PASSWORD_POLICY},
        AliasAttributes=["email"],
        Schema=[{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True}],
    )["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    requests.post(f"{moto}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10)
    role = session.client("iam", endpoint_url=moto).create_role(
        RoleName="echo",
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}',
    )["Role"]["Arn"]
    session.client("lambda", endpoint_url=moto).create_function(
        FunctionName="echo",
        Runtime="python3.11",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},  # an empty zip: moto without Docker echoes the payload
    )
    redis = f"redis://127.0.0.1:{redis_port}"
    env = production_env(
        DJANGO_HTTPS="false",  # plain HTTP on loopback; HTTPS is test_serving.py's
        DATABASE_URL=database_url,
        CACHE_URL=f"{redis}/1",
        CELERY_BROKER_URL=f"{redis}/2",
        CELERY_RESULT_BACKEND=f"{redis}/3",
        COGNITO_USER_POOL_ID=pool_id,
        COGNITO_APP_CLIENT_ID=client_id,
        COGNITO_JWKS_URL=f"{moto}/{pool_id}/.well-known/jwks.json",
        COGNITO_REVOCATION_MEMO_SECONDS=str(REVOCATION_BOUND),
        AWS_ENDPOINT_URL=moto,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        DJANGO_LOG_LEVEL="WARNING",
        WEB_CONCURRENCY="2",
    )
    subprocess.run(command("release"), cwd=ROOT, env=env, check=True, capture_output=True)
    # Everything starts at once (each process spends seconds importing Django): the registry entry, the web
    # processes, two workers and beat.
    register = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from dashboard.models import LambdaFunction; "
            "LambdaFunction.objects.create(name='echo', display_name='Echo', function_name='echo', timeout=10)",
        ],
        cwd=ROOT,
        env=env,
    )
    logs = workdir / "logs"
    logs.mkdir()
    celery = [
        command("worker", "-n", "scale1@%h", "--pool", "solo"),
        command("worker", "-n", "scale2@%h", "--pool", "solo"),
        command("beat", "--schedule", str(workdir / "celerybeat-schedule")),
    ]
    for index, argv in enumerate(celery):
        with (logs / f"celery-{index}.log").open("wb") as out:
            processes.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=out))
    web = []
    for name in ("a", "b"):
        port = free_port()
        processes.append(start_web(env, logs / f"web-{name}.log", port))
        web.append(f"http://127.0.0.1:{port}")
    assert register.wait(timeout=120) == 0
    # Ready when /healthz of each web process says so: database, Redis cache and broker, a worker, the JWKS.
    for url in web:
        deadline = time.monotonic() + 180
        while True:
            answer = requests.get(f"{url}/healthz", timeout=60)
            if answer.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}/healthz: {answer.text}")
            time.sleep(0.5)
    assert all(process.poll() is None for process in processes)
    return Cluster(web, database_url, moto, pool_id, client_id, workdir / "refreshes", idp=idp)


def me(web: str, access_token: str) -> requests.Response:
    return requests.get(f"{web}/api/auth/me/", headers={"Authorization": f"Bearer {access_token}"}, timeout=60)


def test_a_sign_in_through_one_web_process_is_served_alike_by_both(cluster: Cluster) -> None:
    username = cluster.user()
    tokens = cluster.sign_in(cluster.web[0], username)
    answers = [me(web, tokens["access_token"]) for web in cluster.web for _ in range(3)]  # every worker in turn
    assert {answer.status_code for answer in answers} == {200}
    assert len({(a.json()["sub"], a.json()["username"]) for a in answers}) == 1
    assert answers[0].json()["username"] == username


def test_a_global_sign_out_through_one_is_refused_by_the_other_within_the_bound(cluster: Cluster) -> None:
    first, second = cluster.web
    tokens = cluster.sign_in(first, cluster.user())
    assert all(me(second, tokens["access_token"]).status_code == 200 for _ in range(4))  # remembered as good
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.post(f"{first}/api/auth/sign-out/global/", headers=headers, timeout=60).status_code == 200
    signed_out = time.monotonic()
    while me(second, tokens["access_token"]).status_code != 401:
        assert time.monotonic() - signed_out < REVOCATION_BOUND + SIGN_IN_MARGIN, "still accepted past the bound"
        time.sleep(0.05)
    assert all(me(web, tokens["access_token"]).status_code == 401 for web in cluster.web for _ in range(3))
    refreshed = requests.post(
        f"{second}/api/auth/token/refresh/", json={"refresh_token": tokens["refresh_token"]}, timeout=60
    )
    assert refreshed.status_code == 401  # Cognito's side: the refresh token went with the sign-out


def sign_in_page(web: str, username: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{web}/accounts/sign-in/", timeout=60)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf, form.text[:500]
    answer = browser.post(
        f"{web}/accounts/sign-in/",
        data={"csrfmiddlewaretoken": csrf.group(1), "username": username, "password": DEFAULT_PASSWORD},
        headers={"Referer": f"{web}/accounts/sign-in/"},
        allow_redirects=False,
        timeout=60,
    )
    assert answer.status_code == 302, answer.text[:500]
    return browser


def test_a_due_refresh_happens_once_whichever_processes_ask(cluster: Cluster) -> None:
    import psycopg

    browser = sign_in_page(cluster.web[0], cluster.user())
    with psycopg.connect(cluster.database_url, autocommit=True) as conn:
        # The session's tokens now expire within the refresh margin: the next page view renews them.
        rows = conn.execute(
            "UPDATE accounts_tokenset SET expires_at = now() + interval '20 seconds' "
            "WHERE id = (SELECT id FROM accounts_tokenset ORDER BY created DESC LIMIT 1) RETURNING id"
        ).fetchall()
        assert len(rows) == 1
        before = cluster.refreshes()
        cookies = browser.cookies.get_dict()

        def profile(index: int) -> int:
            web = cluster.web[index % 2]
            return requests.get(
                f"{web}/accounts/profile/", cookies=cookies, allow_redirects=False, timeout=60
            ).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(profile, range(8)))
        assert statuses == [200] * 8
        row = conn.execute(
            "SELECT version, extract(epoch FROM expires_at - now()) FROM accounts_tokenset WHERE id = %s", (rows[0][0],)
        ).fetchone()
        assert row is not None
        version, expires_in = row
    assert cluster.refreshes() - before == 1  # one REFRESH_TOKEN_AUTH reached Cognito
    assert version == 2  # and one write of new tokens
    assert expires_in > 600


def test_an_invocation_through_either_process_is_answered_and_audited_once(cluster: Cluster) -> None:
    tokens = cluster.sign_in(cluster.web[1], cluster.user())
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    marks = []
    for web in cluster.web:
        mark = uuid.uuid4().hex
        answer = requests.post(f"{web}/api/lambdas/echo/invoke/", json={"mark": mark}, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        assert mark in answer.text  # moto echoes the payload
        marks.append(mark)
    for web in cluster.web:
        listed = requests.get(f"{web}/api/invocations/", headers=headers, timeout=60)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        rows = body["results"] if isinstance(body, dict) else body
        assert len(rows) == 2  # both invocations, each recorded once, seen alike from both processes
