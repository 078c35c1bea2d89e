"""Fixtures of the dashboard tests.

- ``registry``: the three sample functions created in the moto stand-in (by ``localaws.stack``, as ``localaws up``
  does) and registered as ``LambdaFunction`` rows; ``make_function`` registers more.
- ``canned``: queues results in moto's Lambda (one FIFO queue for all functions); without one, Invoke echoes.
- ``lambda_faults``: faults moto cannot produce (FunctionError, throttling, timeouts, refused connections,
  AccessDenied), injected through botocore's ``before-send.lambda.Invoke`` event on the very client the service
  uses (the seam's client for server credentials, the dashboard's caller session for caller credentials).
- ``api`` / ``bearer``: DRF's client, signed in with a real Cognito token from the stand-in.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from rest_framework.test import APIClient

from dashboard import aws as dashboard_aws
from dashboard.models import LambdaFunction

SAMPLE_EXAMPLES: dict[str, Any] = {
    "AuthLambda": {},
    "ThingLambda": {"action": "LIST"},
    "ObservationLambda": {
        "action": "FIND",
        "query": {"size": 1, "query": {"match_all": {}}, "aggs": {"by_type": {"terms": {"field": "type"}}}},
    },
}

OBSERVATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["action", "query"],
    "properties": {
        "action": {"enum": ["FIND", "COUNT"]},
        "query": {
            "type": "object",
            "properties": {"size": {"type": "integer", "minimum": 0, "maximum": 1000}},
        },
    },
}


@pytest.fixture(autouse=True)
def _fresh_dashboard_aws() -> Iterator[None]:
    dashboard_aws.reset()
    yield
    dashboard_aws.reset()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def bearer(api: APIClient, token: str) -> APIClient:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@pytest.fixture
def sample_functions(aws: str) -> dict[str, str]:
    """The sample functions in the stand-in, created the way ``manage.py localaws up`` creates them."""
    from config.aws import get_client
    from localaws import stack

    created: list[str] = []
    role = stack.ensure_lambda_role(get_client("iam"), created)
    return stack.ensure_functions(get_client("lambda"), role, created)


@pytest.fixture
def make_function(db: Any) -> Callable[..., LambdaFunction]:
    def make(name: str = "thing", function_name: str = "ThingLambda", **fields: Any) -> LambdaFunction:
        groups = fields.pop("groups", [])
        defaults: dict[str, Any] = {
            "display_name": name.title(),
            "function_name": function_name,
            "example_payload": SAMPLE_EXAMPLES.get(function_name, {}),
            "timeout": 10,
        }
        defaults.update(fields)
        function = LambdaFunction(name=name, **defaults)
        function.full_clean()
        function.save()
        if groups:
            from django.contrib.auth.models import Group

            function.allowed_groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
        return function

    return make


@pytest.fixture
def registry(sample_functions: dict[str, str], make_function: Callable[..., LambdaFunction]) -> dict[str, Any]:
    return {
        "thing": make_function("thing", "ThingLambda", description="Lists things."),
        "observation": make_function(
            "observation", "ObservationLambda", payload_schema=OBSERVATION_SCHEMA, description="Searches."
        ),
        "auth": make_function("auth", "AuthLambda"),
    }


@dataclass
class Canned:
    endpoint: str

    def __call__(self, *results: Any) -> None:
        body = {"results": [r if isinstance(r, str) else json.dumps(r) for r in results], "region": "us-east-1"}
        response = requests.post(f"{self.endpoint}/moto-api/static/lambda-simple/response", json=body, timeout=10)
        response.raise_for_status()


@pytest.fixture
def canned(aws: str) -> Canned:
    return Canned(aws)


class _Raw(io.BytesIO):
    """What botocore reads a response body from: ``stream()`` for parsed bodies, ``read()`` for streams."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.getvalue()


def lambda_response(status: int, body: Any, headers: dict[str, str] | None = None) -> AWSResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = HeadersDict({"Content-Type": "application/json", **(headers or {})})
    return AWSResponse("https://lambda.invalid/", status, all_headers, _Raw(raw))


def lambda_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> AWSResponse:
    return lambda_response(
        status, {"Type": "User", "message": message}, {"x-amzn-ErrorType": f"{code}:", **(headers or {})}
    )


def _raise(error: Exception) -> Any:
    raise error


FAULTS: dict[str, Callable[[Any], Any]] = {
    "function_error": lambda request: lambda_response(
        200,
        {"errorType": "ValueError", "errorMessage": "size must be positive", "stackTrace": ["  File handler.py"]},
        {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"},
    ),
    "throttled": lambda request: lambda_error(
        429, "TooManyRequestsException", "Rate exceeded", {"Retry-After": "7", "x-amzn-RequestId": "r-1"}
    ),
    "service_exception": lambda request: lambda_error(500, "ServiceException", "Internal failure"),
    "resource_not_found": lambda request: lambda_error(404, "ResourceNotFoundException", "Function not found"),
    "access_denied": lambda request: lambda_error(403, "AccessDeniedException", "not authorized to invoke"),
    "read_timeout": lambda request: _raise(ReadTimeoutError(endpoint_url=request.url)),
    "connect_timeout": lambda request: _raise(ConnectTimeoutError(endpoint_url=request.url)),
    "connection_refused": lambda request: _raise(EndpointConnectionError(endpoint_url=request.url)),
}


@dataclass
class LambdaFaults:
    registered: list[tuple[Any, str, Callable[..., Any]]] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)

    def _handler(self, fault: str | Callable[[Any], Any] | None) -> Callable[..., Any]:
        make = FAULTS[fault] if isinstance(fault, str) else fault

        def handler(request: Any, **kwargs: Any) -> Any:
            self.requests.append(request)
            return make(request) if make is not None else None

        return handler

    def inject(self, function: LambdaFunction, fault: str | Callable[[Any], Any] | None) -> None:
        """Every Invoke by the server's client for ``function`` meets ``fault`` (None: only record the request)."""
        client = dashboard_aws.server_client(function.timeout)
        handler = self._handler(fault)
        client.meta.events.register("before-send.lambda.Invoke", handler)
        self.registered.append((client.meta.events, "before-send.lambda.Invoke", handler))

    def inject_caller(self, fault: str | Callable[[Any], Any] | None) -> None:
        """The same for clients built with callers' identity-pool credentials."""
        events = dashboard_aws.caller_session().events
        handler = self._handler(fault)
        events.register("before-send.lambda.Invoke", handler)
        self.registered.append((events, "before-send.lambda.Invoke", handler))


@pytest.fixture
def lambda_faults() -> Iterator[LambdaFaults]:
    faults = LambdaFaults()
    yield faults
    for events, name, handler in faults.registered:
        events.unregister(name, handler)
