"""``dashboard.lambda_invoke``: the lean Invoke sends what ``client.invoke()`` sends and answers what it answers.

Both are run on the same client with a ``before-send`` handler that records the request and answers a canned
response (the faults of conftest's ``FAULTS``), so each pair meets the very same answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dashboard import aws as dashboard_aws
from dashboard import lambda_invoke
from tests.dashboard.conftest import FAULTS, lambda_response


def ok(request: Any) -> Any:
    return lambda_response(200, {"things": [1, 2]}, {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": "r-9"})


def both(client: Any, answer: Callable[[Any], Any], call: Callable[[], Any]) -> tuple[list[Any], Any]:
    seen: list[Any] = []

    def handler(request: Any, **kwargs: Any) -> Any:
        seen.append(request)
        return answer(request)

    client.meta.events.register("before-send.lambda.Invoke", handler)
    try:
        try:
            result: Any = call()
        except ClientError as error:
            result = error
    finally:
        client.meta.events.unregister("before-send.lambda.Invoke", handler)
    return seen, result


def signed_parts(request: Any) -> dict[str, Any]:
    authorization = request.headers["Authorization"].decode()
    return {
        "method": request.method,
        "url": request.url,
        "body": request.body,
        "invocation_type": request.headers["X-Amz-Invocation-Type"],
        "scope": re.search(r"Credential=[^/]+/\d+/([^,]+)", authorization).group(1),  # type: ignore[union-attr]
        "signed_headers": re.search(r"SignedHeaders=([^,]+)", authorization).group(1),  # type: ignore[union-attr]
    }


@pytest.mark.parametrize(
    "function_name", ["ThingLambda", "arn:aws:lambda:us-east-1:123456789012:function:ThingLambda:live"]
)
@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
def test_lean_invoke_sends_the_request_botocore_sends(function_name: str, invocation_type: str) -> None:
    client = dashboard_aws.server_client(10)
    payload = b'{"action": "LIST", "n": 1}'
    botocore_sent, _ = both(
        client,
        ok,
        lambda: client.invoke(FunctionName=function_name, InvocationType=invocation_type, Payload=payload),
    )
    lean_sent, _ = both(client, ok, lambda: lambda_invoke.invoke(client, function_name, invocation_type, payload))
    assert len(botocore_sent) == len(lean_sent) == 1
    assert signed_parts(lean_sent[0]) == signed_parts(botocore_sent[0])


@pytest.mark.parametrize("fault", ["function_error", "throttled", "service_exception", "access_denied", None])
def test_lean_invoke_answers_what_botocore_answers(fault: str | None) -> None:
    client = dashboard_aws.server_client(10)
    answer = FAULTS[fault] if fault else (ok)

    def fresh(request: Any) -> Any:
        response = answer(request)
        response.raw.seek(0)  # the canned body is read once per call
        return response

    _, expected = both(client, fresh, lambda: client.invoke(FunctionName="ThingLambda", Payload=b"{}"))
    _, got = both(client, fresh, lambda: lambda_invoke.invoke(client, "ThingLambda", "RequestResponse", b"{}"))
    if isinstance(expected, ClientError):
        assert type(got) is type(expected)
        assert without_retries(got.response) == without_retries(expected.response)
        return
    assert got["Payload"].read() == expected["Payload"].read()
    got.pop("Payload")
    expected.pop("Payload")
    assert without_retries(got) == without_retries(expected)


def without_retries(response: dict[str, Any]) -> dict[str, Any]:
    """The answer without what botocore's retry handler adds (the lean path has no retries to count)."""
    metadata = {
        k: v for k, v in response["ResponseMetadata"].items() if k not in {"RetryAttempts", "MaxAttemptsReached"}
    }
    return {**response, "ResponseMetadata": metadata}


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("http://127.0.0.1:5001", "127.0.0.1:5001"),
        ("https://lambda.us-east-1.amazonaws.com", "lambda.us-east-1.amazonaws.com"),
        ("https://Lambda.EU-West-1.amazonaws.com:443", "lambda.eu-west-1.amazonaws.com"),  # default port left out
        ("https://[::1]:8443", "[::1]:8443"),
    ],
)
def test_the_host_header_is_the_one_the_signer_and_the_http_client_would_use(endpoint: str, host: str) -> None:
    assert lambda_invoke._host(endpoint) == host
    client = dashboard_aws.server_client(10)
    lean_sent, _ = both(client, ok, lambda: lambda_invoke.invoke(client, "ThingLambda", "RequestResponse", b"{}"))
    botocore_sent, _ = both(client, ok, lambda: client.invoke(FunctionName="ThingLambda", Payload=b"{}"))
    assert lean_sent[0].headers["Host"] == lambda_invoke._host(client.meta.endpoint_url).encode()
    assert "Host" not in botocore_sent[0].headers  # botocore leaves it to http.client, which sends the same value
