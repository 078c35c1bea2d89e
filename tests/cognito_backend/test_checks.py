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


# --- the package knows nothing of the site that installs it ------------------------------------------------------


def _all_messages() -> list[Any]:
    from cognito_backend.checks import check_cognito_settings

    return [*check_cognito_settings(), *check_verification_settings()]


def test_hints_name_the_packages_settings_never_a_sites_variable_or_command(settings: Any) -> None:
    import re

    settings.COGNITO = {"REGION": "mars", "USER_POOL_ID": "", "ISSUER": "ftp://x", "IDENTITY_POOL_ID": "x:y"}
    messages = _all_messages()
    assert {"cognito_backend.E001", "cognito_backend.E002", "cognito_backend.E005"} <= {m.id for m in messages}
    for message in messages:
        text = f"{message.msg} {message.hint or ''}"
        assert not re.search(r"COGNITO_[A-Z]", text), text  # an environment variable of this site
        assert "manage.py" not in text and "localaws" not in text and ".env" not in text, text
        assert "COGNITO[" in text, text


def test_the_package_does_not_check_a_token_store_key_it_never_reads(settings: Any) -> None:
    settings.TOKEN_ENCRYPTION_KEY = ""
    assert not any("TOKEN_ENCRYPTION_KEY" in f"{m.msg} {m.hint}" for m in _all_messages())
