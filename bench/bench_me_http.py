"""Benchmark: requests per second of ``GET /api/auth/me/`` with Cognito authentication against the same view
with authentication off, under gunicorn with one worker, in the default setup and with Redis.

    .venv/bin/python bench/bench_me_http.py [--requests 1500] [--seconds 8] [--clients 4] [--rounds 6]
                                            [--setups default,redis]

Each setup runs one gunicorn worker with the project's settings as an operator would get them from the
environment: ``default`` is SQLite and no ``CACHE_URL`` (per-process cache), ``redis`` adds
``CACHE_URL=redis://...`` (a throwaway ``redis-server``). Three URLs are measured in alternating rounds: the
view with authentication off (the baseline), ``/api/auth/me/``, and the same view with the online check on
(``/bench/me-online/``: one GetUser per token per ``ONLINE_CHECK_INTERVAL``, answered here by a local stand-in).
The token is a real RS256 access token signed by a key this script makes; its JWKS is served by a local HTTP
server. The load comes from Python threads on loopback, one request per connection (gunicorn's sync worker
closes each), bounded by ``--requests`` and ``--seconds`` per round; the best round of each URL counts.
A fourth URL is ``/api/auth/me/`` with a session cookie (a session opened with the token, checked against
revocation by ``SessionRevocationMiddleware``; ``cognito_backend.sessions`` as in production, the session stamped
with a version as a sign-in's response stamps it, so repeated requests are served from the worker's memory).
Prints the ratios auth/no-auth (targets: default >= 0.7, redis >= 0.9), session/no-auth (>= 0.9) and
online/offline (>= 0.9). Not part of the test suite; never fails on a time.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._procs import free_port, stop_processes, wait_for_port, write_results  # noqa: E402

VERSION_KEY = "_cognito_v"  # cognito_backend.sessions.VERSION_KEY (not imported: no Django in this process)
SESSION_VERSION = "bench-version"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class StandIn:
    """A local HTTP server: the JWKS document on GET, Cognito's GetUser (counted) on POST."""

    def __init__(self, document: dict[str, Any], username: str) -> None:
        body = json.dumps(document).encode()
        user = json.dumps({"Username": username, "UserAttributes": []}).encode()
        self.get_user_calls = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(body, "application/json")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("X-Amz-Target", "").endswith(".GetUser"):
                    stand_in.get_user_calls += 1
                    self._answer(user, "application/x-amz-json-1.1")
                else:
                    self.send_error(400)

            def _answer(self, payload: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def make_token() -> tuple[str, dict[str, Any], dict[str, Any]]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()

    def uint(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "bench", "n": uint(numbers.n), "e": uint(numbers.e)}
    now = int(time.time())
    claims = {
        "sub": "6d8f1c1e-3c4b-4e8e-9a39-5b0c3c7f0c11",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench",
        "client_id": "benchclient",
        "origin_jti": "4c0c2f8e-4f6e-4d1e-9a0d-0d2f5a0b7c11",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "b2f2c7d4-6a1e-4f0b-9d3c-1e2f3a4b5c6d",
        "username": "bench-user",
        "cognito:groups": ["users"],
    }
    signing_input = (
        f"{b64url(json.dumps({'kid': 'bench', 'alg': 'RS256'}).encode())}.{b64url(json.dumps(claims).encode())}"
    )
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}", {"keys": [jwk]}, claims


def load(
    port: int, path: str, headers: dict[str, str], requests: int, seconds: float, clients: int
) -> tuple[float, int, int]:
    """(requests per second, completed, failed) for ``requests`` GETs or ``seconds``, whichever ends first."""
    lock = threading.Lock()
    state = {"left": requests, "ok": 0, "failed": 0}
    deadline = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                if state["left"] <= 0:
                    return
                state["left"] -= 1
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                good = response.status == 200
            except OSError:
                good = False
            finally:
                conn.close()
            with lock:
                state["ok" if good else "failed"] += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    return state["ok"] / elapsed, state["ok"], state["failed"]


