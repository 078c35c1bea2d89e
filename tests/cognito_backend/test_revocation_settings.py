"""The settings contract of revocation: environment variables of config/settings.py and the deploy check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from django.core.checks import run_checks

from tests.conftest import ROOT

READ = (
    "import json, config.settings as s;"
    "db = s.DATABASES['default'];"
    "print(json.dumps({'online': s.COGNITO.get('ONLINE_CHECK'), 'interval': s.COGNITO.get('ONLINE_CHECK_INTERVAL'),"
    " 'memo': s.COGNITO.get('REVOCATION_MEMO_SECONDS'), 'conn_max_age': db.get('CONN_MAX_AGE'),"
    " 'health': db.get('CONN_HEALTH_CHECKS'), 'cache_options': s.CACHES['default'].get('OPTIONS'),"
    " 'errors': s.SETTINGS_ERRORS}))"
)


def read_settings(**environ: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNITO_", "DATABASE_", "CACHE_URL"))}
    env.update({"DJANGO_READ_DOTENV": "false", **environ})
    out = subprocess.run([sys.executable, "-c", READ], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_online_check_is_off_by_default_and_connections_persist() -> None:
    values = read_settings()
    assert values["online"] is False
    assert values["interval"] == 60
    assert values["memo"] == 5
    assert values["conn_max_age"] == 60
    assert values["health"] is True


def test_online_check_and_its_interval_come_from_the_environment() -> None:
    values = read_settings(
        COGNITO_ONLINE_CHECK="true",
        COGNITO_ONLINE_CHECK_INTERVAL="15",
        COGNITO_REVOCATION_MEMO_SECONDS="2",
        DATABASE_CONN_MAX_AGE="0",
        DATABASE_CONN_HEALTH_CHECKS="false",
    )
    assert (values["online"], values["interval"], values["memo"]) == (True, 15, 2)
    assert (values["conn_max_age"], values["health"]) == (0, False)
    assert values["errors"] == []


def test_a_malformed_online_check_flag_is_reported() -> None:
    values = read_settings(COGNITO_ONLINE_CHECK="sometimes")
    assert values["online"] is False
    assert [name for name, _ in values["errors"]] == ["COGNITO_ONLINE_CHECK"]


def test_redis_cache_calls_are_bounded_by_socket_timeouts() -> None:
    values = read_settings(CACHE_URL="redis://127.0.0.1:6379/1?socket_timeout=0.5")
    assert values["cache_options"] == {"socket_connect_timeout": 1.0, "socket_timeout": 0.5}


LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SHARED = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/tmp/x"}}


@pytest.mark.parametrize(
    ("debug", "caches", "warned"), [(False, LOCMEM, True), (True, LOCMEM, False), (False, SHARED, False)]
)
def test_deploy_check_warns_about_a_per_process_cache_in_production(
    settings: Any, tmp_path: Any, debug: bool, caches: dict[str, Any], warned: bool
) -> None:
    settings.DEBUG = debug
    if caches is SHARED:
        caches = {"default": {**SHARED["default"], "LOCATION": str(tmp_path)}}
    settings.CACHES = caches
    ids = {message.id for message in run_checks(include_deployment_checks=True)}
    assert ("cognito_backend.W003" in ids) is warned
