"""One mapping from botocore errors to the package's exceptions, with our own text, for every Cognito call.

Cognito's answers are injected with a botocore ``before-send`` hook (moto cannot be made to answer every error
code), on the package's real client; the mapping under test is the one in ``idp.translate``.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HeadersDict

import cognito_backend
from cognito_backend import exceptions as exc
from cognito_backend import idp
from cognito_backend.clients import get_client

COGNITO_TEXT = "Cognito says: pool us-east-1_Secret123 internal detail"


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.data


def _error(status: int, code: str, message: str) -> AWSResponse:
    headers = HeadersDict({"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code})
    body = json.dumps({"__type": code, "message": message}).encode()
    return AWSResponse("https://cognito-idp.invalid/", status, headers, _Raw(body))


@pytest.fixture
def answer(settings: Any) -> Iterator[Any]:
    settings.COGNITO_AWS = {**settings.COGNITO_AWS, "MAX_ATTEMPTS": 1}
    registered: list[tuple[Any, str, Any]] = []

    def inject(status: int, code: str, message: str = COGNITO_TEXT, *, client: Any = None) -> None:
        target = client or get_client("cognito-idp")
        handler = lambda request, **kwargs: _error(status, code, message)  # noqa: E731
        target.meta.events.register("before-send.cognito-identity-provider.*", handler)
        registered.append((target, "before-send.cognito-identity-provider.*", handler))

    yield inject
    for client, event, handler in registered:
        client.meta.events.unregister(event, handler)


@pytest.mark.parametrize(
    ("code", "status", "expected", "our_code"),
    [
        ("NotAuthorizedException", 400, exc.NotAuthorized, "not_authorized"),
        ("UserNotFoundException", 400, exc.UserNotFound, "user_not_found"),
        ("UsernameExistsException", 400, exc.UsernameExists, "username_exists"),
        ("CodeMismatchException", 400, exc.CodeMismatch, "code_mismatch"),
        ("ExpiredCodeException", 400, exc.CodeExpired, "code_expired"),
        ("InvalidPasswordException", 400, exc.InvalidPassword, "invalid_password"),
        ("InvalidParameterException", 400, exc.InvalidParameter, "invalid_parameter"),
        ("TooManyRequestsException", 400, exc.Throttled, "throttled"),
        ("InternalErrorException", 500, exc.ServiceUnavailable, "service_unavailable"),
        ("SomethingNewException", 400, exc.IdpError, "something_new"),
        ("SomethingBrokenException", 503, exc.ServiceUnavailable, "service_unavailable"),
    ],
)
def test_cognito_errors_become_ours_with_our_own_text(
    answer: Any, code: str, status: int, expected: type[exc.CognitoError], our_code: str
) -> None:
    answer(status, code)
    with pytest.raises(expected) as caught:
        idp.get_user("an-access-token")
    assert caught.value.code == our_code
    assert "Cognito says" not in caught.value.detail and "Secret123" not in str(caught.value)
    assert caught.value.detail


@pytest.mark.parametrize(
    ("message", "expected", "password_like"),
    [
        ("Incorrect username or password.", exc.NotAuthorized, True),
        ("Access Token has been revoked", exc.NotAuthorized, False),
        ("User is disabled.", exc.UserDisabled, False),
    ],
)
def test_not_authorized_is_told_apart_without_passing_cognitos_words_on(
    answer: Any, message: str, expected: type[exc.CognitoError], password_like: bool
) -> None:
    answer(400, "NotAuthorizedException", message)
    with pytest.raises(expected) as caught:
        idp.get_user("an-access-token")
    assert type(caught.value) is expected
    assert caught.value.detail in {expected.default_detail, idp.REFUSED_BEARER_TEXT}
    assert ("password" in caught.value.detail.lower()) is password_like


def test_client_options_reach_the_one_call(settings: Any, answer: Any) -> None:
    # The online revocation check and the attribute lookup ask for one attempt and a short read timeout.
    client = get_client("cognito-idp", read_timeout=1.5, max_attempts=1, region="eu-west-1")
    answer(400, "UserNotFoundException", client=client)
    with pytest.raises(exc.UserNotFound):
        idp.call("get_user", read_timeout=1.5, max_attempts=1, region="eu-west-1", AccessToken="x")


def test_no_module_of_the_package_but_idp_handles_botocore_errors() -> None:
    """Every Cognito call goes through ``idp.call``: nobody else imports ``ClientError`` or ``BotoCoreError``."""
    offenders = []
    for path in Path(cognito_backend.__file__).parent.rglob("*.py"):
        if path.name == "idp.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("botocore"):
                names = {alias.name for alias in node.names}
                if names & {"ClientError", "BotoCoreError"}:
                    offenders.append(path.name)
    assert offenders == []
