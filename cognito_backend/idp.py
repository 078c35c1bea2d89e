"""The one place that calls the Cognito user pool API (and the identity pool API beside it).

``call()`` runs an operation on the cached client from ``clients.py`` and turns every botocore failure into the
app's own exceptions (``exceptions.py``) through ``translate()``, the one mapping: each error carries a stable code
and our own text for it, never Cognito's message; no ``ClientError`` leaks past this module. Every Cognito call
of the package goes through ``call()`` (a caller needing a shorter timeout, no retry or another pool's region
passes ``read_timeout``, ``max_attempts`` or ``region``).
Flows (sign-in, sign-up, ...) are functions here that build the parameters (client id, ``SECRET_HASH`` when the
app client has a secret) and call ``call()``; they return Cognito's answer as a dict. Nothing here logs a
password, a code or a token: ``call()`` logs the operation name and the error code only.
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
    ParamValidationError,
    ReadTimeoutError,
)

from . import exceptions as exc
from .clients import get_client
from .conf import cognito_settings

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
    # cognito-local answers an operation it lacks with this code (HTTP 500).
    "Unsupported": exc.NotSupported,
    "SoftwareTokenMFANotFoundException": exc.InvalidParameter,
    "EnableSoftwareTokenMFAException": exc.CodeMismatch,
    "InvalidUserPoolConfigurationException": exc.NotSupported,
    "ExternalServiceException": exc.ServiceUnavailable,
}


# Our own text for a refused token (NotAuthorizedException says "Invalid Access Token", "Access Token has been
# revoked" ...): it must not read like a wrong password.
REFUSED_BEARER_TEXT = "The token was refused by the identity service: not valid, expired or revoked."
UNKNOWN_REFUSAL = "The identity service refused the request."


def translate(error: ClientError) -> exc.CognitoError:
    """Map a botocore ``ClientError`` to the app's exception: the class by Cognito's code, the text our own.

    Cognito's message is read only to tell cases of one code apart (a disabled user, a refused token); it never
    reaches the caller, who sees the exception's own ``detail``.
    """
    info = error.response.get("Error", {})
    aws_code = str(info.get("Code", ""))
    message = str(info.get("Message", "") or "").lower()
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) or 400)
    cls = ERRORS.get(aws_code)
    if cls is exc.NotAuthorized:
        if "disabled" in message:
            return exc.UserDisabled()
        if "token" in message:
            return exc.NotAuthorized(REFUSED_BEARER_TEXT)
        return exc.NotAuthorized()
    if cls is exc.Throttled:
        return exc.Throttled(retry_after=_retry_after(error))
    if cls is None:
        if status >= 500 or "not yet implemented" in message:
            if status == 501 or "not yet implemented" in message:
                return exc.NotSupported()
            return exc.ServiceUnavailable()
        return exc.IdpError(UNKNOWN_REFUSAL, code=_snake(aws_code) if aws_code else "cognito_error")
    return cls()


def _snake(aws_code: str) -> str:
    name = aws_code.removesuffix("Exception")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _retry_after(error: ClientError) -> int:
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    try:
        return max(1, min(int(headers.get("retry-after", 1)), 300))
    except (TypeError, ValueError):
        return 1


def call(
    operation: str,
    /,
    *,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
    region: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Run one Cognito user pool API operation; raises only ``CognitoError`` subclasses.

    ``params`` are the operation's (CamelCase) parameters; the lower-case keywords choose the client.
    """
    return call_service(
        "cognito-idp", operation, read_timeout=read_timeout, max_attempts=max_attempts, region=region, **params
    )


