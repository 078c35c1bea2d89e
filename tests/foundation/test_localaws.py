"""The local AWS: provisioning is idempotent, a taken port is reported, ``.env`` is merged not clobbered."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cognito_backend.clients import get_client
from localaws import stack


def test_provision_creates_pool_client_groups_identity_pool_functions_and_demo_user(aws: str) -> None:
    result = stack.provision(aws)
    assert set(result.functions) == {"AuthLambda", "ThingLambda", "ObservationLambda"}
    idp = get_client("cognito-idp")
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=result.user_pool_id)["Groups"]}
    assert groups == {"admins", "staff", "users"}
    pool = idp.describe_user_pool(UserPoolId=result.user_pool_id)["UserPool"]
    assert "custom:telnum" in {a["Name"] for a in pool["SchemaAttributes"]}
    tokens = idp.initiate_auth(
        ClientId=result.app_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": stack.DEMO_USERNAME, "PASSWORD": stack.DEMO_PASSWORD},
    )["AuthenticationResult"]
    assert tokens["AccessToken"] and tokens["IdToken"] and tokens["RefreshToken"]
    identity = get_client("cognito-identity").describe_identity_pool(IdentityPoolId=result.identity_pool_id)
    assert identity["CognitoIdentityProviders"][0]["ClientId"] == result.app_client_id


def test_provision_twice_creates_nothing_the_second_time(aws: str) -> None:
    first = stack.provision(aws)
    second = stack.provision(aws)
    assert first.created
    assert second.created == []
    assert (second.user_pool_id, second.app_client_id, second.identity_pool_id) == (
        first.user_pool_id,
        first.app_client_id,
        first.identity_pool_id,
    )


def test_write_dotenv_keeps_other_keys_and_the_encryption_key(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("MY_SETTING=1\n")
    assert stack.write_dotenv({"COGNITO_USER_POOL_ID": "us-east-1_a"}, path)
    key = stack.read_dotenv(path)["TOKEN_ENCRYPTION_KEY"]
    assert not stack.write_dotenv({"COGNITO_USER_POOL_ID": "us-east-1_a"}, path)
    assert stack.write_dotenv({"COGNITO_USER_POOL_ID": "us-east-1_b"}, path)
    values = stack.read_dotenv(path)
    assert values["MY_SETTING"] == "1"
    assert values["TOKEN_ENCRYPTION_KEY"] == key
    assert values["COGNITO_USER_POOL_ID"] == "us-east-1_b"


def test_up_on_a_taken_port_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "STATE_DIR", tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(CommandError, match=f"port {port} .* taken"):
            call_command("localaws", "up", "--port", str(port))


def test_cognito_local_starts_answers_and_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setattr(stack, "STATE_DIR", tmp_path)
    process = stack.cognito_local_process(free_port())
    assert process.start() is True
    try:
        assert process.running()
        assert process.start() is False  # already running: nothing started twice
    finally:
        assert process.stop() is True
    assert not process.answers()
