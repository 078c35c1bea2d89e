"""Benchmark: requests per second of ``GET /api/auth/me/`` with Cognito authentication against the same view
with authentication off, under gunicorn with one worker.

    .venv/bin/python bench/bench_me_http.py [--requests 3000] [--seconds 20] [--clients 4] [--rounds 3]
                                            [--cache redis|locmem]

One gunicorn worker serves both URLs from a SQLite file database. The token is a real RS256 access token
signed by a key this script makes; its JWKS is served by a local HTTP server. The load comes from Python
threads on loopback, one request per connection (gunicorn's sync worker closes each), bounded by
``--requests`` and ``--seconds`` per round; rounds alternate the two URLs and the best round of each counts.
``--cache redis`` (the default when ``redis-server`` is installed) runs a throwaway Redis as the shared Django
cache, as production would; ``locmem`` makes every request ask the database for revocations instead.
Prints the ratio auth/no-auth (target >= 0.9). Not part of the test suite; never fails on a time.
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
from bench._procs import free_port, stop_processes, wait_for_port  # noqa: E402


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def serve_jwks(document: dict[str, Any]) -> tuple[str, ThreadingHTTPServer]:
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/jwks.json", server


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="requests per round (upper bound)")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per round (upper bound)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per URL, alternating")
    parser.add_argument(
        "--cache", choices=["redis", "locmem"], default="redis" if shutil.which("redis-server") else "locmem"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-me-"))
    processes: list[subprocess.Popen[bytes]] = []
    token, jwks, claims = make_token()
    jwks_url, jwks_server = serve_jwks(jwks)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench._bench_settings",
        "BENCH_DB": str(workdir / "db.sqlite3"),
        "BENCH_TOKEN": token,
        "BENCH_COGNITO": json.dumps(
            {"USER_POOL_ID": "us-east-1_Bench", "APP_CLIENT_ID": "benchclient", "JWKS_URL": jwks_url}
        ),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing here talks to AWS; if it tried, it fails fast
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PYTHONPATH": str(ROOT),
    }
    try:
        if args.cache == "redis":
            redis_port = free_port()
            processes.append(
                subprocess.Popen(
                    [
                        "redis-server",
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
                )
            )
            wait_for_port(redis_port)
            env["BENCH_CACHE_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        setup = (
            "import django; django.setup();"
            "from django.core.management import call_command; call_command('migrate', verbosity=0);"
            "from django.contrib.auth import get_user_model;"
            "from cognito_backend.models import CognitoIdentity;"
            "u = get_user_model().objects.create_user('bench-user', email='bench@example.com');"
            f"CognitoIdentity.objects.create(user=u, sub={claims['sub']!r}, pool_id='us-east-1_Bench',"
            " username='bench-user')"
        )
        subprocess.run([sys.executable, "-c", setup], env=env, cwd=ROOT, check=True)
        port = free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        processes.append(
            subprocess.Popen(
                [
                    gunicorn,
                    "--workers",
                    "1",
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
        wait_for_port(port)
        auth = {"Authorization": f"Bearer {token}"}
        targets = {"no-auth": ("/bench/me-noauth/", {}), "cognito": ("/api/auth/me/", auth)}
        for name, (path, headers) in targets.items():  # warm-up, and a check that both answer 200
            _, ok, failed = load(port, path, headers, 200, 10, args.clients)
            if failed or not ok:
                raise SystemExit(f"{name}: {failed} of {ok + failed} warm-up requests failed")
        best = dict.fromkeys(targets, 0.0)
        failures = 0
        for _ in range(args.rounds):
            for name, (path, headers) in targets.items():
                rps, _, failed = load(port, path, headers, args.requests, args.seconds, args.clients)
                failures += failed
                best[name] = max(best[name], rps)
        ratio = best["cognito"] / best["no-auth"]
        print(
            f"GET /api/auth/me/ under gunicorn (1 sync worker), cache={args.cache}, "
            f"{args.clients} clients, best of {args.rounds} rounds:"
        )
        print(f"  authentication off   {best['no-auth']:8.1f} req/s")
        print(f"  Cognito bearer token {best['cognito']:8.1f} req/s   ratio = {ratio:.3f}  (target >= 0.9)")
        if failures:
            print(f"  {failures} requests failed")
        results = ROOT / "bench" / "results"
        results.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (results / f"me-http-{stamp}.json").write_text(
            json.dumps(
                {"cache": args.cache, "noauth_rps": best["no-auth"], "cognito_rps": best["cognito"], "ratio": ratio},
                indent=2,
            )
        )
    finally:
        stop_processes(processes)
        jwks_server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
