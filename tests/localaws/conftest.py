"""Fixtures of the local Lambda runtime tests: functions with code of the test's own, created through the runtime."""

from __future__ import annotations

import io
import zipfile
from functools import cache
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import REGION


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def lambda_client(endpoint: str, read_timeout: float = 60) -> Any:
    """A Lambda client that sends each request once (botocore would resend an Invoke on a read timeout).

    Kept per endpoint: building a client costs a good part of a second on a busy machine.
    """
    return _session().client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=read_timeout, connect_timeout=5),
    )


@pytest.fixture
def lam(lambda_runtime: str) -> Any:
    return lambda_client(lambda_runtime)


@cache
def iam_client(endpoint: str) -> Any:
    return _session().client("iam", endpoint_url=endpoint, region_name=REGION)


class Deployer:
    """``deploy(name, code, timeout=3, environment={})``: a Python function whose ``app.py`` is ``code``."""

    def __init__(self, lam: Any, role: str) -> None:
        self.lam = lam
        self.role = role

    def __call__(self, name: str, code: str, *, timeout: int = 3, environment: dict[str, str] | None = None) -> str:
        self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role,
            Handler="app.handler",
            Code={"ZipFile": package({"app.py": code})},
            Timeout=timeout,
            Environment={"Variables": environment or {}},
        )
        return name


@pytest.fixture
def deploy(lam: Any, aws: str) -> Deployer:
    iam = iam_client(aws)
    role = iam.create_role(RoleName="runtime-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return Deployer(lam, str(role))
