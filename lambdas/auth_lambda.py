"""AuthLambda: signs a Cloud Connect user in against the user pool and answers the account and its token.

Deploy this file alone (Python 3.11+ runtime, handler ``auth_lambda.handler``; boto3, as Lambda's runtime has
it). It is step 2 of the Cloud Connect login: the caller invokes it with unauthenticated identity-pool
credentials, then trades ``account.credentials.token`` for privileged ones (GetCredentialsForIdentity with
``Logins: {account.credentials.provider: token}``).

Environment: ``USER_POOL_ID``, ``APP_CLIENT_ID``, ``APP_CLIENT_SECRET`` (only when the app client has a secret:
the SECRET_HASH is then sent), ``AWS_REGION`` (set by Lambda; else the pool id's prefix).

Request (the payload)::

    {"username": "demo", "password": "..."}

Answer (a normal result)::

    {"account": {
        "username": "demo",                   # the pool's username (cognito:username)
        "sub": "0b6c...",
        "email": "demo@example.com",          # "" when the user has none
        "groups": ["users"],                  # cognito:groups
        "attributes": {"email": ..., "given_name": ..., "custom:telnum": ...},   # GetUser's, else the token's
        "credentials": {
            "token": "<Cognito ID token>",
            "provider": "cognito-idp.<region>.amazonaws.com/<pool id>",           # the Logins key
            "expiresIn": 3600,                # seconds the token is valid
        },
    }}

Errors are Lambda function errors (``X-Amz-Function-Error: Unhandled``; the body is Lambda's
``{"errorType", "errorMessage", ...}``). ``errorType`` is one of the classes below and ``errorMessage`` is safe
to show to the person signing in (it never names whether the user exists):

- ``InvalidRequest``: username or password missing or not strings (``errorMessage`` says which).
- ``NotAuthorized``: "Incorrect username or password." (wrong password, unknown or disabled user).
- ``UserNotConfirmed``, ``PasswordResetRequired``: the account must be confirmed or its password reset first.
- ``ChallengeRequired``: the pool asks for another step (new password, MFA) this login cannot answer.
- ``TooManyRequests``: Cognito throttled the sign-in; try again later.
- ``ServiceUnavailable``: the user pool could not be reached or answered an unexpected error.

Nothing here logs the password or the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

_client: Any = None

# Claims of the ID token that are not user attributes.
_NOT_ATTRIBUTES = {
    "aud",
    "auth_time",
    "event_id",
    "exp",
    "iat",
    "iss",
    "jti",
    "origin_jti",
    "token_use",
    "cognito:groups",
    "cognito:username",
    "cognito:roles",
    "cognito:preferred_role",
    "at_hash",
    "nonce",
}


class AuthError(Exception):
    """Base of the errors this function answers; the class name is Lambda's ``errorType``."""


class InvalidRequest(AuthError):
    pass


class NotAuthorized(AuthError):
    pass


class UserNotConfirmed(AuthError):
    pass


class PasswordResetRequired(AuthError):
    pass


class ChallengeRequired(AuthError):
    pass


class TooManyRequests(AuthError):
    pass


class ServiceUnavailable(AuthError):
    pass


def region() -> str:
    pool_id = os.environ.get("USER_POOL_ID", "")
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or pool_id.split("_", 1)[0]


def client() -> Any:
    """The cognito-idp client, built once per container (retries: Cognito's standard mode, 2 attempts)."""
    global _client
    if _client is None:
        _client = boto3.client(
            "cognito-idp",
            region_name=region(),
            config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 2}),
        )
    return _client


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def claims(token: str) -> dict[str, Any]:
    """The token's payload, unverified: it comes straight from Cognito's answer, over TLS."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def _refusal(error: ClientError) -> AuthError:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in {"NotAuthorizedException", "UserNotFoundException"}:
        return NotAuthorized("Incorrect username or password.")
    if code == "UserNotConfirmedException":
        return UserNotConfirmed("This account is not confirmed yet; confirm it first.")
    if code == "PasswordResetRequiredException":
        return PasswordResetRequired("The password of this account must be reset first.")
    if code in {"TooManyRequestsException", "LimitExceededException", "TooManyFailedAttemptsException"}:
        return TooManyRequests("Too many sign-in attempts; try again later.")
    return ServiceUnavailable(f"The user pool refused the sign-in ({code or 'unknown error'}).")


def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidRequest('Send {"username": ..., "password": ...}.')
    username, password = event.get("username"), event.get("password")
    missing = [name for name, value in (("username", username), ("password", password)) if not value]
    if missing:
        raise InvalidRequest(f"Missing {' and '.join(missing)}.")
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidRequest("username and password must be strings.")
    pool_id = os.environ["USER_POOL_ID"]
    client_id = os.environ["APP_CLIENT_ID"]
    parameters = {"USERNAME": username, "PASSWORD": password}
    client_secret = os.environ.get("APP_CLIENT_SECRET", "")
    if client_secret:
        parameters["SECRET_HASH"] = secret_hash(username, client_id, client_secret)
    try:
        answer = client().initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters)
    except ClientError as error:
        raise _refusal(error) from None
    except BotoCoreError as error:
        raise ServiceUnavailable(f"The user pool could not be reached ({type(error).__name__}).") from None
    if "AuthenticationResult" not in answer:
        challenge = str(answer.get("ChallengeName", "unknown"))
        raise ChallengeRequired(f"The user pool asks for another step ({challenge}); sign in on the site first.")
    result = answer["AuthenticationResult"]
    token = str(result["IdToken"])
    token_claims = claims(token)
    attributes = {
        key: value for key, value in token_claims.items() if key not in _NOT_ATTRIBUTES and isinstance(value, str)
    }
    try:
        # The pool's own list of the user's attributes (an ID token may carry fewer).
        user = client().get_user(AccessToken=str(result["AccessToken"]))
        attributes.update({str(a["Name"]): str(a["Value"]) for a in user.get("UserAttributes", [])})
    except (ClientError, BotoCoreError):
        pass
    return {
        "account": {
            "username": str(token_claims.get("cognito:username", username)),
            "sub": str(token_claims.get("sub", "")),
            "email": attributes.get("email", ""),
            "groups": list(token_claims.get("cognito:groups") or []),
            "attributes": attributes,
            "credentials": {
                "token": token,
                "provider": f"cognito-idp.{region()}.amazonaws.com/{pool_id}",
                "expiresIn": int(result.get("ExpiresIn", 3600)),
            },
        }
    }
