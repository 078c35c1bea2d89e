"""``manage.py check`` names missing and malformed settings instead of failing with a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT

VALID = {
    "COGNITO_REGION": "us-east-1",
    "COGNITO_USER_POOL_ID": "us-east-1_Abc123",
    "COGNITO_APP_CLIENT_ID": "client123",
    "TOKEN_ENCRYPTION_KEY": "tL0cQZbQm5N8yqC3bGzJxq2n6x0c7hW3lJ0nq3y8V2c=",
}


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("COGNITO_", "DJANGO_", "AWS_", "DATABASE_"))}
    base.update({"DJANGO_READ_DOTENV": "false", "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)})
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_check_on_empty_environment_names_the_missing_settings() -> None:
    result = run_check({})
    assert result.returncode != 0
    # The package names its own settings; the site's check names the site's variable.
    for name in ("COGNITO['USER_POOL_ID']", "COGNITO['APP_CLIENT_ID']", "(config.E004) TOKEN_ENCRYPTION_KEY"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_check_passes_with_complete_settings() -> None:
    result = run_check(VALID)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL"),
        ({"COGNITO_USER_POOL_ID": "not-a-pool"}, "COGNITO['USER_POOL_ID']"),
        ({"COGNITO_USER_POOL_ID": "eu-west-1_Abc123"}, "COGNITO['REGION']"),
        ({"COGNITO_REGION": "mars"}, "COGNITO['REGION']"),
        ({"COGNITO_JWKS_URL": "not a url"}, "COGNITO['JWKS_URL']"),
        ({"COGNITO_ISSUER": "ftp://issuer"}, "COGNITO['ISSUER']"),
        ({"COGNITO_IDENTITY_POOL_ID": "eu-west-1:abc"}, "COGNITO['IDENTITY_POOL_ID']"),
        ({"TOKEN_ENCRYPTION_KEY": "short"}, "config.E005"),
        ({"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"AWS_READ_TIMEOUT": "soon"}, "AWS_READ_TIMEOUT"),
    ],
)
def test_malformed_setting_is_named_by_a_system_check(override: dict[str, str], named: str) -> None:
    result = run_check({**VALID, **override})
    assert result.returncode != 0
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_the_site_checks_its_token_store_key() -> None:
    # Moved here from cognito_backend, which never reads the key.
    from django.test import override_settings

    from config.checks import check_token_encryption_key

    with override_settings(TOKEN_ENCRYPTION_KEY=""):
        assert [m.id for m in check_token_encryption_key()] == ["config.E004"]
    with override_settings(TOKEN_ENCRYPTION_KEY="short"):
        assert [m.id for m in check_token_encryption_key()] == ["config.E005"]
    key, older = "tL0cQZbQm5N8yqC3bGzJxq2n6x0c7hW3lJ0nq3y8V2c=", "uM1dRAcRn6O9zrD4cHaKyr3o7y1d8iX4mK1or4z9W3d="
    with override_settings(TOKEN_ENCRYPTION_KEY=key):
        assert check_token_encryption_key() == []
    with override_settings(TOKEN_ENCRYPTION_KEY=f"{key},{older}"):  # rotating: newest first (accounts' token store)
        assert check_token_encryption_key() == []
    with override_settings(TOKEN_ENCRYPTION_KEY=f"{key},short"):
        assert [m.id for m in check_token_encryption_key()] == ["config.E005"]
    with override_settings(TOKEN_ENCRYPTION_KEY=f"{key},{older}", SECRET_KEY=older):
        assert [m.id for m in check_token_encryption_key()] == ["config.E006"]


def test_every_apps_settings_share_one_base_class(settings: Any) -> None:
    from accounts.conf import AccountsSettings
    from cognito_backend.conf import AppSettings, CognitoSettings, cognito_settings
    from dashboard.conf import DashboardSettings, dashboard_settings
    from migrations_tools.conf import MigrationSettings

    for cls in (CognitoSettings, DashboardSettings, MigrationSettings, AccountsSettings):
        assert issubclass(cls, AppSettings)
        assert "__getattr__" not in vars(cls)  # no copy of the lookup
    settings.DASHBOARD = {"RETRY_AFTER": 42}
    assert dashboard_settings.RETRY_AFTER == 42  # reloaded on setting_changed
    settings.COGNITO = {**settings.COGNITO, "LEEWAY": 7}
    assert cognito_settings.LEEWAY == 7
    with pytest.raises(AttributeError):
        _ = cognito_settings.NOT_A_SETTING
