"""The package README documents every setting (with its default) and every system check id it has."""

from __future__ import annotations

import re
from pathlib import Path

import cognito_backend
from cognito_backend import clients, conf

PACKAGE = Path(cognito_backend.__file__).resolve().parent
README = (PACKAGE / "README.md").read_text()


def test_every_cognito_and_cognito_aws_setting_is_in_the_package_readme() -> None:
    missing = [key for key in [*conf.DEFAULTS, *clients.DEFAULTS] if f"| `{key}` |" not in README]
    assert missing == []


def test_every_system_check_id_is_in_the_package_readme() -> None:
    ids = set(re.findall(r'id="(cognito_backend\.[EW]\d+)"', (PACKAGE / "checks.py").read_text()))
    assert ids
    assert sorted(i for i in ids if f"`{i}`" not in README) == []
