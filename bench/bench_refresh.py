"""Proactive refresh and mass sign-out on the local AWS (a moto server process, a real redis-server, SQLite).

1. Refresh: ``--token-sets`` stored token sets (default 1,000) made due, fanned out by what beat runs
   (``accounts.refresh_due_token_sets``) and refreshed by 1, then 2 Celery worker processes; prints refreshes per
   second of each and the ratio (target: 2 workers >= 1.7x one on two cores).
2. Sign-out: ``--users`` pool users (default 10,000) signed out by ``manage.py cognito_sign_out_users --all`` at
   ``--rate`` (default the site's ``SIGN_OUT_RATE``); prints the wall time and the rate reached against the
   configured one (target >= 0.9x).

    .venv/bin/python bench/bench_refresh.py [--token-sets 1000] [--users 10000] [--rate 25]
        [--skip-refresh] [--skip-sign-out]

Where the refresh's time goes: the CPU seconds each process spent in a round (from /proc: the moto server, each
worker, redis, this harness) per refresh and as cores busy. moto's server is one Python process (its threads share
one GIL), so it can never use more than one core: with ``moto_cpu_ms`` per refresh it caps the rate at
``1000 / moto_cpu_ms`` refreshes/s whatever the workers do; ``two_workers_ceiling_vs_one`` is what two workers
could reach against one given the CPU each side needs per refresh on two cores. The stand-in's own scaling is
measured in the same run without any of our code: REFRESH_TOKEN_AUTH called straight with boto3 from 1, then 2
client processes (``stand_in_two_vs_one``); our workers cannot scale better than the server they call.

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
from bench._procs import free_port, stop_processes, wait_for_port, write_results

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
    parser.add_argument("--skip-refresh", action="store_true")
    parser.add_argument("--skip-sign-out", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="run the workers under cProfile and say where their wall time went"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-refresh-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        results = run(args, work, processes)
    finally:
        stop_processes(processes)
        shutil.rmtree(work, ignore_errors=True)
    write_results("refresh", results)
    print(json.dumps(results, indent=2))


def run(args: argparse.Namespace, work: Path, processes: list[subprocess.Popen[bytes]]) -> dict[str, object]:
    moto_port, redis_port = free_port(), free_port()
    moto = f"http://127.0.0.1:{moto_port}"
    quiet = subprocess.DEVNULL
    moto_args = [str(Path(PY).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(moto_port)]
    moto_process = subprocess.Popen(moto_args, stdout=quiet, stderr=quiet)
    processes.append(moto_process)
    redis_args = ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    redis_process = subprocess.Popen([*redis_args, "--dir", str(work)], stdout=quiet, stderr=quiet)
    processes.append(redis_process)
    watched = {"moto": moto_process.pid, "redis": redis_process.pid}
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
    print("bench: migrating", flush=True)
    subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    results: dict[str, object] = {"cpus": os.cpu_count(), "load_before": round(os.getloadavg()[0], 2)}
    if not args.skip_refresh:
        seed = [PY, DRIVER, "seed", str(args.token_sets), "alice", PASSWORD]
        subprocess.run(seed, cwd=ROOT, env=env, check=True, timeout=900, stdout=subprocess.DEVNULL)
        print("bench: seeded", flush=True)
        results["token_sets"] = args.token_sets
        rounds = {
            workers: refresh_round(env, db, work, workers, args.token_sets, watched, profile=args.profile)
            for workers in (1, 2)
        }
        for workers, figures in rounds.items():
            for name, value in figures.items():
                results[f"{name}_{workers}_worker"] = value
            print(f"refresh: {workers} worker(s): {json.dumps(figures)}", flush=True)
        raw = {clients: stand_in_round(moto, pool, client, clients, args.token_sets) for clients in (1, 2)}
        for clients, rate in raw.items():
            results[f"stand_in_refreshes_per_s_{clients}_client"] = rate
            print(f"stand-in alone: {clients} client process(es): {rate:.1f} refreshes/s", flush=True)
        results["stand_in_two_vs_one"] = round(raw[2] / raw[1], 2)
        one, two = rounds[1], rounds[2]
        results["two_workers_vs_one"] = round(float(two["refreshes_per_s"]) / float(one["refreshes_per_s"]), 2)
        # What two workers could reach against one on two cores, given the CPU each refresh needs from the worker
        # side (worker) and from moto (one GIL: at most one core), measured in the one-worker round.
        worker_ms, moto_ms = float(one["worker_cpu_ms"]), float(one["moto_cpu_ms"])
        ceiling = min(2000.0 / (worker_ms + moto_ms), 1000.0 / moto_ms) if moto_ms else 0.0
        results["two_workers_ceiling_per_s"] = round(ceiling, 1)
        results["two_workers_ceiling_vs_one"] = round(ceiling / float(one["refreshes_per_s"]), 2)
    if not args.skip_sign_out:
        results.update(sign_out_round(env, idp, pool, args.users, args.rate, watched))
    results["load_after"] = round(os.getloadavg()[0], 2)
    return results


def _raw_refreshes(job: tuple[str, str, str, int]) -> int:
    """One client process: ``count`` REFRESH_TOKEN_AUTH calls straight to the stand-in (none of our code)."""
    moto, client_id, refresh_token, count = job
    idp = boto3.client(
        "cognito-idp", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    parameters = {"REFRESH_TOKEN": refresh_token}
    for _ in range(count):
        idp.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=parameters)
    return count


def stand_in_round(moto: str, pool: str, client_id: str, clients: int, count: int) -> float:
    """Refreshes per second the stand-in serves to ``clients`` processes calling it back to back."""
    from multiprocessing import get_context

    idp = boto3.client(
        "cognito-idp", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    answer = idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD}
    )
    token = answer["AuthenticationResult"]["RefreshToken"]
    with get_context("spawn").Pool(clients) as processes:
        processes.map(_raw_refreshes, [(moto, client_id, token, 5)] * clients)  # warm: imports, connections
        begin = time.monotonic()
        done = sum(processes.map(_raw_refreshes, [(moto, client_id, token, count // clients)] * clients))
        return round(done / (time.monotonic() - begin), 1)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (``/proc/PID/stat``), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def refresh_round(
    env: dict[str, str],
    db: Path,
    work: Path,
    workers: int,
    count: int,
    watched: dict[str, int],
    *,
    profile: bool = False,
) -> dict[str, float | str]:
    """One round: ``count`` due token sets refreshed by ``workers`` solo workers; the rate and where the CPU went."""
    due = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE accounts_tokenset SET expires_at = ?, version = 1", (due,))
    started: list[subprocess.Popen[bytes]] = []
    logs = []
    profiles = [work / f"worker-{workers}-{index}.prof" for index in range(workers)]
    for index in range(workers):
        log = work / f"worker-{workers}-{index}.log"
        logs.append(log)
        profiler = [PY, "-m", "cProfile", "-o", str(profiles[index])] if profile else [PY]
        with log.open("wb") as out:
            started.append(
                subprocess.Popen(
                    [
                        *profiler,
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
        pids = {**watched, **{f"worker{i}": p.pid for i, p in enumerate(started)}}
        cpu_before, harness_before = cpu_of(pids), time.process_time()
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
        wall = time.monotonic() - begin
        cpu_after, harness = cpu_of(pids), time.process_time() - harness_before
        spent = {name: cpu_after[name] - cpu_before[name] for name in pids}
        worker_cpu = sum(value for name, value in spent.items() if name.startswith("worker"))
        figures: dict[str, float | str] = {
            "refreshes_per_s": round(count / wall, 1),
            "wall_s": round(wall, 2),
            "worker_cpu_ms": round(1000 * worker_cpu / count, 2),  # per refresh, all workers together
            "moto_cpu_ms": round(1000 * spent["moto"] / count, 2),
            "redis_cpu_ms": round(1000 * spent["redis"] / count, 3),
            "harness_cpu_ms": round(1000 * harness / count, 3),
            "workers_cores_busy": round(worker_cpu / wall, 2),
            "moto_cores_busy": round(spent["moto"] / wall, 2),  # 1.0 is all moto can ever use
            "machine_load": round(os.getloadavg()[0], 2),
        }
    finally:
        stop_processes(started)
    # How the batches were shared out: a worker that took none added nothing.
    figures["batches_per_worker"] = "/".join(
        str(log.read_text().count("accounts.refresh_token_sets[") // 2) for log in logs
    )
    if profile:
        figures.update(where_the_time_went([p for p in profiles if p.exists()], count))
    return figures


# Where a worker's wall time goes, by the functions that hold it (cumulative seconds, summed over the workers).
PROFILE_BUCKETS = {
    "task_ms": ("tasks.py", "refresh_token_sets"),
    "cognito_call_ms": ("token_store.py", "_ask_cognito"),  # the HTTP round trip to moto, botocore included
    "lease_ms": ("token_store.py", "token_set_lock"),  # taking the lease (waits included)
    "verify_ms": ("token_store.py", "_expiry"),  # verifying the new tokens
    "encrypt_ms": ("token_store.py", "_encrypt"),
    "sqlite_ms": ("~", "<method 'execute' of 'sqlite3.Cursor' objects>"),  # every query, lock waits included
    "sleep_ms": ("~", "<built-in method time.sleep>"),
}


def where_the_time_went(profiles: list[Path], count: int) -> dict[str, float]:
    import pstats

    if not profiles:
        return {}
    stats = pstats.Stats(*[str(p) for p in profiles])
    found = dict.fromkeys(PROFILE_BUCKETS, 0.0)
    for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for bucket, (suffix, wanted) in PROFILE_BUCKETS.items():
            if name == wanted and filename.endswith(suffix):
                found[bucket] += cumulative
    return {f"profile_{bucket}": round(1000 * value / count, 2) for bucket, value in found.items()}


def sign_out_round(
    env: dict[str, str], idp: object, pool: str, users: int, rate: float, watched: dict[str, int]
) -> dict[str, object]:
    """``users`` pool users signed out by the incident command at the configured rate (``COGNITO_SIGN_OUT_RATE``,
    set from ``--rate`` when given): the wall time, the rate reached against the configured one, moto's CPU."""

    def create(index: int) -> None:
        idp.admin_create_user(UserPoolId=pool, Username=f"user{index:05d}", MessageAction="SUPPRESS")  # type: ignore[attr-defined]

    made = time.monotonic()
    with ThreadPoolExecutor(8) as threads:
        list(threads.map(create, range(users)))
    print(f"sign-out: {users} users created in {time.monotonic() - made:.1f} s", flush=True)
    configured = rate or float(env.get("COGNITO_SIGN_OUT_RATE") or 25.0)
    run_env = {**env, "COGNITO_SIGN_OUT_RATE": str(configured)}  # the configured rate, not a flag
    command = [PY, "manage.py", "cognito_sign_out_users", "--all", "--no-progress"]
    moto_before = cpu_seconds(watched["moto"])
    begin = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=run_env, check=True, capture_output=True, text=True)
    wall = time.monotonic() - begin
    moto_cpu = cpu_seconds(watched["moto"]) - moto_before
    total = users + 1  # alice too
    reached = total / wall
    print(f"sign-out: {total} users in {wall:.1f} s at {reached:.1f}/s of {configured:g}/s configured", flush=True)
    report = done.stdout.strip().splitlines()[-1]
    print(report, flush=True)
    return {
        "sign_out_users": total,
        "sign_out_wall_s": round(wall, 1),
        "sign_out_rate_configured": configured,
        "sign_out_rate_reached": round(reached, 1),
        "sign_out_vs_configured": round(reached / configured, 2),
        "sign_out_moto_cores_busy": round(moto_cpu / wall, 2),
        "sign_out_report": report,
    }


if __name__ == "__main__":
    main()
