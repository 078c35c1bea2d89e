"""Proactive refresh and mass sign-out on the local AWS (a moto server process, a real redis-server, SQLite).

1. Refresh: ``--token-sets`` stored token sets (default 1,000) made due, fanned out by what beat runs
   (``accounts.refresh_due_token_sets``) and refreshed by 1, then 2 Celery worker processes; prints refreshes per
   second of each and the ratio (target: 2 workers >= 1.7x one on two cores).
2. Sign-out: ``--users`` pool users (default 10,000) signed out by ``manage.py cognito_sign_out_users --all`` at
   ``--rate`` (default the site's ``SIGN_OUT_RATE``); prints the wall time and the rate reached against the
   configured one (target >= 0.9x).

    .venv/bin/python bench/bench_refresh.py [--token-sets 1000] [--users 10000] [--rate 25]

Writes JSON to bench/results/. Never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._procs import free_port, stop_processes, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DRIVER = str(ROOT / "tests" / "celery" / "driver.py")
KEY = "tL0cQZbQm5N8yqC3bGzJxq2n6x0c7hW3lJ0nq3y8V2c="  # a throwaway Fernet key for the bench's own database
PASSWORD = "Str0ng-Passw0rd!"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token-sets", type=int, default=1000)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=0.0, help="default: SIGN_OUT_RATE of the settings (25)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-refresh-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        results = run(args, work, processes)
    finally:
        stop_processes(processes)
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results" / f"refresh-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def run(args: argparse.Namespace, work: Path, processes: list[subprocess.Popen[bytes]]) -> dict[str, object]:
    moto_port, redis_port = free_port(), free_port()
    moto = f"http://127.0.0.1:{moto_port}"
    quiet = subprocess.DEVNULL
    moto_args = [str(Path(PY).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(moto_port)]
    processes.append(subprocess.Popen(moto_args, stdout=quiet, stderr=quiet))
    redis_args = ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    processes.append(subprocess.Popen([*redis_args, "--dir", str(work)], stdout=quiet, stderr=quiet))
    wait_for_port(moto_port)
    wait_for_port(redis_port)
    idp = boto3.client(
        "cognito-idp", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="bench")["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
    db = work / "bench.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_READ_DOTENV": "false",
        "DATABASE_URL": f"sqlite:///{db}",
        "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CELERY_RESULT_BACKEND": "",
        "TOKEN_ENCRYPTION_KEY": KEY,
        "AWS_ENDPOINT_URL": moto,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "COGNITO_REGION": "us-east-1",
        "COGNITO_USER_POOL_ID": pool,
        "COGNITO_APP_CLIENT_ID": client,
        "COGNITO_JWKS_URL": f"{moto}/{pool}/.well-known/jwks.json",
        "TOKEN_REFRESH_BATCH_SIZE": "25",
    }
    print("bench: migrating and seeding", flush=True)
    subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [PY, DRIVER, "seed", str(args.token_sets), "alice", PASSWORD], cwd=ROOT, env=env, check=True, timeout=600
    )
    print("bench: seeded", flush=True)
    results: dict[str, object] = {"token_sets": args.token_sets}
    rates: dict[int, float] = {}
    for workers in (1, 2):
        rates[workers] = refresh_round(env, db, work, workers, args.token_sets)
        results[f"refreshes_per_s_{workers}_worker"] = round(rates[workers], 1)
        print(f"refresh: {workers} worker(s): {rates[workers]:.1f} token sets/s", flush=True)
    results["two_workers_vs_one"] = round(rates[2] / rates[1], 2)
    results.update(sign_out_round(env, idp, pool, args.users, args.rate))
    return results


def refresh_round(env: dict[str, str], db: Path, work: Path, workers: int, count: int) -> float:
    due = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE accounts_tokenset SET expires_at = ?, version = 1", (due,))
    started: list[subprocess.Popen[bytes]] = []
    logs = []
    for index in range(workers):
        log = work / f"worker-{workers}-{index}.log"
        logs.append(log)
        with log.open("wb") as out:
            started.append(
                subprocess.Popen(
                    [
                        PY,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "--pool",
                        "solo",
                        "-n",
                        f"b{workers}{index}@%h",
                        "-l",
                        "INFO",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 120
        while not all("ready." in log.read_text() for log in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in started):
                raise SystemExit("a worker did not start:\n" + "\n".join(log.read_text()[-2000:] for log in logs))
            time.sleep(0.2)
        begin = time.monotonic()
        subprocess.run([PY, DRIVER, "refresh-due"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
        while True:
            with sqlite3.connect(db) as conn:
                done = conn.execute("SELECT count(*) FROM accounts_tokenset WHERE version >= 2").fetchone()[0]
            if done >= count:
                break
            if time.monotonic() - begin > 600:
                raise SystemExit(
                    f"{done}/{count} refreshed after 600 s:\n" + "\n".join(log.read_text()[-3000:] for log in logs)
                )
            time.sleep(0.1)
        return count / (time.monotonic() - begin)
    finally:
        stop_processes(started)


def sign_out_round(env: dict[str, str], idp: object, pool: str, users: int, rate: float) -> dict[str, object]:
    def create(index: int) -> None:
        idp.admin_create_user(UserPoolId=pool, Username=f"user{index:05d}", MessageAction="SUPPRESS")  # type: ignore[attr-defined]

    with ThreadPoolExecutor(8) as threads:
        list(threads.map(create, range(users)))
    configured = rate or float(env.get("COGNITO_SIGN_OUT_RATE") or 25.0)
    command = [PY, "manage.py", "cognito_sign_out_users", "--all", "--rate", str(configured), "--no-progress"]
    begin = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    wall = time.monotonic() - begin
    total = users + 1  # alice too
    reached = total / wall
    print(f"sign-out: {total} users in {wall:.1f} s at {reached:.1f}/s of {configured:g}/s configured", flush=True)
    print(done.stdout.strip().splitlines()[-1], flush=True)
    return {
        "sign_out_users": total,
        "sign_out_wall_s": round(wall, 1),
        "sign_out_rate_configured": configured,
        "sign_out_rate_reached": round(reached, 1),
        "sign_out_vs_configured": round(reached / configured, 2),
    }


if __name__ == "__main__":
    main()
