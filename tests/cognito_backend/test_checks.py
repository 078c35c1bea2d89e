"""System checks name contradictory verification settings before the first token is refused."""

from __future__ import annotations

from typing import Any

import pytest

from cognito_backend.checks import check_verification_settings


@pytest.mark.parametrize(
    ("override", "check_id"),
    [
        ({"ALGORITHMS": ["HS256"]}, "cognito_backend.E011"),
        ({"ALGORITHMS": []}, "cognito_backend.E011"),
        ({"TOKEN_USE": ["refresh"]}, "cognito_backend.E012"),
        ({"LINK_BY": "phone"}, "cognito_backend.E013"),
        ({"POOLS": [{"USER_POOL_ID": "nope"}]}, "cognito_backend.E014"),
        ({"LEEWAY": -1}, "cognito_backend.E015"),
        ({"LEEWAY": 3600}, "cognito_backend.W002"),
    ],
)
def test_bad_verification_setting_is_named(settings: Any, override: dict[str, Any], check_id: str) -> None:
    settings.COGNITO = {**settings.COGNITO, **override}
    assert check_id in {message.id for message in check_verification_settings()}


def test_default_verification_settings_pass(settings: Any) -> None:
    assert check_verification_settings() == []
