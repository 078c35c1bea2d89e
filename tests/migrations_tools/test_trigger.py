"""The user-migration trigger: the signed, rate-limited endpoint, and the handler run by cognito-local.

cognito-local (npm, pinned in package.json) runs the UserMigration trigger for real on USER_PASSWORD_AUTH of
an unknown user: it invokes the Lambda endpoint from its ``.cognito/config.json``, here the local Lambda runtime
(``localaws/lambda_runtime.py``, the one that runs the sample functions) running the function ``MigrateUser``
created from ``migrations_tools/trigger/handler.py``, which calls this site's endpoint on ``live_server``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from django.test import Client

from migrations_tools.models import UserMigration
from migrations_tools.trigger.handler import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.conftest import REGION, ROOT, free_port, wait_for_port

SECRET = "test-trigger-secret"
OLD = "Old-passw0rd"
URL = "/api/migration/trigger/"


def post(
    client: Client,
    payload: dict[str, Any],
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    remote: str = "10.0.0.1",
) -> Any:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        headers={TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body)},
        REMOTE_ADDR=remote,
    )


def auth(username: str, password: str, **extra: Any) -> dict[str, Any]:
    return {
        "triggerSource": "UserMigration_Authentication",
        "userName": username,
        "password": password,
        "nonce": uuid.uuid4().hex,
        **extra,
    }


@pytest.fixture
def trigger_settings(settings: Any) -> None:
    settings.COGNITO_MIGRATION = {
        "TRIGGER_SECRET": SECRET,
        "ATTRIBUTES": {"email": "email", "given_name": "first_name"},
    }


@pytest.mark.django_db
class TestEndpoint:
    def test_right_password_answers_attributes_and_marks_the_user_migrated(
        self, client: Client, trigger_settings: None, make_user: Any
    ) -> None:
        user = make_user("kim", password=OLD, first_name="Kim")

        response = post(client, auth("kim", OLD))

        assert response.status_code == 200
        assert response.json() == {
            "userAttributes": {"email": "kim@example.com", "email_verified": "true", "given_name": "Kim"},
            "messageAction": "SUPPRESS",
            "finalUserStatus": "CONFIRMED",
        }
        state = UserMigration.objects.get(user=user)
        assert (state.state, state.outcome) == ("done", "trigger")
        assert state.password_migrated_at is not None

    @pytest.mark.parametrize(("username", "password"), [("kim", "Wrong-passw0rd"), ("nobody", OLD), ("kim", "")])
    def test_wrong_password_and_unknown_user_get_the_same_refusal(
        self, client: Client, trigger_settings: None, make_user: Any, username: str, password: str
    ) -> None:
        make_user("kim", password=OLD)

        response = post(client, auth(username, password))

        assert (response.status_code, response.json()) == (403, {"code": "not_authorized"})
        assert not UserMigration.objects.exists()

    def test_forgot_password_answers_attributes_without_a_password(
        self, client: Client, trigger_settings: None, make_user: Any
    ) -> None:
        make_user("kim", password=OLD)
        payload = {"triggerSource": "UserMigration_ForgotPassword", "userName": "kim", "nonce": uuid.uuid4().hex}

        response = post(client, payload)

        assert response.status_code == 200
        assert "finalUserStatus" not in response.json()
        assert UserMigration.objects.get().password_migrated_at is None

    def test_user_whose_password_cognito_holds_is_refused(
        self, client: Client, trigger_settings: None, make_user: Any
    ) -> None:
        make_user("kim", password=OLD)
        assert post(client, auth("kim", OLD)).status_code == 200

        assert post(client, auth("kim", OLD)).status_code == 403

    @pytest.mark.parametrize(
        "tamper",
        ["wrong-secret", "stale", "future", "replayed", "unsigned"],
    )
    def test_requests_not_signed_now_by_the_trigger_are_refused(
        self, client: Client, trigger_settings: None, make_user: Any, tamper: str
    ) -> None:
        make_user("kim", password=OLD)
        payload = auth("kim", OLD)
        if tamper == "wrong-secret":
            response = post(client, payload, secret="guess")
        elif tamper == "stale":
            response = post(client, payload, timestamp=int(time.time()) - 3600)
        elif tamper == "future":
            response = post(client, payload, timestamp=int(time.time()) + 3600)
        elif tamper == "replayed":
            assert post(client, {**payload, "password": "Wrong-passw0rd"}).status_code == 403
            response = post(client, payload)
        else:
            response = client.post(URL, data=json.dumps(payload), content_type="application/json")

        assert (response.status_code, response.json()) == (401, {"code": "bad_signature"})
        assert not UserMigration.objects.exists()

    def test_attempts_over_the_per_username_rate_are_throttled(
        self, client: Client, settings: Any, make_user: Any
    ) -> None:
        settings.COGNITO_MIGRATION = {"TRIGGER_SECRET": SECRET, "TRIGGER_RATE_PER_USERNAME": 3}
        make_user("kim", password=OLD)
        for _ in range(3):
            assert post(client, auth("kim", "Wrong-passw0rd")).status_code == 403

        response = post(client, auth("kim", OLD))

        assert response.status_code == 429
        assert response["Retry-After"] == "60"

    def test_attempts_over_the_per_client_rate_are_throttled(
        self, client: Client, settings: Any, make_user: Any
    ) -> None:
        settings.COGNITO_MIGRATION = {"TRIGGER_SECRET": SECRET, "TRIGGER_RATE_PER_CLIENT": 2}
        for name in ("a", "b"):
            assert post(client, auth(name, OLD), remote="10.9.9.9").status_code == 403

        assert post(client, auth("c", OLD), remote="10.9.9.9").status_code == 429
        assert post(client, auth("c", OLD), remote="10.9.9.8").status_code == 403

    def test_unsigned_requests_do_not_use_up_the_per_client_rate(
        self, client: Client, settings: Any, make_user: Any
    ) -> None:
        settings.COGNITO_MIGRATION = {"TRIGGER_SECRET": SECRET, "TRIGGER_RATE_PER_CLIENT": 2}
        make_user("kim", password=OLD)
        for _ in range(20):
            assert post(client, auth("kim", OLD), secret="guess", remote="10.9.9.9").status_code == 401

        assert post(client, auth("kim", OLD), remote="10.9.9.9").status_code == 200

    def test_endpoint_is_off_without_a_shared_secret(self, client: Client, settings: Any) -> None:
        settings.COGNITO_MIGRATION = {"TRIGGER_SECRET": ""}

        assert post(client, auth("kim", OLD), secret="").status_code == 404


# --- against cognito-local ---------------------------------------------------------------------------------------


@dataclass
class CognitoLocal:
    idp: Any
    pool_id: str
    client_id: str
    runtime: Any
    baseline: int

    @property
    def invocations(self) -> int:
        """Invocations the runtime ran since the fixture started (the trigger is the only function called)."""
        return int(self.runtime.invocations) - self.baseline


@pytest.fixture
def cognito_local(
    live_server: Any,
    trigger_settings: None,
    tmp_path: Path,
    aws: str,
    lambda_runtime: str,
    lambda_runtime_server: Any,
) -> Iterator[CognitoLocal]:
    binary = ROOT / "node_modules" / ".bin" / "cognito-local"
    if not binary.exists():
        pytest.skip("cognito-local is not installed (bin/test runs npm ci)")
    from localaws import stack

    # MigrateUser from handler.py, created through the runtime as `localaws up --cognito-local` creates it.
    stack.provision_migration_trigger(aws, lambda_runtime, live_server.url, SECRET)
    port = free_port()
    config = {
        "LambdaClient": {
            "endpoint": lambda_runtime,
            "region": REGION,
            "credentials": {"accessKeyId": "local", "secretAccessKey": "local"},
        },
        "TriggerFunctions": {"UserMigration": "MigrateUser"},
        "UserPoolDefaults": {"UsernameAttributes": []},
    }
    (tmp_path / ".cognito").mkdir()
    (tmp_path / ".cognito" / "config.json").write_text(json.dumps(config))
    log = (tmp_path / "cognito-local.log").open("wb")
    process = subprocess.Popen(
        [str(binary)],
        cwd=tmp_path,
        env={**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "DEBUG": "0"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=60)
        idp = boto3.session.Session().client(
            "cognito-idp",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 1}),
        )
        pool_id = idp.create_user_pool(PoolName="migration")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        yield CognitoLocal(idp, pool_id, client_id, lambda_runtime_server, lambda_runtime_server.invocations)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def sign_in(local: CognitoLocal, username: str, password: str) -> dict[str, Any]:
    result: dict[str, Any] = local.idp.initiate_auth(
        ClientId=local.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return result


@pytest.mark.cognito_local
@pytest.mark.django_db(transaction=True)
def test_cognito_local_migrates_a_user_through_the_trigger_on_first_sign_in(
    cognito_local: CognitoLocal, make_user: Any
) -> None:
    user = make_user("lena", password=OLD, first_name="Lena")

    result = sign_in(cognito_local, "lena", OLD)

    assert result["AuthenticationResult"]["AccessToken"]
    record = cognito_local.idp.admin_get_user(UserPoolId=cognito_local.pool_id, Username="lena")
    attributes = {a["Name"]: a["Value"] for a in record["UserAttributes"]}
    assert attributes["email"] == "lena@example.com"
    assert attributes["given_name"] == "Lena"
    assert record["UserStatus"] == "CONFIRMED"
    assert UserMigration.objects.get(user=user).password_migrated_at is not None
    # The second sign-in is Cognito's alone: the trigger is not called again.
    assert sign_in(cognito_local, "lena", OLD)["AuthenticationResult"]["IdToken"]
    assert cognito_local.invocations == 1


@pytest.mark.cognito_local
@pytest.mark.django_db(transaction=True)
def test_cognito_local_refuses_a_wrong_password_and_creates_nobody(cognito_local: CognitoLocal, make_user: Any) -> None:
    make_user("lena", password=OLD)

    with pytest.raises(cognito_local.idp.exceptions.NotAuthorizedException):
        sign_in(cognito_local, "lena", "Wrong-passw0rd")

    with pytest.raises(cognito_local.idp.exceptions.UserNotFoundException):
        cognito_local.idp.admin_get_user(UserPoolId=cognito_local.pool_id, Username="lena")
    assert cognito_local.invocations == 1
    assert not UserMigration.objects.exists()