def call_service(
    service: str,
    operation: str,
    /,
    *,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
    region: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Run one operation of ``service`` (``cognito-idp`` or ``cognito-identity``) through the one seam."""
    client = get_client(service, read_timeout=read_timeout, max_attempts=max_attempts, region=region)
    try:
        result: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as error:
        translated = translate(error)
        logger.info("cognito %s refused: %s", operation, translated.code)
        raise translated from error
    except ParamValidationError as error:
        # botocore refused the input before sending it (too long, wrong type): the caller's fault, not Cognito's.
        logger.info("cognito %s refused locally: invalid parameter", operation)
        raise exc.InvalidParameter() from error
    except ReadTimeoutError as error:
        logger.warning("cognito %s timed out", operation)
        raise exc.GatewayTimeout() from error
    except (ConnectTimeoutError, EndpointConnectionError, ConnectionClosedError) as error:
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


# --- user flows ----------------------------------------------------------------------------------------------
# Each builds the parameters for one Cognito operation from the configured app client; the caller decides what
# to do with the answer. Usernames are passed through as given (Cognito resolves aliases).


def _client_id() -> str:
    client_id = str(cognito_settings.APP_CLIENT_ID or "")
    if not client_id:
        # An operator's mistake (manage.py check names it), answered as the service being unavailable: a 503.
        logger.error("COGNITO['APP_CLIENT_ID'] is not set")
        raise exc.ServiceUnavailable("The identity service is not configured.")
    return client_id


def _with_secret(params: dict[str, Any], username: str, key: str = "SecretHash") -> dict[str, Any]:
    secret = str(cognito_settings.APP_CLIENT_SECRET or "")
    if secret:
        params[key] = secret_hash(username, _client_id(), secret)
    return params


def _attributes(attributes: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in attributes.items()]


def sign_up(username: str, password: str, attributes: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {"ClientId": _client_id(), "Username": username, "Password": password}
    params["UserAttributes"] = _attributes(attributes)
    return call("sign_up", **_with_secret(params, username))


def confirm_sign_up(username: str, code: str) -> dict[str, Any]:
    params = {"ClientId": _client_id(), "Username": username, "ConfirmationCode": code}
    return call("confirm_sign_up", **_with_secret(params, username))


def resend_code(username: str) -> dict[str, Any]:
    return call("resend_confirmation_code", **_with_secret({"ClientId": _client_id(), "Username": username}, username))


def initiate_auth(username: str, password: str) -> dict[str, Any]:
    """USER_PASSWORD_AUTH: the server sees the password (lazy migration and the migration trigger need it)."""
    params = _with_secret({"USERNAME": username, "PASSWORD": password}, username, "SECRET_HASH")
    return call("initiate_auth", ClientId=_client_id(), AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)


def initiate_srp_auth(username: str, password: str) -> dict[str, Any]:
    """USER_SRP_AUTH through pycognito's SRP arithmetic; both round trips go through ``call()``.

    Returns the answer to the password verifier: tokens, or the next challenge (NEW_PASSWORD_REQUIRED, MFA).
    """
    from pycognito.aws_srp import AWSSRP

    secret = str(cognito_settings.APP_CLIENT_SECRET or "") or None
    srp = AWSSRP(
        username=username,
        password=password,
        pool_id=str(cognito_settings.USER_POOL_ID),
        client_id=_client_id(),
        client=get_client("cognito-idp"),
        client_secret=secret,
    )
    auth_params = srp.get_auth_params()
    first = call("initiate_auth", ClientId=_client_id(), AuthFlow="USER_SRP_AUTH", AuthParameters=auth_params)
    if first.get("ChallengeName") != "PASSWORD_VERIFIER":
        return first
    try:
        responses = srp.process_challenge(first.get("ChallengeParameters") or {}, auth_params)
    except (KeyError, ValueError, TypeError) as error:
        raise exc.NotAuthorized() from error
    params: dict[str, Any] = {
        "ClientId": _client_id(),
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeResponses": responses,
    }
    if first.get("Session"):
        params["Session"] = first["Session"]
    return call("respond_to_auth_challenge", **params)


def respond_to_challenge(challenge: str, session: str, username: str, responses: dict[str, str]) -> dict[str, Any]:
    """Answer NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA, SMS_MFA or MFA_SETUP for ``username``."""
    answers = _with_secret({"USERNAME": username, **responses}, username, "SECRET_HASH")
    return call(
        "respond_to_auth_challenge",
        ClientId=_client_id(),
        ChallengeName=challenge,
        Session=session,
        ChallengeResponses=answers,
    )


def associate_software_token(*, access_token: str | None = None, session: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"AccessToken": access_token} if access_token else {"Session": session or ""}
    return call("associate_software_token", **params)


def verify_software_token(
    code: str, *, access_token: str | None = None, session: str | None = None, device_name: str = ""
) -> dict[str, Any]:
    params: dict[str, Any] = {"UserCode": code}
    if access_token:
        params["AccessToken"] = access_token
    else:
        params["Session"] = session or ""
    if device_name:
        params["FriendlyDeviceName"] = device_name
    return call("verify_software_token", **params)


def set_mfa_preference(
    access_token: str, *, totp: dict[str, bool] | None = None, sms: dict[str, bool] | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"AccessToken": access_token}
    if totp is not None:
        params["SoftwareTokenMfaSettings"] = totp
    if sms is not None:
        params["SMSMfaSettings"] = sms
    return call("set_user_mfa_preference", **params)


def refresh(
    refresh_token: str,
    username: str = "",
    *,
    client_id: str = "",
    client_secret: str | None = None,
    max_attempts: int | None = None,
) -> dict[str, Any]:
    """REFRESH_TOKEN_AUTH; with a client secret the hash is over the user's name (``cognito:username``).

    A refresh token is bound to the app client that received it: ``client_id`` (and its ``client_secret``) name
    another client than ``APP_CLIENT_ID`` (the hosted UI's, say)."""
    params: dict[str, str] = {"REFRESH_TOKEN": refresh_token}
    if client_id:
        if client_secret:
            params["SECRET_HASH"] = secret_hash(username, client_id, client_secret)
    elif cognito_settings.APP_CLIENT_SECRET:
        _with_secret(params, username, "SECRET_HASH")
    return call(
        "initiate_auth",
        max_attempts=max_attempts,
        ClientId=client_id or _client_id(),
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters=params,
    )


def forgot_password(username: str) -> dict[str, Any]:
    return call("forgot_password", **_with_secret({"ClientId": _client_id(), "Username": username}, username))


def confirm_forgot_password(username: str, code: str, new_password: str) -> dict[str, Any]:
    params = {"ClientId": _client_id(), "Username": username, "ConfirmationCode": code, "Password": new_password}
    return call("confirm_forgot_password", **_with_secret(params, username))


def change_password(access_token: str, old_password: str, new_password: str) -> dict[str, Any]:
    return call(
        "change_password", AccessToken=access_token, PreviousPassword=old_password, ProposedPassword=new_password
    )


def get_user(access_token: str) -> dict[str, Any]:
    return call("get_user", AccessToken=access_token)


def update_attributes(access_token: str, attributes: dict[str, str]) -> dict[str, Any]:
    return call("update_user_attributes", AccessToken=access_token, UserAttributes=_attributes(attributes))


def delete_attributes(access_token: str, names: list[str]) -> dict[str, Any]:
    return call("delete_user_attributes", AccessToken=access_token, UserAttributeNames=names)


def send_attribute_code(access_token: str, attribute: str) -> dict[str, Any]:
    return call("get_user_attribute_verification_code", AccessToken=access_token, AttributeName=attribute)


def verify_attribute(access_token: str, attribute: str, code: str) -> dict[str, Any]:
    return call("verify_user_attribute", AccessToken=access_token, AttributeName=attribute, Code=code)


def delete_user(access_token: str) -> dict[str, Any]:
    return call("delete_user", AccessToken=access_token)


def revoke_token(refresh_token: str) -> dict[str, Any]:
    params: dict[str, Any] = {"Token": refresh_token, "ClientId": _client_id()}
    if cognito_settings.APP_CLIENT_SECRET:
        params["ClientSecret"] = str(cognito_settings.APP_CLIENT_SECRET)
    return call("revoke_token", **params)


def global_sign_out(access_token: str) -> dict[str, Any]:
    return call("global_sign_out", AccessToken=access_token)


def list_users_by_email(email: str) -> list[dict[str, Any]]:
    """Users whose email is ``email`` (admin API): to sign in by email where Cognito does not resolve it."""
    quoted = email.replace("\\", "\\\\").replace('"', '\\"')
    answer = call("list_users", UserPoolId=str(cognito_settings.USER_POOL_ID), Filter=f'email = "{quoted}"', Limit=2)
    return list(answer.get("Users") or [])


def describe_password_policy() -> dict[str, Any]:
    """The pool's password policy (admin API), to tell a user which rules a refused password breaks."""
    answer = call("describe_user_pool", UserPoolId=str(cognito_settings.USER_POOL_ID))
    return dict(answer.get("UserPool", {}).get("Policies", {}).get("PasswordPolicy", {}) or {})


def identity_credentials(id_token: str) -> dict[str, Any]:
    """Identity pool credentials for the user of ``id_token``: GetId, then GetCredentialsForIdentity."""
    identity_pool = str(cognito_settings.IDENTITY_POOL_ID or "")
    if not identity_pool:
        raise exc.NotSupported("No identity pool is configured (COGNITO['IDENTITY_POOL_ID']).")
    provider = f"cognito-idp.{cognito_settings.REGION}.amazonaws.com/{cognito_settings.USER_POOL_ID}"
    logins = {provider: id_token}
    identity = call_service("cognito-identity", "get_id", IdentityPoolId=identity_pool, Logins=logins)
    identity_id = str(identity["IdentityId"])
    answer = call_service("cognito-identity", "get_credentials_for_identity", IdentityId=identity_id, Logins=logins)
    return {"IdentityId": identity_id, "Credentials": answer.get("Credentials") or {}}


def describe_app_client() -> dict[str, Any]:
    """The configured app client (admin API): its ``WriteAttributes`` say which attributes its users may set."""
    answer = call("describe_user_pool_client", UserPoolId=str(cognito_settings.USER_POOL_ID), ClientId=_client_id())
    return dict(answer.get("UserPoolClient") or {})


def describe_attribute_schema() -> list[dict[str, Any]]:
    """The pool's attributes (``SchemaAttributes``: ``Name``, ``Mutable`` ...), custom ones as ``custom:<name>``."""
    answer = call("describe_user_pool", UserPoolId=str(cognito_settings.USER_POOL_ID))
    return list(answer.get("UserPool", {}).get("SchemaAttributes") or [])