def wait_for_worker(port: int, timeout: float = 120.0) -> None:
    """Until the worker answers (on a loaded machine it may still be importing Django when the port opens)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/bench/me-noauth/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise SystemExit(f"the worker on port {port} did not answer within {timeout:.0f} s")


def start_redis() -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return f"redis://127.0.0.1:{port}/0", process


def run_setup(
    name: str, env: dict[str, str], args: argparse.Namespace, stand_in: StandIn, token: str, session_key: str
) -> dict[str, float]:
    """Best requests/s of each URL under one gunicorn worker of this setup."""
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    worker = subprocess.Popen(
        [gunicorn, "--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "config.wsgi"],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_for_port(port)
        wait_for_worker(port)
        auth = {"Authorization": f"Bearer {token}"}
        targets = {
            "cognito": ("/api/auth/me/", auth),
            "no-auth": ("/bench/me-noauth/", {}),
            "online": ("/bench/me-online/", auth),
            # A Django session opened with the token (its identity recorded as a sign-in would), checked against
            # revocation by SessionRevocationMiddleware on every request.
            "session": ("/api/auth/me/", {"Cookie": f"sessionid={session_key}; sessionid_v={SESSION_VERSION}"}),
        }
        for target, (path, headers) in targets.items():  # warm-up, and a check that each answers 200
            _, ok, failed = load(port, path, headers, 200, 10, args.clients)
            if failed or not ok:
                raise SystemExit(f"{name} {target}: {failed} of {ok + failed} warm-up requests failed")
        calls_before = stand_in.get_user_calls
        best = dict.fromkeys(targets, 0.0)
        failures = 0
        started = time.monotonic()
        names = list(targets)
        for round_ in range(args.rounds):
            # Each round starts with a different URL: no URL always runs right after the same one.
            for target in names[round_ % len(names) :] + names[: round_ % len(names)]:
                path, headers = targets[target]
                rps, _, failed = load(port, path, headers, args.requests, args.seconds, args.clients)
                failures += failed
                best[target] = max(best[target], rps)
        elapsed = time.monotonic() - started
        if failures:
            print(f"  {name}: {failures} requests failed")
        best["get_user_per_minute"] = (stand_in.get_user_calls - calls_before) * 60 / elapsed
        return best
    finally:
        stop_processes([worker])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1500, help="requests per round (upper bound)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per round (upper bound)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per URL, alternating")
    parser.add_argument(
        "--setups", default="default,redis" if shutil.which("redis-server") else "default", help="comma-separated"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-me-"))
    processes: list[subprocess.Popen[bytes]] = []
    token, jwks, claims = make_token()
    stand_in = StandIn(jwks, claims["username"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNITO_", "CACHE_URL", "DATABASE_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench._bench_settings",
            "DJANGO_READ_DOTENV": "false",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "BENCH_TOKEN": token,
            "BENCH_COGNITO": json.dumps(
                {"USER_POOL_ID": "us-east-1_Bench", "APP_CLIENT_ID": "benchclient", "JWKS_URL": f"{stand_in.url}/j"}
            ),
            "AWS_ENDPOINT_URL": stand_in.url,  # GetUser of the online check
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "PYTHONPATH": str(ROOT),
        }
    )
    results: dict[str, dict[str, float]] = {}
    try:
        setup = (
            "import django; django.setup();"
            "from django.core.management import call_command; call_command('migrate', verbosity=0);"
            "from django.contrib.auth import get_user_model;"
            "from cognito_backend.models import CognitoIdentity;"
            "u = get_user_model().objects.create_user('bench-user', email='bench@example.com');"
            f"CognitoIdentity.objects.create(user=u, sub={claims['sub']!r}, pool_id='us-east-1_Bench',"
            f" issuer={claims['iss']!r}, username='bench-user');"
            "from cognito_backend.sessions import SessionStore; s = SessionStore();"
            "s['_auth_user_id'] = str(u.pk); s['_auth_user_backend'] = 'cognito_backend.backends.CognitoBackend';"
            "s['_auth_user_hash'] = u.get_session_auth_hash();"
            f"s['_cognito_identity'] = [{claims['iss']!r}, {claims['sub']!r}, {claims['auth_time']},"
            f" {claims['origin_jti']!r}, 'bench-user', ['users'], 'access'];"
            # Stamped with a version as a sign-in request's response would be (the cookie beside sessionid).
            f"s[{VERSION_KEY!r}] = {SESSION_VERSION!r}; s.stamped = True; s.save(); print(s.session_key)"
        )
        done = subprocess.run([sys.executable, "-c", setup], env=env, cwd=ROOT, check=True, capture_output=True)
        session_key = done.stdout.decode().strip().splitlines()[-1]
        for name in [n.strip() for n in args.setups.split(",") if n.strip()]:
            setup_env = dict(env)
            if name == "redis":
                url, redis_process = start_redis()
                processes.append(redis_process)
                setup_env["CACHE_URL"] = url
            results[name] = run_setup(name, setup_env, args, stand_in, token, session_key)
        print(
            f"GET /api/auth/me/ under gunicorn (1 sync worker), {args.clients} clients, best of {args.rounds} rounds:"
        )
        for name, best in results.items():
            ratio = best["cognito"] / best["no-auth"]
            online = best["online"] / best["cognito"]
            session = best["session"] / best["no-auth"]
            target = 0.9 if name == "redis" else 0.7
            session_target = "target >= 0.9"
            best.update({"ratio": ratio, "online_ratio": online, "session_ratio": session})
            print(f"  {name}:")
            print(f"    authentication off   {best['no-auth']:8.1f} req/s")
            print(f"    Cognito bearer token {best['cognito']:8.1f} req/s   ratio = {ratio:.3f}  (target >= {target})")
            print(f"    session cookie       {best['session']:8.1f} req/s   ratio = {session:.3f}  ({session_target})")
            print(
                f"    with the online check {best['online']:7.1f} req/s   on/off = {online:.3f}  (target >= 0.9; "
                f"{best['get_user_per_minute']:.1f} GetUser/min)"
            )
        write_results("me-http", results)
    finally:
        stop_processes(processes)
        stand_in.server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
