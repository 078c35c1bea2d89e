"""A migration killed with SIGKILL half way and started again: every user once in the pool, none missed.

The command runs as a real separate process (``manage.py cognito_migrate_users``) against the moto server and
its own database of the same engine as the suite's (a fresh SQLite file, or a fresh database on the suite's
PostgreSQL server), so the kill leaves exactly what a crashed production run would leave.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cognito_backend import idp_admin
from tests.conftest import ROOT, UserPool
from tests.migrations_tools.conftest import pool_usernames, run, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

USERS = 60

SEED = """
import django, sys
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
User = get_user_model()
hashed = make_password("Old-passw0rd")
User.objects.bulk_create(
    [User(username=f"user{i:03d}", email=f"user{i:03d}@example.com", password=hashed) for i in range(int(sys.argv[1]))]
)
"""

DUMP_LINKS = """
import django, json
django.setup()
from cognito_backend.models import CognitoIdentity
print(json.dumps({i.user.username: i.sub for i in CognitoIdentity.objects.select_related("user")}))
"""


def test_run_killed_half_way_and_started_again_migrates_everyone_exactly_once(
    migration_pool: UserPool, separate_database: str, tmp_path: Path
) -> None:
    env = subprocess_env(migration_pool, separate_database)
    run(env, "manage.py", "migrate", "--no-input", "-v", "0")
    run(env, "-c", SEED, str(USERS))
    report = tmp_path / "first.csv"

    process = subprocess.Popen(
        [sys.executable, "manage.py", "cognito_migrate_users", "--rate", "15", "--report", str(report)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while len(pool_usernames(migration_pool)) < USERS // 4:
            assert process.poll() is None, "the run finished before it could be killed"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    created_before_kill = len(pool_usernames(migration_pool))
    assert USERS // 4 <= created_before_kill < USERS
    status = json.loads(run(env, "manage.py", "cognito_migration_status", "--json"))
    assert status["runs"][0]["status"] == "interrupted (process gone)"
    assert status["users"]["done"] < USERS

    output = run(env, "manage.py", "cognito_migrate_users", "--rate", "40", "--report", str(tmp_path / "second.csv"))

    assert "Finished" in output
    in_pool = pool_usernames(migration_pool)
    assert len(in_pool) == len(set(in_pool)) == USERS
    assert sorted(in_pool) == [f"user{i:03d}" for i in range(USERS)]
    status = json.loads(run(env, "manage.py", "cognito_migration_status", "--json"))
    assert status["users"]["done"] == USERS, (tmp_path / "second.csv").read_text()
    assert status["users"]["linked"] == USERS
    assert status["users"]["failed"] == status["users"]["pending"] == 0
    links = json.loads(run(env, "-c", DUMP_LINKS))
    subs = {
        u["Username"]: idp_admin.attributes_to_dict(u["Attributes"])["sub"]
        for u in idp_admin.list_users(pool_id=migration_pool.pool_id)
    }
    assert links == subs


def test_sigterm_stops_the_run_cleanly_marked_interrupted_and_it_resumes(
    migration_pool: UserPool, separate_database: str, tmp_path: Path
) -> None:
    env = subprocess_env(migration_pool, separate_database)
    run(env, "manage.py", "migrate", "--no-input", "-v", "0")
    run(env, "-c", SEED, "40")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "cognito_migrate_users", "--rate", "10", "--report", str(tmp_path / "a.csv")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while len(pool_usernames(migration_pool)) < 5:
            assert process.poll() is None, "the run finished before it could be stopped"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    assert "Interrupted" in stdout
    assert "run the command again" in stderr
    status = json.loads(run(env, "manage.py", "cognito_migration_status", "--json"))
    assert status["runs"][0]["status"] == "interrupted"
    assert status["users"]["pending"] == 0  # in-flight users were finished, not abandoned

    run(env, "manage.py", "cognito_migrate_users", "--rate", "40", "--report", str(tmp_path / "b.csv"))

    assert sorted(pool_usernames(migration_pool)) == [f"user{i:03d}" for i in range(40)]
