"""Benchmark: requests per second of ``GET /api/auth/me/`` (Cognito bearer token) under gunicorn with 1, 2 and 4
workers, started with the production configuration (``deploy/gunicorn.conf.py``, ``WEB_CONCURRENCY``), printed
as ratios against 1 worker measured in the same run.

    .venv/bin/python bench/bench_scale.py [--workers 1,2,4] [--requests 2000] [--seconds 8] [--rounds 3]
                                          [--client-processes 2] [--clients 4]

The site runs as ``bench/bench_me_http.py`` runs it (its token signed by a key made here, its JWKS served by a local
stand-in, SQLite), with Redis as the cache when ``redis-server`` is installed, as in production. The load comes
from ``--client-processes`` processes of ``--clients`` threads each, one request per connection (gunicorn's sync
workers close each), on this same machine: the clients take CPU from the workers, so on a 2-core machine the
ratios say how far the workers scale within what is left, not what more cores would give. The best round of each
worker count counts; rounds alternate the worker counts. Not part of the test suite; never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._procs import free_port, stop_processes, wait_for_port, write_results  # noqa: E402
from bench.bench_me_http import StandIn, load, make_token, start_redis  # noqa: E402


def _client(args: tuple[int, str, dict[str, str], int, float, int]) -> tuple[float, int, int]:
    return load(*args)


def measure(port: int, headers: dict[str, str], args: argparse.Namespace) -> tuple[float, int]:
    """(requests per second summed over the client processes, failed requests)."""
    share = max(1, args.requests // args.client_processes)
    jobs = [(port, "/api/auth/me/", headers, share, args.seconds, args.clients)] * args.client_processes
    with multiprocessing.get_context("fork").Pool(args.client_processes) as pool:
        results = pool.map(_client, jobs)
    return sum(r[0] for r in results), sum(r[2] for r in results)


def start_site(workers: int, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [gunicorn, "-c", "deploy/gunicorn.conf.py", "config.wsgi"],
            env={**env, "WEB_CONCURRENCY": str(workers), "PORT": str(port), "GUNICORN_BIND": f"127.0.0.1:{port}"},
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
    wait_for_port(port, timeout=60)
    return process, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts; the first is the baseline")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round (upper bound)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per round (upper bound)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per worker count, alternating")
    parser.add_argument("--client-processes", type=int, default=2, help="load-generating processes")
    parser.add_argument("--clients", type=int, default=4, help="threads per load-generating process")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",") if n.strip()]

    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    token, jwks, claims = make_token()
    stand_in = StandIn(jwks, claims["username"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNITO_", "CACHE_URL", "DATABASE_", "DJANGO_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench._bench_settings",
            "DJANGO_READ_DOTENV": "false",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "BENCH_COGNITO": json.dumps(
                {"USER_POOL_ID": "us-east-1_Bench", "APP_CLIENT_ID": "benchclient", "JWKS_URL": f"{stand_in.url}/j"}
            ),
            "AWS_ENDPOINT_URL": stand_in.url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "GUNICORN_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
    )
    processes: list[subprocess.Popen[bytes]] = []
    setup = "redis" if shutil.which("redis-server") else "default"
    try:
        if setup == "redis":
            url, redis_process = start_redis()
            processes.append(redis_process)
            env["CACHE_URL"] = url
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--skip-checks", "-v", "0"], env=env, cwd=ROOT, check=True
        )
        headers = {"Authorization": f"Bearer {token}"}
        best = dict.fromkeys(counts, 0.0)
        failures = dict.fromkeys(counts, 0)
        for round_ in range(args.rounds):
            order = counts[round_ % len(counts) :] + counts[: round_ % len(counts)]
            for workers in order:
                site, port = start_site(workers, env, workdir / "gunicorn.log")
                try:
                    # Warm-up: the first request creates the local user; then every worker imports and connects.
                    load(port, "/api/auth/me/", headers, 1, 30, 1)
                    _, _, failed = load(port, "/api/auth/me/", headers, 50 * workers, 30, 2 * workers)
                    if failed:
                        raise SystemExit(f"{workers} workers: {failed} warm-up requests failed")
                    rps, failed = measure(port, headers, args)
                    best[workers] = max(best[workers], rps)
                    failures[workers] += failed
                finally:
                    stop_processes([site])
        base = best[counts[0]]
        print(
            f"GET /api/auth/me/ (bearer), gunicorn sync workers, {setup} setup, {os.cpu_count()} CPUs, "
            f"{args.client_processes}x{args.clients} clients on the same machine, best of {args.rounds} rounds:"
        )
        results: dict[str, Any] = {"setup": setup, "cpus": os.cpu_count(), "workers": {}}
        for workers in counts:
            ratio = best[workers] / base if base else 0.0
            note = f", {failures[workers]} failed" if failures[workers] else ""
            print(f"  {workers} worker(s): {best[workers]:8.1f} req/s   ratio to {counts[0]} = {ratio:.2f}{note}")
            results["workers"][str(workers)] = {"rps": best[workers], "ratio": ratio, "failed": failures[workers]}
        write_results("scale", results)
    finally:
        stop_processes(processes)
        stand_in.server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
