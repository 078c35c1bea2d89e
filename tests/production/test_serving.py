"""Serving in production: ``check --deploy`` clean, gunicorn's configuration, WhiteNoise's static files, HTTPS,
and the Procfile and Dockerfile."""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import requests

from tests.conftest import ROOT

from .conftest import Site, https, procfile, production_env

PRODUCTION = {
    "DATABASE_URL": "postgres://site:unused@127.0.0.1:1/site",  # check --deploy does not connect
    "CACHE_URL": "redis://127.0.0.1:1/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/2",
}

pytestmark = pytest.mark.production  # once per suite: its processes use databases of their own


def check_deploy(**extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(**{**PRODUCTION, **extra}),
        capture_output=True,
        text=True,
    )


def test_check_deploy_is_clean_with_the_production_settings() -> None:
    done = check_deploy()
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_names_what_is_not_ready_for_production() -> None:
    """Plain HTTP, a malformed proxy header, SQLite, the filesystem broker, the per-process cache."""
    done = check_deploy(
        DJANGO_HTTPS="false",
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        DATABASE_URL="sqlite:////tmp/unused.sqlite3",
        CELERY_BROKER_URL="filesystem://",
        CACHE_URL="locmemcache://",
    )
    assert done.returncode != 0
    problems = ["security.W004", "security.W008", "security.W012", "security.W016", "config.W010", "config.W011"]
    problems += ["cognito_backend.W003", "DJANGO_SECURE_PROXY_SSL_HEADER"]
    for problem in problems:
        assert problem in done.stderr


@pytest.mark.django_db
def test_the_openapi_schema_describes_api_auth_me(client: Any) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    answer = schema["paths"]["/api/auth/me/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    me = schema["components"]["schemas"][answer["$ref"].rsplit("/", 1)[-1]]
    assert {"username", "sub", "groups", "token_use"} <= set(me["properties"])
    assert "cookieAuth" in schema["components"]["securitySchemes"]


def gunicorn_config(**env: str) -> dict[str, Any]:
    saved = dict(os.environ)
    for name in ("WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GUNICORN_GRACEFUL_TIMEOUT", "GUNICORN_THREADS"):
        os.environ.pop(name, None)
    os.environ.update(env)
    try:
        return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_gunicorn_waits_longer_than_the_longest_lambda_invocation_the_dashboard_allows() -> None:
    from django.core.validators import MaxValueValidator

    from dashboard.conf import dashboard_settings
    from dashboard.models import LambdaFunction

    ceiling = max(
        int(v.limit_value)
        for v in LambdaFunction._meta.get_field("timeout").validators
        if isinstance(v, MaxValueValidator)
    )
    longest_request = ceiling + float(dashboard_settings.READ_TIMEOUT_MARGIN)
    config = gunicorn_config()
    assert config["LAMBDA_TIMEOUT_CEILING"] == ceiling
    assert config["timeout"] > longest_request
    assert config["graceful_timeout"] >= config["timeout"]  # a graceful restart lets such a request finish


def test_gunicorn_workers_follow_the_cpu_count_unless_set() -> None:
    assert gunicorn_config()["workers"] == (os.cpu_count() or 1) * 2 + 1
    assert gunicorn_config(WEB_CONCURRENCY="3")["workers"] == 3


def test_static_files_are_served_with_hashed_names_compressed_and_cached_for_good(site: Site) -> None:
    manifest = json.loads((site.static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["admin/css/base.css"]
    assert re.fullmatch(r"admin/css/base\.[0-9a-f]{12}\.css", hashed)
    assert (site.static_root / f"{hashed}.gz").exists()
    static = requests.get(f"{site.url}/static/{hashed}", headers=https(**{"Accept-Encoding": "gzip"}), timeout=30)
    assert static.status_code == 200
    assert static.headers["Content-Encoding"] == "gzip"
    assert "immutable" in static.headers["Cache-Control"]


def test_plain_http_is_redirected_to_https_except_the_health_check(site: Site) -> None:
    plain = requests.get(f"{site.url}/accounts/sign-in/", allow_redirects=False, timeout=30)
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")
    health = requests.get(f"{site.url}/healthz", allow_redirects=False, timeout=30)
    assert health.status_code in {200, 503}  # answered (the broker is down here), not redirected


def test_https_answers_carry_hsts_and_secure_cookies(site: Site) -> None:
    answer = requests.get(f"{site.url}/accounts/sign-in/", headers=https(), timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookies = answer.raw.headers.getlist("Set-Cookie")
    assert cookies
    assert all("Secure" in cookie for cookie in cookies)


def test_a_graceful_restart_answers_every_request_sent_meanwhile(site: Site) -> None:
    """SIGHUP: new workers start, the old ones finish what they accepted; a client sending all along sees no error."""
    before = len(site.log_lines())
    outcomes: list[int | str] = []
    stop_sending = threading.Event()

    def send() -> None:
        while not stop_sending.is_set():
            try:
                outcomes.append(requests.get(f"{site.url}/accounts/sign-in/", headers=https(), timeout=60).status_code)
            except requests.RequestException as error:
                outcomes.append(type(error).__name__)

    def new_workers() -> int:
        return sum("Booting worker" in line["message"] for line in site.log_lines()[before:])

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while len(outcomes) < 3:
            time.sleep(0.05)
        site.process.send_signal(signal.SIGHUP)
        site.wait_for_log(lambda _: new_workers() >= 2, timeout=60)
        sent = len(outcomes)
        while len(outcomes) < sent + 3:  # and a few more answered by the new workers
            time.sleep(0.05)
    finally:
        stop_sending.set()
        sender.join()
    assert set(outcomes) == {200}, outcomes
    assert new_workers() >= 2  # the old workers were replaced; the master (and its socket) stayed
    assert any("Handling signal: hup" in line["message"] for line in site.log_lines()[before:])
    assert site.process.poll() is None


def test_the_procfile_runs_web_worker_beat_and_migrates_on_release() -> None:
    entries = procfile()
    assert set(entries) == {"web", "worker", "beat", "release"}
    assert entries["release"].split()[-3:-1] == ["manage.py", "migrate"] or "manage.py migrate" in entries["release"]
    assert "-c deploy/gunicorn.conf.py config.wsgi" in entries["web"]
    assert entries["worker"].startswith("celery -A config worker")
    assert entries["beat"].startswith("celery -A config beat")


def test_the_image_is_slim_runs_as_a_user_and_collects_static_files() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert base and re.fullmatch(r"python:[\d.]+-slim(-\w+)?", base.group(1))
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "collectstatic" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "db.sqlite3", ".git"} <= set(ignored)
