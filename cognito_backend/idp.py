"""The one place that calls the Cognito user pool API.

``call()`` runs an operation on the cached client from ``clients.py`` and turns every botocore failure into the
app's own exceptions (``exceptions.py``), each with a stable code: no ``ClientError`` leaks past this module.
Flows (sign-in, sign-up, ...) are functions here that build the parameters and call ``call()``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from . import exceptions as exc
from .clients import get_client

logger = logging.getLogger(__name__)

# Cognito error code -> our exception class. Anything not listed becomes a generic IdpError (400) unless the
# HTTP status says the service itself failed (5xx -> ServiceUnavailable).
ERRORS: dict[str, type[exc.CognitoError]] = {
    "NotAuthorizedException": exc.NotAuthorized,
    "UserNotFoundException": exc.UserNotFound,
    "UsernameExistsException": exc.UsernameExists,
    "AliasExistsException": exc.AliasExists,
    "CodeMismatchException": exc.CodeMismatch,
    "ExpiredCodeException": exc.CodeExpired,
    "InvalidPasswordException": exc.InvalidPassword,
    "InvalidParameterException": exc.InvalidParameter,
    "UserNotConfirmedException": exc.UserNotConfirmed,
    "PasswordResetRequiredException": exc.PasswordResetRequired,
    "TooManyRequestsException": exc.Throttled,
    "LimitExceededException": exc.Throttled,
    "TooManyFailedAttemptsException": exc.Throttled,
    "CodeDeliveryFailureException": exc.ServiceUnavailable,
    "InternalErrorException": exc.ServiceUnavailable,
    "ServiceUnavailable": exc.ServiceUnavailable,
    "UnsupportedOperationException": exc.NotSupported,
}


def translate(error: ClientError) -> exc.CognitoError:
    """Map a botocore ``ClientError`` to the app's exception, keeping Cognito's message (never a secret)."""
    info = error.response.get("Error", {})
    aws_code = str(info.get("Code", ""))
    message = str(info.get("Message", "")) or None
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) or 400)
    cls = ERRORS.get(aws_code)
    if cls is exc.NotAuthorized and message and "disabled" in message.lower():
        return exc.UserDisabled()
    if cls is exc.Throttled:
        return exc.Throttled(retry_after=1)
    if cls is None:
        if status >= 500 or "not yet implemented" in (message or "").lower():
            if status == 501 or "not yet implemented" in (message or "").lower():
                return exc.NotSupported()
            return exc.ServiceUnavailable()
        return exc.IdpError(message, code=_snake(aws_code) if aws_code else "cognito_error")
    if issubclass(cls, exc.IdpError):
        return cls(message)
    return cls()


def _snake(aws_code: str) -> str:
    name = aws_code.removesuffix("Exception")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def call(operation: str, **params: Any) -> dict[str, Any]:
    """Run one Cognito API operation; raises only ``CognitoError`` subclasses."""
    client = get_client("cognito-idp")
    try:
        result: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as error:
        translated = translate(error)
        logger.info("cognito %s refused: %s", operation, translated.code)
        raise translated from error
    except (ReadTimeoutError, ConnectTimeoutError) as error:
        logger.warning("cognito %s timed out", operation)
        raise exc.GatewayTimeout() from error
    except (EndpointConnectionError, ConnectionClosedError) as error:
        logger.warning("cognito %s unreachable", operation)
        raise exc.ServiceUnavailable() from error
    except BotoCoreError as error:
        logger.warning("cognito %s failed: %s", operation, type(error).__name__)
        raise exc.ServiceUnavailable() from error
    return result


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """The SECRET_HASH Cognito requires from app clients that have a secret."""
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
