"""Fixtures of the accounts tests.

- ``api``: DRF's test client; ``bearer(api, token)`` signs it in.
- ``cognito_local`` (session): the real cognito-local (npm) on a free port with its own data directory. It checks
  confirmation codes for real and "sends" them to its log, which ``code_for()`` reads. ``local_pool`` points
  the project's Cognito seam and settings at a fresh pool in it.
- ``faults``: injects faults no stand-in produces (throttling, timeouts, refused connections) and answers for
  operations no stand-in implements, through botocore's ``before-send`` event on the project's own client.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from rest_framework.test import APIClient

from tests.conftest import DEFAULT_PASSWORD, PASSWORD_POLICY, REGION, ROOT, free_port, wait_for_port

COGNITO_LOCAL = ROOT / "node_modules" / ".bin" / "cognito-local"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def bearer(api: APIClient, token: str) -> APIClient:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def totp_now(secret: str, at: float | None = None) -> str:
    """The current code of a TOTP authenticator holding ``secret`` (RFC 6238, what an app would show)."""
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    padded = secret + "=" * (-len(secret) % 8)
    totp = TOTP(base64.b32decode(padded, casefold=True), 6, SHA1(), 30, enforce_key_length=False)  # noqa: S303 - RFC 6238
    return totp.generate(at if at is not None else time.time()).decode()


# --- cognito-local ---------------------------------------------------------------------------------------------


@dataclass
class CognitoLocal:
    url: str
    log: Path
    # One cognito-local serves every test of a worker and its log names no pool: a username's codes are read from
    # where the log stood when a test created (or forgot) that username, so another test's user of the same name
    # in another pool never hands over its code.
    since: dict[str, int] = field(default_factory=dict)

    def poke(self) -> None:
        """Make cognito-local log a little more: its logger holds the last lines back until more follow."""
        try:
            requests.get(f"{self.url}/health", timeout=5)
        except requests.RequestException:
            pass

    def forget(self, username: str) -> None:
        """Ignore every code sent to ``username`` so far (call it before a test's first use of the name)."""
        self.since[username] = self.log.stat().st_size if self.log.exists() else 0

    def codes_for(self, username: str) -> list[str]:
        """Every code cognito-local "sent" to ``username``, oldest first (read from its console log)."""
        with self.log.open("rb") as stream:
            stream.seek(self.since.get(username, 0))
            text = ANSI.sub("", stream.read().decode(errors="replace"))
        codes = []
        for block in text.split("Confirmation Code Delivery")[1:]:
            user = re.search(r"Username:\s+(\S+)", block)
            code = re.search(r"Code:\s+(\S+)", block)
            if user and code and user.group(1) == username:
                codes.append(code.group(1))
        return codes

    def code_for(self, username: str, *, after: int = 0) -> str:
        """The newest code for ``username`` once more than ``after`` codes were sent (the log is written async)."""
        deadline = time.monotonic() + 30  # generous: a loaded machine writes the log late
        while time.monotonic() < deadline:
            codes = self.codes_for(username)
            if len(codes) > after:
                return codes[-1]
            self.poke()
            time.sleep(0.05)
        raise AssertionError(f"cognito-local sent no code to {username}")


@pytest.fixture(scope="session")
def cognito_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CognitoLocal]:
    if not COGNITO_LOCAL.exists() or shutil.which("node") is None:
        pytest.skip("cognito-local is not installed (npm ci installs it from package.json)")
    workdir = tmp_path_factory.mktemp("cognito-local")
    (workdir / ".cognito").mkdir()
    (workdir / ".cognito" / "config.json").write_text(json.dumps({"UserPoolDefaults": {"UsernameAttributes": []}}))
    port = free_port()
    log = workdir / "cognito-local.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(COGNITO_LOCAL)],
            cwd=workdir,
            env={**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "DEBUG": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_port(port, timeout=60)
        yield CognitoLocal(url=f"http://127.0.0.1:{port}", log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class LocalPool:
    pool_id: str
    client_id: str
    local: CognitoLocal
    idp: Any

    def create_user(self, username: str, password: str = DEFAULT_PASSWORD, **attributes: str) -> None:
        """A confirmed user with a permanent password."""
        self.local.forget(username)
        attrs = {"email": f"{username}@example.com", "email_verified": "true", **attributes}
        self.idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            TemporaryPassword="Temp-Passw0rd!",
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()],
        )
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True)

    def sign_in(self, username: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
        answer = self.idp.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return dict(answer["AuthenticationResult"])

    def sign_in_with_totp(self, username: str, secret: str, password: str = DEFAULT_PASSWORD) -> str:
        """An access token of a user whose sign-in asks for a TOTP code (answered from ``secret``)."""
        answer = self.idp.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        if answer.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
            answer = self.idp.respond_to_auth_challenge(
                ClientId=self.client_id,
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=answer["Session"],
                ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": totp_now(secret)},
            )
        return str(answer["AuthenticationResult"]["AccessToken"])


@pytest.fixture
def local_pool(cognito_local: CognitoLocal, settings: Any, aws: str) -> LocalPool:
    """A fresh pool in cognito-local, set as the site's pool; Cognito calls go to cognito-local from now on."""
    from cognito_backend.clients import get_client

    settings.COGNITO_AWS = {**settings.COGNITO_AWS, "ENDPOINT_URLS": {"cognito-idp": cognito_local.url}}
    idp = get_client("cognito-idp")
    pool_id = idp.create_user_pool(
        PoolName=f"accounts-{uuid.uuid4().hex[:8]}",
        Policies={"PasswordPolicy": PASSWORD_POLICY},
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "telnum", "AttributeDataType": "String", "Mutable": True}],
        MfaConfiguration="OPTIONAL",
    )["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web")["UserPoolClient"]["ClientId"]
    settings.COGNITO = {
        "REGION": REGION,
        "USER_POOL_ID": pool_id,
        "APP_CLIENT_ID": client_id,
        "APP_CLIENT_SECRET": "",
        # cognito-local's issuer is its own URL; its keys are served beside it.
        "ISSUER": f"{cognito_local.url}/{pool_id}",
        "JWKS_URL": f"{cognito_local.url}/{pool_id}/.well-known/jwks.json",
        "IDENTITY_POOL_ID": "",
        "DOMAIN": "",
    }
    return LocalPool(pool_id=pool_id, client_id=client_id, local=cognito_local, idp=get_client("cognito-idp"))


