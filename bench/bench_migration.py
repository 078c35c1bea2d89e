"""Benchmark: bulk migration of synthetic users into a local moto server at a configured rate.

    .venv/bin/python bench/bench_migration.py                       # 10,000 users at 50/s, baseline 1,000
    .venv/bin/python bench/bench_migration.py --users 2000 --baseline-users 500 --rate 50

Each size runs in a fresh process with its own SQLite database (or ``--database-url``) against one moto server
(a separate process, so it does not share the migration's interpreter lock), and reports:

- achieved AdminCreateUser rate / configured rate (target >= 0.9);
- peak RSS growth during the run for the baseline size and the full size, with their ratio, and the growth from
  the first tenth of the users to the end: streaming keeps both flat however many users there are
  (``--tracemalloc`` adds the traced Python peak, at a cost in speed that makes the rate meaningless);
- that the pool then holds every user exactly once (ListUsers).

Takes about users / rate seconds plus seeding (~220 s for the defaults). Results also go to bench/results/.
Not part of the test suite, and it never fails on a time: it prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._procs import free_port, wait_for_port, write_results  # noqa: E402


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Peak resident memory while the run goes, sampled every 50 ms."""

    def __init__(self) -> None:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- one size, in its own process --------------------------------------------------------------------------------


def child(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_READ_DOTENV": "false",
            "AWS_ENDPOINT_URL": args.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "COGNITO_REGION": "us-east-1",
            "COGNITO_USER_POOL_ID": args.pool_id,
            "COGNITO_APP_CLIENT_ID": args.client_id,
            "DATABASE_URL": args.database_url,
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from cognito_backend import idp_admin
    from migrations_tools.services import Migrator, RunOptions

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    hashed = make_password("Bench-passw0rd")
    staff = Group.objects.get_or_create(name="staff")[0]
    batch = 2000
    for start in range(0, args.users, batch):
        users = user_model.objects.bulk_create(
            [
                user_model(
                    username=f"bench{i:06d}",
                    email=f"bench{i:06d}@example.com",
                    first_name="Bench",
                    last_name=f"User {i}",
                    password=hashed,
                )
                for i in range(start, min(start + batch, args.users))
            ]
        )
        # One user in twenty is in a group, so AdminAddUserToGroup is part of the work.
        staff.user_set.add(*[u for u in users if u.pk % 20 == 0])

    if args.tracemalloc:
        tracemalloc.start()
    tracemalloc.reset_peak()
    traced_before = tracemalloc.get_traced_memory()[0]
    rss_before = rss_bytes()
    tenth: dict[str, int] = {}

    def on_result(result: Any, counts: dict[str, int]) -> None:
        if not tenth and sum(counts.values()) >= max(1, args.users // 10):
            tenth["rss"] = rss_bytes()

    migrator = Migrator(RunOptions(rate=args.rate, workers=args.workers), on_result=on_result)
    with RssSampler() as sampler:
        started = time.monotonic()
        counts = migrator.run()
        elapsed = time.monotonic() - started
    traced_peak = tracemalloc.get_traced_memory()[1] - traced_before
    if args.tracemalloc:
        tracemalloc.stop()
    in_pool = [u["Username"] for u in idp_admin.list_users(pool_id=args.pool_id)]
    created = counts.get("created", 0)
    return {
        "users": args.users,
        "rate": args.rate,
        "workers": args.workers,
        "elapsed_s": round(elapsed, 2),
        "created": created,
        "failed": counts.get("failed", 0),
        "skipped": counts.get("skipped", 0),
        "throttled": migrator.throttles,
        "achieved_rate": round(created / elapsed, 2),
        "ratio": round(created / elapsed / args.rate, 3),
        "traced_peak_mib": round(traced_peak / 2**20, 2),
        "rss_growth_mib": round((sampler.peak - rss_before) / 2**20, 2),
        # From the first tenth of the users to the end: zero when memory does not grow with the users done.
        "rss_growth_after_first_tenth_mib": round((sampler.peak - tenth.get("rss", sampler.peak)) / 2**20, 2),
        "pool_users": len(in_pool),
        "pool_unique": len(set(in_pool)),
    }


# --- the parent: moto, a pool per size, the comparison -----------------------------------------------------------


def run_size(users: int, args: argparse.Namespace, endpoint: str, workdir: Path) -> dict[str, Any]:
    import boto3

    idp = boto3.session.Session().client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    pool_id = idp.create_user_pool(PoolName=f"bench-{users}", AliasAttributes=["email"])["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="bench")["UserPoolClient"]["ClientId"]
    database_url = args.database_url or f"sqlite:///{workdir / f'bench-{users}.sqlite3'}"
    command = [
        sys.executable,
        __file__,
        "--child",
        "--users",
        str(users),
        "--rate",
        str(args.rate),
        "--workers",
        str(args.workers),
        "--endpoint",
        endpoint,
        "--pool-id",
        pool_id,
        "--client-id",
        client_id,
        "--database-url",
        database_url,
        *(["--tracemalloc"] if args.tracemalloc else []),
    ]
    print(f"migrating {users} users at {args.rate:g}/s ...", flush=True)
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        raise SystemExit(f"the {users}-user run failed:\n{output.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--baseline-users", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file per size")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python allocations (precise peak, but slows the run ~3x: the rate is then not meaningful)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--pool-id", help=argparse.SUPPRESS)
    parser.add_argument("--client-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as tmp:
            baseline = run_size(args.baseline_users, args, endpoint, Path(tmp))
            full = run_size(args.users, args, endpoint, Path(tmp))
    finally:
        moto.terminate()
        moto.wait(timeout=20)

    for result in (baseline, full):
        print(
            f"{result['users']:>6} users: {result['elapsed_s']:.1f} s, created {result['created']}, "
            f"failed {result['failed']}, throttled {result['throttled']}; "
            f"achieved {result['achieved_rate']:.2f}/s of {result['rate']:g}/s = {result['ratio']:.3f}; "
            f"peak RSS growth {result['rss_growth_mib']:.2f} MiB (after the first tenth "
            f"{result['rss_growth_after_first_tenth_mib']:.2f} MiB), peak traced {result['traced_peak_mib']:.2f} MiB; "
            f"pool holds {result['pool_users']} ({result['pool_unique']} unique)"
        )
    key = "traced_peak_mib" if args.tracemalloc else "rss_growth_mib"
    memory_ratio = full[key] / max(baseline[key], 1e-9)
    print(
        f"achieved/configured rate at {full['users']} users: {full['ratio']:.3f} (target >= 0.9: "
        f"{'met' if full['ratio'] >= 0.9 else 'NOT met'})"
    )
    print(
        f"peak memory ({key}) {full['users']} vs {baseline['users']} users: {memory_ratio:.2f}x "
        f"for {full['users'] / baseline['users']:.0f}x the users (flat means streaming)"
    )
    write_results("migration", {"baseline": baseline, "full": full, "memory_ratio": round(memory_ratio, 3)})


if __name__ == "__main__":
    main()
