"""System checks name a bad migration setting before a run starts."""

from __future__ import annotations

from typing import Any

import pytest

from migrations_tools.checks import check_migration_settings


def ids(settings: Any, **values: Any) -> list[str]:
    settings.COGNITO_MIGRATION = values
    return [m.id for m in check_migration_settings() if m.id]


def test_defaults_pass(settings: Any) -> None:
    assert ids(settings) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"RATE": 0}, "migrations_tools.E001"),
        ({"READ_RATE": -1}, "migrations_tools.E001"),
        ({"RATE": 60}, "migrations_tools.W001"),
        ({"WORKERS": 0}, "migrations_tools.E002"),
        ({"TRIGGER_SECRET": "short"}, "migrations_tools.W002"),
        ({"LAZY_MAX_FAILURES": 0}, "migrations_tools.E003"),
        ({"LAZY_MAX_FAILURES_PER_USER": "50"}, "migrations_tools.E003"),
        ({"LAZY_FAILURE_WINDOW": True}, "migrations_tools.E003"),
        ({"MARKER_GROUP": None}, "migrations_tools.E004"),
    ],
)
def test_bad_settings_are_named(settings: Any, values: dict[str, Any], expected: str) -> None:
    assert ids(settings, **values) == [expected]
