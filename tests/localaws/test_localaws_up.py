"""``manage.py localaws up`` starts the Lambda runtime beside moto as real processes; ``down`` stops both."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from localaws import stack
from tests.conftest import free_port
from tests.localaws.conftest import lambda_client


def test_up_starts_the_runtime_writes_its_endpoint_and_the_samples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "STATE_DIR", tmp_path)
    monkeypatch.setattr(stack, "DOTENV", tmp_path / ".env")
    runtime_port = free_port()
    monkeypatch.setenv("LOCALAWS_LAMBDA_RUNTIME_PORT", str(runtime_port))
    moto_port = free_port()
    try:
        call_command("localaws", "up", "--port", str(moto_port), stdout=StringIO())

        env = stack.read_dotenv(tmp_path / ".env")
        assert env["AWS_ENDPOINT_URL_LAMBDA"] == f"http://127.0.0.1:{runtime_port}"
        response = lambda_client(env["AWS_ENDPOINT_URL_LAMBDA"]).invoke(
            FunctionName="ThingLambda", Payload=b'{"action": "GET", "id": "gauge-01"}'
        )
        assert json.loads(response["Payload"].read())["thing"]["type"] == "water_gauge"
        status = StringIO()
        call_command("localaws", "status", "--port", str(moto_port), stdout=status)
        assert "lambda-runtime: running" in status.getvalue()
    finally:
        call_command("localaws", "down", "--port", str(moto_port), stdout=StringIO())
    assert not stack.lambda_runtime_process(f"http://127.0.0.1:{moto_port}", runtime_port).answers()


def test_cognito_local_invokes_its_triggers_on_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "STATE_DIR", tmp_path)
    config_file = tmp_path / "cognito-local" / ".cognito" / "config.json"

    stack.cognito_local_process(
        9999, lambda_endpoint="http://127.0.0.1:5001", triggers={"UserMigration": "MigrateUser"}
    )
    written = json.loads(config_file.read_text())
    stack.cognito_local_process(9999, triggers={})

    assert written["LambdaClient"]["endpoint"] == "http://127.0.0.1:5001"
    assert written["TriggerFunctions"] == {"UserMigration": "MigrateUser"}
    assert written["UserPoolDefaults"] == {"UsernameAttributes": []}
    again = json.loads(config_file.read_text())
    assert again["TriggerFunctions"] == {}
    assert again["LambdaClient"]["endpoint"] == "http://127.0.0.1:5001"  # kept when not given
