"""Benchmark: what ``POST /api/lambdas/<name>/invoke/`` adds over a direct boto3 Invoke of the same function.

    .venv/bin/python bench/bench_dashboard.py [--requests 400] [--clients 4] [--rounds 3]

Everything runs on loopback, in one run, on this machine:

- a moto server (``moto_server``, Lambda without Docker: Invoke echoes the payload) with ``ThingLambda``;
- the site under gunicorn (1 worker, ``--clients`` threads, persistent database connections) with the function
  registered, on SQLite, with a Redis cache (``CACHE_URL``) as in production, so the sessions and the registry
  are remembered per process behind the invalidation bus (``--no-redis``: the local-memory cache, no bus);
- (a) the baseline: boto3 ``invoke(FunctionName="ThingLambda")`` straight at moto, retries off;
- (b) the endpoint: ``POST /api/lambdas/thing/invoke/`` with the same payload, signed in by session (+CSRF;
  ``--session cognito``, the default: a session opened with a Cognito token of a pool in the stand-in, as the
  site's pages open them; ``model``: Django's ModelBackend), which authenticates, checks access, parses and
  hashes the payload, invokes Lambda and writes the audit row;
- (c) for context, not a target: ``POST /bench/echo/`` with the same payload, a view that answers the body with no
  authentication, session or database: what the HTTP hop to the site and Django's middleware cost by themselves;
  and ``POST /bench/echo-signed-in/``, the same answer from a DRF view behind the session's authentication and CSRF
  check: what a signed-in POST costs before the dashboard's own work.

The endpoint's clients speak HTTP with the standard library's ``http.client`` over a kept-alive connection, as a
browser's ``fetch`` would, rather than ``requests``, whose own per-call work (about 0.6 ms of CPU here: cookie
jar, hooks, adapters) is a cost of the load generator, not of the endpoint.

Reports per-request latency with one client (the median over every round; the time added, b - a, and the ratio
b/a), the client calling the targets in turns of 50 requests so that drift hits all alike, and requests per
second sustained with ``--clients`` concurrent clients (the best round; and the ratio b/a). The targets are at
most 1.5 ms added and at least 0.8. Each round is bounded by ``--requests``. Results go to bench/results/. Never
fails on a time.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookies
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._procs import free_port, stop_processes, wait_for_port, write_results  # noqa: E402

BIN = Path(sys.executable).parent
PAYLOAD = json.dumps({"action": "LIST", "filter": {"owner": "bench", "limit": 25}}).encode()


SETUP = """
import json, os, secrets, django
django.setup()
from django.core.management import call_command
from django.contrib.auth import get_user_model
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from config.aws import get_client
from localaws import stack
from dashboard.models import LambdaFunction
from cognito_backend.sessions import VERSION_KEY, SessionStore

call_command("migrate", verbosity=0)
stack.configure_moto(stack.os.environ["AWS_ENDPOINT_URL"])
created = []
role = stack.ensure_lambda_role(get_client("iam"), created)
stack.ensure_functions(get_client("lambda"), role, created)
LambdaFunction.objects.create(name="thing", display_name="Thing", function_name="ThingLambda", timeout=10)
# Stamped with a version, as the sign-in request's response stamps it (the cookie beside the session cookie).
version = secrets.token_urlsafe(12)
if os.environ.get("BENCH_ID_TOKEN"):
    # Signed in with Cognito, as the site's pages sign people in: CognitoBackend, the token's identity kept.
    from django.contrib.auth import authenticate, login
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = SessionStore()
    user = authenticate(request, cognito_token=os.environ["BENCH_ID_TOKEN"])
    assert user is not None, "the Cognito token was refused"
    login(request, user)
    session = request.session
else:
    user = get_user_model().objects.create_user("bench", password="Bench-pass-1234")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session[VERSION_KEY] = version
session.stamped = True
session.save()
print(json.dumps({"session": session.session_key, "version": version}))
"""


def cognito_user(moto_url: str) -> tuple[dict[str, str], str]:
    """A pool, an app client and a signed-in user in the stand-in: the site's COGNITO keys and the id token."""
    import boto3

    idp = boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    ).client("cognito-idp", endpoint_url=moto_url)
    pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="bench", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    password = "Bench-pass-1234"  # a throwaway user of the stand-in
    idp.admin_create_user(
        UserPoolId=pool, Username="bench", MessageAction="SUPPRESS", TemporaryPassword="Tmp-pass-1234"
    )
    idp.admin_set_user_password(UserPoolId=pool, Username="bench", Password=password, Permanent=True)
    answer = idp.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "bench", "PASSWORD": password}
    )
    settings = {
        "REGION": "us-east-1",
        "USER_POOL_ID": pool,
        "APP_CLIENT_ID": client,
        "JWKS_URL": f"{moto_url}/{pool}/.well-known/jwks.json",
    }
    return settings, str(answer["AuthenticationResult"]["IdToken"])


