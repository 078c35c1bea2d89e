"""accounts reads its own ``ACCOUNTS`` setting (not keys of ``COGNITO``); the environment variable names that fill
it are unchanged (they are contracts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({"accounts": settings.ACCOUNTS, "proxies": settings.TRUSTED_PROXIES,
                  "cognito_keys": sorted(settings.COGNITO)}))
"""


def _settings_from(env: dict[str, str]) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("COGNITO_", "DJANGO_", "AWS_", "DATABASE_"))}
    base.update({"DJANGO_READ_DOTENV": "false", "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)})
    base.update(env)
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_environment_fills_the_accounts_setting_under_the_same_variable_names() -> None:
    loaded = _settings_from(
        {
            "COGNITO_AUTH_FLOW": "USER_SRP_AUTH",
            "COGNITO_DELETE_LOCAL_USER": "delete",
            "COGNITO_TOTP_ISSUER": "Example",
            "COGNITO_THROTTLE_RATES": "sign_in=1/min,sign_in_username=2/min",
            "COGNITO_REAUTH_MAX_AGE": "60",
            "DJANGO_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.1",
        }
    )
    accounts = loaded["accounts"]
    assert accounts["AUTH_FLOW"] == "USER_SRP_AUTH"
    assert accounts["DELETE_LOCAL_USER"] == "delete"
    assert accounts["TOTP_ISSUER"] == "Example"
    assert accounts["THROTTLE_RATES"] == {"sign_in": "1/min", "sign_in_username": "2/min"}
    assert accounts["REAUTH_MAX_AGE"] == 60
    assert loaded["proxies"] == ["10.0.0.0/8", "192.0.2.1"]
    assert not {"AUTH_FLOW", "DELETE_LOCAL_USER", "TOTP_ISSUER", "THROTTLE_RATES"} & set(loaded["cognito_keys"])


def test_no_proxy_is_trusted_by_default() -> None:
    assert _settings_from({})["proxies"] == []


def test_accounts_reads_accounts_not_cognito(settings: Any) -> None:
    from accounts import conf

    settings.COGNITO = {**settings.COGNITO, "AUTH_FLOW": "USER_SRP_AUTH", "THROTTLE_RATES": {"sign_in": "1/min"}}
    assert conf.auth_flow() == "USER_PASSWORD_AUTH"
    assert conf.throttle_rate("sign_in") == conf.DEFAULT_THROTTLE_RATES["sign_in"]
    settings.ACCOUNTS = {**settings.ACCOUNTS, "AUTH_FLOW": "USER_SRP_AUTH", "THROTTLE_RATES": {"sign_in": "1/min"}}
    assert conf.auth_flow() == "USER_SRP_AUTH"
    assert conf.throttle_rate("sign_in") == "1/min"


def test_a_malformed_trusted_proxy_is_named_by_a_system_check(settings: Any) -> None:
    from django.core import checks

    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "10.0.0.300", "proxy.example"]
    errors = [e for e in checks.run_checks() if e.id == "accounts.E001"]
    assert len(errors) == 2
    assert "10.0.0.300" in errors[0].msg
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]
    assert not [e for e in checks.run_checks() if e.id == "accounts.E001"]