# --- faults injected at botocore's event hooks -------------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


def aws_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> AWSResponse:
    from botocore.awsrequest import HeadersDict

    all_headers = HeadersDict({"Content-Type": "application/x-amz-json-1.1", **(headers or {})})
    return AWSResponse("https://cognito-idp.invalid/", status, all_headers, _Raw(json.dumps(body).encode()))


def aws_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> AWSResponse:
    return aws_response(status, {"__type": code, "message": message}, {"x-amzn-ErrorType": code, **(headers or {})})


FAULTS: dict[str, Callable[[Any], Any]] = {
    "throttled": lambda request: aws_error(400, "TooManyRequestsException", "Too many requests", {"Retry-After": "7"}),
    "limit_exceeded": lambda request: aws_error(400, "LimitExceededException", "Attempt limit exceeded"),
    "internal_error": lambda request: aws_error(500, "InternalErrorException", "Internal error"),
    "read_timeout": lambda request: (_ for _ in ()).throw(ReadTimeoutError(endpoint_url=request.url)),
    "connect_timeout": lambda request: (_ for _ in ()).throw(ConnectTimeoutError(endpoint_url=request.url)),
    "connection_refused": lambda request: (_ for _ in ()).throw(EndpointConnectionError(endpoint_url=request.url)),
}


@dataclass
class Faults:
    """Registered handlers on the project's cognito-idp client; removed after the test."""

    handlers: list[tuple[Any, str, Callable[..., Any]]]
    calls: list[str]

    def inject(self, operation: str, fault: str | Callable[[Any], Any], *, service: str = "cognito-idp") -> None:
        """Make every ``operation`` (``*`` for all) call of ``service`` meet ``fault`` instead of the stand-in."""
        from cognito_backend.clients import get_client

        client = get_client(service)
        make = FAULTS[fault] if isinstance(fault, str) else fault
        event_service = client.meta.service_model.service_id.hyphenize()

        def handler(request: Any, **kwargs: Any) -> Any:
            self.calls.append(operation)
            return make(request)

        event = f"before-send.{event_service}.{operation}"
        client.meta.events.register(event, handler)
        self.handlers.append((client, event, handler))

    def answer(self, operation: str, body: dict[str, Any]) -> None:
        """Answer ``operation`` with ``body`` (HTTP 200): for operations no stand-in implements."""
        self.inject(operation, lambda request: aws_response(200, body))


@pytest.fixture
def faults(settings: Any, aws: str) -> Iterator[Faults]:
    # One attempt per call: botocore's retries (with their backoff sleeps) would only repeat the injected fault.
    settings.COGNITO_AWS = {**settings.COGNITO_AWS, "MAX_ATTEMPTS": 1}
    injected = Faults(handlers=[], calls=[])
    yield injected
    for client, event, handler in injected.handlers:
        client.meta.events.unregister(event, handler)


@pytest.fixture(autouse=True)
def _database(db: None) -> None:
    """Signed-in requests create and link local users; every accounts test may touch the database."""
