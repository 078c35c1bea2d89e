"""The online check records a revocation only on Cognito's answers that mean revoked.

Cognito's GetUser answers NotAuthorizedException for a revoked token ("Access Token has been revoked"), a disabled
user ("User is disabled."), but also for a token its clock calls expired while ours still accepts it within the
leeway ("Access Token has expired") and for a token without the ``aws.cognito.signin.user.admin`` scope ("Access
Token does not have required scopes"). moto answers none of these texts (its GetUser says "Invalid token"), so
they are injected as Cognito's real responses on botocore's ``before-send`` event of the online check's client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HeadersDict

from cognito_backend.models import UserRevocation
from tests.cognito_backend.conftest import JwksServer, SigningKey, forged_claims
from tests.cognito_backend.test_revocation import count_get_user, me, online_client
from tests.conftest import CognitoUser

pytestmark = pytest.mark.django_db


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


def cognito_answers(code: str, message: str) -> None:
    """GetUser of the online check gets Cognito's error response instead of reaching the stand-in."""

    def answer(**kwargs: Any) -> AWSResponse:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = HeadersDict({"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code})
        return AWSResponse("https://cognito-idp.us-east-1.amazonaws.com/", 400, headers, _Raw(body))

    online_client().meta.events.register("before-send.cognito-idp.GetUser", answer)


@pytest.mark.parametrize(
    ("code", "message", "status", "error", "recorded"),
    [
        ("NotAuthorizedException", "Access Token has expired", 401, "token_expired", False),
        ("NotAuthorizedException", "Access Token does not have required scopes", 200, None, False),
        ("NotAuthorizedException", "Access Token has been revoked", 401, "token_revoked", True),
        ("NotAuthorizedException", "User is disabled.", 401, "token_revoked", True),
        ("UserNotFoundException", "User does not exist.", 401, "token_revoked", True),
    ],
)
def test_only_answers_that_mean_revoked_record_a_revocation(
    cognito_user: CognitoUser, settings: Any, code: str, message: str, status: int, error: str | None, recorded: bool
) -> None:
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True}
    cognito_answers(code, message)
    response = me(cognito_user.tokens.access_token)
    assert response.status_code == status
    if error:
        assert response.json()["code"] == error
    assert UserRevocation.objects.filter(sub=cognito_user.sub).exists() is recorded
    # The user's other tokens (the id token GetUser cannot check) pass unless the session was really revoked.
    assert (me(cognito_user.tokens.id_token).status_code == 401) is recorded


def test_a_token_without_the_admin_scope_is_not_sent_to_get_user(
    forged_pool: JwksServer, moto_key: SigningKey, settings: Any
) -> None:
    """GetUser refuses such a token whatever its state; asking would only cost quota (and once revoked users)."""
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True}
    calls = count_get_user()
    token = moto_key.sign({"alg": "RS256", "kid": "dummy"}, forged_claims("access", scope="orders/read"))
    assert me(token).status_code == 200
    assert calls[0] == 0
    assert not UserRevocation.objects.exists()
