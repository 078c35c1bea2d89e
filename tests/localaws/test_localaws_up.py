"""The Lambda runtime as ``manage.py localaws up`` starts it (a real process) and cognito-local's config for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localaws import stack
from tests.conftest import free_port
from tests.localaws.conftest import lambda_client


def test_the_runtime_process_up_starts_serves_the_samples_and_stops(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process `localaws up` starts beside moto (here the suite's moto server: starting a second one costs
    # seconds), provisioned through as `up` does; `down` stops it the same way.
    monkeypatch.setattr(stack, "STATE_DIR", tmp_path)
    process = stack.lambda_runtime_process(aws, free_port())
    assert process.start() is True
    try:
        result = stack.provision(aws, lambda_endpoint=process.url)

        assert result.env()["AWS_ENDPOINT_URL_LAMBDA"] == process.url
        response = lambda_client(process.url).invoke(
            FunctionName="ThingLambda", Payload=b'{"action": "GET", "id": "gauge-01"}'
        )
        assert json.loads(response["Payload"].read())["thing"]["type"] == "water_gauge"
        assert (tmp_path / "lambda-runtime" / "code").is_dir()
    finally:
        assert process.stop() is True
    assert not process.answers()


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


# once: no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