class SiteClient:
    """A signed-in client of the site over one kept-alive ``http.client`` connection: the session's cookies (kept
    up to date from ``Set-Cookie``), the CSRF token from the first page, JSON bodies."""

    def __init__(self, port: int, session_key: str, session_version: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        self.cookies: dict[str, str] = {"sessionid": session_key, "sessionid_v": session_version}
        self.headers = {"Referer": f"http://127.0.0.1:{port}", "Content-Type": "application/json"}
        status, _ = self.request("GET", "/dashboard/")  # sets the CSRF cookie
        if status != 200:
            raise SystemExit(f"GET /dashboard/ answered {status}: the benchmark user is not signed in")
        self.headers["X-CSRFToken"] = self.cookies["csrftoken"]

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {**self.headers, "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in http.cookies.SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, data

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self.request("POST", path, body)


def run_clients(
    call: Callable[[Any], bool], make_state: Callable[[], Any], requests: int, clients: int
) -> dict[str, Any]:
    """``requests`` calls spread over ``clients`` threads; returns rps, latencies and failures."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        nonlocal failures
        state = make_state()
        mine: list[float] = []
        bad = 0
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            start = time.perf_counter()
            ok = call(state)
            mine.append(time.perf_counter() - start)
            bad += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            failures += bad

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "rps": len(latencies) / elapsed,
        "mean_ms": statistics.fmean(latencies) * 1000,
        "median_ms": statistics.median(latencies) * 1000,
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="requests per round and target (upper bound)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the throughput rounds")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target, alternating")
    parser.add_argument("--no-redis", action="store_true", help="local-memory cache instead of a redis-server")
    parser.add_argument(
        "--session",
        choices=["cognito", "model"],
        default="cognito",
        help="how the benchmark user is signed in: with Cognito (default, as the site's pages do) or Django's "
        "ModelBackend",
    )
    args = parser.parse_args()

    import boto3
    from botocore.config import Config

    workdir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    processes: list[subprocess.Popen[bytes]] = []
    moto_port, site_port = free_port(), free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench._bench_settings",  # the site's URLs plus /bench/echo/
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": os.urandom(24).hex(),
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "DATABASE_CONN_MAX_AGE": "60",  # persistent connections, as production would configure
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(ROOT),
    }
    try:
        processes.append(
            subprocess.Popen(
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for_port(moto_port)
        redis_server = shutil.which("redis-server")
        if redis_server and not args.no_redis:
            redis_port = free_port()
            processes.append(
                subprocess.Popen(
                    [
                        redis_server,
                        "--port",
                        str(redis_port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=workdir,
                )
            )
            wait_for_port(redis_port)
            env["CACHE_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        cache = "Redis" if "CACHE_URL" in env else "local memory"
        if args.session == "cognito":
            cognito_settings, id_token = cognito_user(moto_url)
            env["BENCH_COGNITO"] = json.dumps(cognito_settings)
            env["BENCH_ID_TOKEN"] = id_token
        setup = subprocess.run(
            [sys.executable, "-c", SETUP], env=env, cwd=ROOT, check=True, capture_output=True, text=True
        )
        signed_in = json.loads(setup.stdout.strip().splitlines()[-1])
        session_key, session_version = signed_in["session"], signed_in["version"]
        processes.append(
            subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    "1",
                    "--threads",
                    str(args.clients),
                    "--bind",
                    f"127.0.0.1:{site_port}",
                    "--log-level",
                    "warning",
                    "config.wsgi:application",
                ],
                env=env,
                cwd=ROOT,
            )
        )
        wait_for_port(site_port)

        def direct_state() -> Any:
            config = Config(region_name="us-east-1", retries={"total_max_attempts": 1}, read_timeout=15)
            return boto3.session.Session(
                aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
            ).client("lambda", endpoint_url=moto_url, config=config)

        def direct(client: Any) -> bool:
            answer = client.invoke(FunctionName="ThingLambda", Payload=PAYLOAD)
            return bool(answer["StatusCode"] == 200 and answer["Payload"].read() == PAYLOAD)

        def endpoint_state() -> SiteClient:
            return SiteClient(site_port, session_key, session_version)

        def endpoint(client: SiteClient) -> bool:
            status, body = client.post("/api/lambdas/thing/invoke/", PAYLOAD)
            return bool(status == 200 and json.loads(body)["result"] == json.loads(PAYLOAD))

        def echo(client: SiteClient) -> bool:
            status, body = client.post("/bench/echo/", PAYLOAD)
            return bool(status == 200 and body == PAYLOAD)

        def signed_in_echo(client: SiteClient) -> bool:
            status, body = client.post("/bench/echo-signed-in/", PAYLOAD)
            return bool(status == 200 and body == PAYLOAD)

        targets = {
            "direct": (direct, direct_state),
            "endpoint": (endpoint, endpoint_state),
            "echo": (echo, endpoint_state),
            "signed-in echo": (signed_in_echo, endpoint_state),
        }
        for name, (call, make) in targets.items():  # warm-up, and a check that both answer correctly
            warm = run_clients(call, make, 20, 1)
            if warm["failures"]:
                raise SystemExit(f"{name}: {warm['failures']} of 20 warm-up requests failed")

        throughput: dict[str, float] = dict.fromkeys(targets, 0.0)
        samples: dict[str, list[float]] = {name: [] for name in targets}
        failures = 0
        block = 50
        for round_number in range(args.rounds):
            # Fresh clients each round: gunicorn closes a kept-alive connection left idle by the previous round.
            states = {name: make() for name, (_, make) in targets.items()}
            # Latency: one client, the targets taking turns in blocks of 50 requests (the order rotating), so that
            # drift of the stand-in and of the machine hits every target alike while each block runs warm.
            order = list(targets)
            for i in range(max(args.requests // 2 // block, 1)):
                shift = (i + round_number) % len(order)
                for name in order[shift:] + order[:shift]:
                    call = targets[name][0]
                    for _ in range(block):
                        start = time.perf_counter()
                        ok = call(states[name])
                        samples[name].append(time.perf_counter() - start)
                        failures += 0 if ok else 1
            for name, (call, make) in targets.items():
                many = run_clients(call, make, args.requests, args.clients)
                failures += many["failures"]
                throughput[name] = max(throughput[name], many["rps"])
        latency = {name: statistics.median(values) * 1000 for name, values in samples.items()}

        added = latency["endpoint"] - latency["direct"]
        latency_ratio = latency["endpoint"] / latency["direct"]
        throughput_ratio = throughput["endpoint"] / throughput["direct"]
        print(
            f"Invoke of ThingLambda on a moto server, {len(PAYLOAD)} byte payload, {cache} cache, "
            f"{args.session} session, "
            f"{args.rounds} rounds (latency: median of all, targets in turns of 50; throughput: best round):"
        )
        print(f"                        1 client: median latency   {args.clients} clients: throughput")
        for label, name in (
            ("direct boto3 Invoke", "direct"),
            ("our endpoint", "endpoint"),
            ("echo view (context)", "echo"),
            ("signed-in echo", "signed-in echo"),
        ):
            print(f"  {label:<20}  {latency[name]:8.2f} ms                 {throughput[name]:8.1f} req/s")
        print(
            f"  added: {added:.2f} ms per request at the median (target <= 1.5), latency ratio {latency_ratio:.2f}; "
            f"throughput endpoint/direct {throughput_ratio:.2f} (target >= 0.8)"
        )
        own = latency["endpoint"] - latency["signed-in echo"] - latency["direct"]
        print(
            f"  context: the HTTP hop to the site and Django's middleware alone (echo view) take "
            f"{latency['echo']:.2f} ms at the median; with the session's authentication, CSRF and DRF (signed-in "
            f"echo) {latency['signed-in echo']:.2f} ms; the endpoint's own work (Lambda's Invoke over direct, the "
            f"registry, payload checks, audit row) {own:.2f} ms"
        )
        if failures:
            print(f"  {failures} requests failed")
        write_results(
            "dashboard",
            {
                "payload_bytes": len(PAYLOAD),
                "clients": args.clients,
                "cache": cache,
                "session": args.session,
                "added_ms": added,
                "direct_median_ms": latency["direct"],
                "endpoint_median_ms": latency["endpoint"],
                "echo_median_ms": latency["echo"],
                "echo_rps": throughput["echo"],
                "signed_in_echo_median_ms": latency["signed-in echo"],
                "latency_ratio": latency_ratio,
                "direct_rps": throughput["direct"],
                "endpoint_rps": throughput["endpoint"],
                "throughput_ratio": throughput_ratio,
                "failures": failures,
            },
        )
    finally:
        stop_processes(processes)


if __name__ == "__main__":
    main()
