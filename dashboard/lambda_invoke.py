"""Lambda's Invoke on the request path, with botocore's per-call machinery left out.

``client.invoke()`` spends about a millisecond of CPU per call before and after the network: parameter
validation, serialization, endpoint rules, the retry handler, user-agent assembly, a dozen events. On the
dashboard's invoke endpoint that was the largest cost after the database. ``invoke()`` sends the same HTTP
request (same URL encoding of the function name, same headers, SigV4 by botocore's own signer with the client's
credentials) through the client's own HTTP session (its connection pool, timeouts, proxies and TLS settings),
fires the client's ``before-send.lambda.Invoke`` event as botocore does (handlers may answer or raise instead of
the network: the tests inject faults there), and parses the answer with the client's own parser. It answers what
``client.invoke()`` answers and raises what it raises: ``ClientError`` subclasses from ``client.exceptions`` for
error responses, botocore's connection and timeout errors. Exactly one request is sent: there is no retry here.

A client without static or refreshable credentials, or a botocore whose internals moved, falls back to
``client.invoke()``.
"""

from __future__ import annotations

import logging
from typing import Any

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.endpoint import convert_to_response_dict
from botocore.utils import percent_encode

logger = logging.getLogger(__name__)

USER_AGENT = "cognito-django-dashboard"


def _parts(client: Any) -> tuple[Any, Any, Any, Any] | None:
    """The client's credentials, HTTP session, response parser and Invoke model; None when one is missing."""
    try:
        credentials = client._request_signer._credentials
        session = client._endpoint.http_session
        parser = client._response_parser
        model = client.meta.service_model.operation_model("Invoke")
    except AttributeError:  # pragma: no cover - a botocore that changed its internals
        return None
    if credentials is None:
        return None
    return credentials, session, parser, model


_HOSTS: dict[str, str] = {}


def _host(endpoint: str) -> str:
    """The Host header of ``endpoint`` as botocore's SigV4 signer derives it (lower case, no default port), kept
    per endpoint: the signer parses the URL again on every request otherwise. Empty when botocore moved it."""
    host = _HOSTS.get(endpoint)
    if host is None:
        derive = getattr(botocore.auth, "_host_from_url", None)
        host = _HOSTS[endpoint] = str(derive(endpoint)) if derive is not None else ""
    return host


def invoke(client: Any, function_name: str, invocation_type: str, payload: bytes) -> dict[str, Any]:
    """``client.invoke(FunctionName=..., InvocationType=..., Payload=...)``, leanly (module docstring)."""
    parts = _parts(client)
    if parts is None:
        return dict(client.invoke(FunctionName=function_name, InvocationType=invocation_type, Payload=payload))
    credentials, session, parser, model = parts
    endpoint = str(client.meta.endpoint_url).rstrip("/")
    headers = {"X-Amz-Invocation-Type": invocation_type, "User-Agent": USER_AGENT}
    host = _host(endpoint)
    if host:  # what the signer would derive from the URL (and the HTTP client send), once per endpoint
        headers["Host"] = host
    request = AWSRequest(
        method="POST",
        url=f"{endpoint}/2015-03-31/functions/{percent_encode(function_name)}/invocations",
        data=payload,
        headers=headers,
        stream_output=True,
    )
    SigV4Auth(credentials.get_frozen_credentials(), "lambda", client.meta.region_name).add_auth(request)
    for name, value in request.headers.items():  # as botocore's Endpoint.prepare_request leaves them
        if isinstance(value, str):
            request.headers[name] = value.encode()
    prepared = request.prepare()
    answers = client.meta.events.emit("before-send.lambda.Invoke", request=prepared)
    http_response = next((answer for _, answer in answers if answer is not None), None)
    if http_response is None:
        http_response = session.send(prepared)
    response = convert_to_response_dict(http_response, model)
    parsed: dict[str, Any] = parser.parse(response, model.output_shape)
    if http_response.status_code >= 300:
        code = str(parsed.get("Error", {}).get("Code", ""))
        error_shape = model.service_model.shape_for_error_code(code) if code else None
        if error_shape is not None:  # the error's modeled members too, as botocore's endpoint adds them
            parsed.update(parser.parse(response, error_shape))
        raise client.exceptions.from_code(code)(parsed, "Invoke")
    return parsed
