"""Cloud Connect: the three-step login of the original Cloud Connect client, carried out by the server.

1. unauthenticated identity-pool credentials: GetId + GetCredentialsForIdentity without logins (the enhanced
   flow); or, with ``CLOUD_CONNECT_UNAUTH_ROLE_ARN`` set, the basic (classic) flow: GetId + GetOpenIdToken +
   sts:AssumeRoleWithWebIdentity with that role. Use the basic flow on AWS: the enhanced flow's unauthenticated
   credentials are scoped down to AmazonCognitoUnAuthedIdentitiesSessionPolicy, which has no
   lambda:InvokeFunction, so AWS refuses step 2 with them (moto checks no IAM and lets it pass);
2. with them, AuthLambda is invoked with ``{"username", "password"}``; it answers the account and a Cognito id
   token (``account.credentials.token``), or an error;
3. GetCredentialsForIdentity again, with ``Logins {"cognito-idp.<region>.amazonaws.com/<pool>": token}``: the
   privileged credentials that every later invocation of a ``cloud_connect`` function signs with.

The password serves step 2 only: it is never stored, logged or audited (the audit row of step 2 keeps the
payload's size, not even its hash). A signed-in user's login is kept in ``CloudConnectLogin``, encrypted with the
token store's keys (``TOKEN_ENCRYPTION_KEY``), and renewed by repeating step 3 with the stored token shortly
before the credentials expire; the user notices nothing. Once the token itself has expired, renewal needs the
password again: the user is asked to connect again (403 ``cloud_connect_login_required``). The Python client
(``dashboard.cloudconnect_client``) keeps its login in memory and renews it the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from cryptography.fernet import InvalidToken
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from accounts import token_store
from cognito_backend import exceptions as cognito_exceptions
from cognito_backend import idp
from cognito_backend.conf import cognito_settings
from config import aws as site_aws

from . import aws, services
from .conf import dashboard_settings
from .exceptions import (
    CloudConnectError,
    CloudConnectLoginRefused,
    CloudConnectLoginRequired,
    DashboardError,
    FunctionFailed,
)
from .models import CloudConnectLogin, Invocation, LambdaFunction

logger = logging.getLogger(__name__)

STEPS = (
    "Unauthenticated identity-pool credentials",
    "AuthLambda checks the username and password",
    "Privileged identity-pool credentials",
)


@dataclass
class Step:
    """One step's progress, for the page: ``pending``, ``done`` or ``failed`` (with the error)."""

    number: int
    title: str
    status: str = "pending"
    detail: str = ""


def new_steps() -> list[Step]:
    return [Step(number, title) for number, title in enumerate(STEPS, start=1)]


@dataclass(frozen=True)
class Connection:
    """A completed login: the privileged credentials and what renews them. ``account`` is AuthLambda's account
    without its credentials."""

    cloud_username: str
    identity_id: str
    token: str = field(repr=False)
    token_expires_at: float
    credentials: aws.CallerCredentials
    account: dict[str, Any] = field(default_factory=dict, repr=False)
    # The Logins key the token is given under in step 3.
    provider: str = ""

    @property
    def expires_at(self) -> float:
        return self.credentials.expires_at


class LoginSource(Protocol):
    """Where a caller's Cloud Connect credentials come from: the database (signed-in users) or memory (client)."""

    def credentials(self) -> aws.CallerCredentials: ...


# --- settings ----------------------------------------------------------------------------------------------------


def identity_pool_id() -> str:
    return str(dashboard_settings.CLOUD_CONNECT_IDENTITY_POOL_ID or cognito_settings.IDENTITY_POOL_ID or "")


def unauth_role_arn() -> str:
    """Step 1's flow: the unauthenticated role for the basic flow; empty for the enhanced flow."""
    return str(dashboard_settings.CLOUD_CONNECT_UNAUTH_ROLE_ARN or "").strip()


def login_key(provider: str = "") -> str:
    """The setting; else the provider AuthLambda named (``account.credentials.provider``); else COGNITO's pool."""
    configured = str(dashboard_settings.CLOUD_CONNECT_LOGIN_KEY or "")
    if configured:
        return configured
    if provider:
        return provider
    return f"cognito-idp.{cognito_settings.REGION}.amazonaws.com/{cognito_settings.USER_POOL_ID}"


def auth_function() -> LambdaFunction:
    """AuthLambda as a function to call (not a registry row): synchronous, its own timeout."""
    name = str(dashboard_settings.CLOUD_CONNECT_AUTH_FUNCTION)
    return LambdaFunction(
        name="cloud-connect-login",
        display_name="Cloud Connect login",
        function_name=name,
        timeout=int(dashboard_settings.CLOUD_CONNECT_AUTH_TIMEOUT),
        credentials=LambdaFunction.Credentials.CLOUD_CONNECT,
    )


# --- the three steps -----------------------------------------------------------------------------------------------


def _credentials(identity_id: str, answer: dict[str, Any]) -> aws.CallerCredentials:
    raw = answer.get("Credentials") or {}
    now = time.time()
    expires_at = aws._expiry(raw.get("Expiration"))
    margin = float(dashboard_settings.CLOUD_CONNECT_EXPIRY_MARGIN)
    return aws.CallerCredentials(
        identity_id=identity_id,
        access_key_id=str(raw.get("AccessKeyId", "")),
        secret_key=str(raw.get("SecretKey", "")),
        session_token=str(raw.get("SessionToken", "")),
        expires_at=expires_at,
        refresh_at=expires_at - min(margin, max(expires_at - now, 0.0) / 2),
    )


def _identity_error(step: int, error: cognito_exceptions.CognitoError) -> CloudConnectError:
    refused = isinstance(error, cognito_exceptions.NotAuthorized)
    result = CloudConnectError(
        f"The identity pool refused step {step} ({error.code}): {error.detail}",
        step=step,
        code="cloud_connect_identity_refused" if refused else "cloud_connect_identity_unavailable",
    )
    result.status_code = 502 if refused else error.status_code
    if isinstance(error, cognito_exceptions.Throttled):
        result.retry_after = error.retry_after
    return result


def _sts_error(error: Exception) -> CloudConnectError:
    """An STS failure of step 1 (basic flow): refused (502) or unavailable (503), with AWS's error code only."""
    if isinstance(error, ClientError):
        aws_code = str(error.response.get("Error", {}).get("Code", "")) or "error"
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) or 400)
        throttled = aws_code in {"Throttling", "ThrottlingException", "RequestLimitExceeded"}
        if throttled or status >= 500:
            return _sts_unavailable(
                f"STS could not give the unauthenticated role's credentials in step 1 ({aws_code}): try again shortly."
            )
        return CloudConnectError(
            f"STS refused the unauthenticated role in step 1 ({aws_code}): check CLOUD_CONNECT_UNAUTH_ROLE_ARN, "
            "the role's trust policy and the identity pool's AllowClassicFlow.",
            step=1,
            code="cloud_connect_identity_refused",
        )
    if isinstance(error, ParamValidationError):
        return CloudConnectError(
            "STS refused the unauthenticated role in step 1 (invalid parameter): check CLOUD_CONNECT_UNAUTH_ROLE_ARN.",
            step=1,
            code="cloud_connect_identity_refused",
        )
    return _sts_unavailable(f"STS could not be reached in step 1 ({type(error).__name__}): try again shortly.")


def _sts_unavailable(detail: str) -> CloudConnectError:
    """Step 1's STS call may succeed later (throttled, a 5xx, unreachable): 503 with Retry-After."""
    result = CloudConnectError(
        detail, step=1, code="cloud_connect_identity_unavailable", retry_after=int(dashboard_settings.RETRY_AFTER)
    )
    result.status_code = 503
    return result


@sensitive_variables("token", "answer", "raw")
def _assumed_credentials(identity_id: str, role_arn: str, token: str) -> aws.CallerCredentials:
    """Step 1 of the basic flow, last part: sts:AssumeRoleWithWebIdentity with the identity's OpenID token."""
    session_name = f"cloud-connect-{identity_id.rsplit(':', 1)[-1]}"[:64]
    try:
        answer = site_aws.get_client("sts").assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=token
        )
    except (ClientError, BotoCoreError) as error:
        logger.warning("cloud connect step 1: sts AssumeRoleWithWebIdentity failed: %s", type(error).__name__)
        raise _sts_error(error) from None
    raw = answer.get("Credentials") or {}
    return _credentials(
        identity_id,
        {
            "Credentials": {
                "AccessKeyId": raw.get("AccessKeyId", ""),
                "SecretKey": raw.get("SecretAccessKey", ""),
                "SessionToken": raw.get("SessionToken", ""),
                "Expiration": raw.get("Expiration"),
            }
        },
    )


def unauthenticated_credentials() -> aws.CallerCredentials:
    """Step 1: GetId, then GetCredentialsForIdentity without logins (enhanced flow), or with
    ``CLOUD_CONNECT_UNAUTH_ROLE_ARN`` set GetOpenIdToken + sts:AssumeRoleWithWebIdentity (basic flow)."""
    pool = identity_pool_id()
    if not pool:
        raise CloudConnectError(
            "No identity pool is configured for Cloud Connect (CLOUD_CONNECT_IDENTITY_POOL_ID).",
            step=1,
            code="cloud_connect_not_configured",
        )
    role_arn = unauth_role_arn()
    try:
        identity_id = str(idp.call_service("cognito-identity", "get_id", IdentityPoolId=pool)["IdentityId"])
        if role_arn:
            token = str(idp.call_service("cognito-identity", "get_open_id_token", IdentityId=identity_id)["Token"])
        else:
            answer = idp.call_service("cognito-identity", "get_credentials_for_identity", IdentityId=identity_id)
    except cognito_exceptions.CognitoError as error:
        raise _identity_error(1, error) from error
    if role_arn:
        return _assumed_credentials(identity_id, role_arn, token)
    return _credentials(identity_id, answer)


def _message(answer: Any) -> str:
    """AuthLambda's own words for a refusal, whatever shape its answer has."""
    if isinstance(answer, dict):
        for key in ("errorMessage", "error_description", "message", "error", "detail"):
            value = answer.get(key)
            if isinstance(value, dict):
                return _message(value)
            if value:
                return str(value)
    if isinstance(answer, str):
        return answer
    return ""


@sensitive_variables("password", "payload")
def authenticate(
    username: str, password: str, credentials: aws.CallerCredentials, *, user: Any = None
) -> tuple[str, str, dict[str, Any]]:
    """Step 2: AuthLambda with the unauthenticated credentials: the token, the provider it names (may be empty)
    and the account without its credentials.

    The attempt is audited like any invocation, with the payload's size only.
    """
    function = auth_function()
    payload = json.dumps({"username": username, "password": password}).encode()
    record = Invocation(
        user=user if getattr(user, "pk", None) else None,
        username=str(user.get_username())[:150] if getattr(user, "pk", None) else username[:150],
        function_key=function.name,
        aws_function_name=function.function_name,
        invocation_type=function.invocation_type,
        credentials=function.credentials,
        identity_id=credentials.identity_id[:64],
        payload_size=len(payload),
    )
    try:
        try:
            result = services.call_lambda(function, aws.caller_client(function.timeout, credentials), payload, record)
        except FunctionFailed as error:
            message = str(error.extra.get("error_message") or error.extra.get("error_type") or error.detail)
            raise CloudConnectLoginRefused(message, step=2) from None
        except DashboardError as error:
            failed = CloudConnectError(f"AuthLambda could not be called: {error.detail}", step=2, code=error.code)
            failed.status_code = error.status_code
            failed.retry_after = error.retry_after
            raise failed from error
        answer = result.result
        account = answer.get("account") if isinstance(answer, dict) else None
        creds = account.get("credentials") if isinstance(account, dict) else None
        token = creds.get("token") if isinstance(creds, dict) else None
        if not isinstance(token, str) or not token:
            raise CloudConnectLoginRefused(_message(answer) or CloudConnectLoginRefused.default_detail, step=2)
    except DashboardError as error:
        services.finish(record, error.audit_status, error.status_code, error=error)
        raise
    services.finish(record, Invocation.Status.SUCCEEDED, result.status_code)
    assert isinstance(account, dict) and isinstance(creds, dict)
    public = {key: value for key, value in account.items() if key != "credentials"}
    return token, str(creds.get("provider") or ""), public


def privileged_credentials(identity_id: str, token: str, provider: str = "") -> aws.CallerCredentials:
    """Step 3: GetCredentialsForIdentity with the token under the login key.

    The unauthenticated identity is tried first (Cognito links the login to it); when the pool refuses that
    (the login already has an identity of its own), the login's identity is looked up with GetId.
    """
    logins = {login_key(provider): token}
    try:
        try:
            answer = idp.call_service(
                "cognito-identity", "get_credentials_for_identity", IdentityId=identity_id, Logins=logins
            )
        except cognito_exceptions.IdpError as refused:
            if not isinstance(refused, cognito_exceptions.NotAuthorized) and refused.code != "resource_conflict":
                raise
            identity = idp.call_service("cognito-identity", "get_id", IdentityPoolId=identity_pool_id(), Logins=logins)
            identity_id = str(identity["IdentityId"])
            answer = idp.call_service(
                "cognito-identity", "get_credentials_for_identity", IdentityId=identity_id, Logins=logins
            )
    except cognito_exceptions.CognitoError as error:
        raise _identity_error(3, error) from error
    return _credentials(str(answer.get("IdentityId") or identity_id), answer)


def token_expiry(token: str) -> float:
    """The token's ``exp`` (read, not verified: only to know when renewal needs a new login); 0 if unreadable."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return float(claims.get("exp", 0))
    except (IndexError, ValueError, TypeError, AttributeError, binascii.Error):
        return 0.0


@sensitive_variables("password")
def login(username: str, password: str, *, steps: list[Step] | None = None, user: Any = None) -> Connection:
    """The three steps; ``steps`` (from ``new_steps()``) records each one's progress. Raises ``CloudConnectError``."""
    steps = steps if steps is not None else new_steps()
    current = 0
    try:
        current = 1
        anonymous = unauthenticated_credentials()
        steps[0].status = "done"
        current = 2
        token, provider, account = authenticate(username, password, anonymous, user=user)
        steps[1].status = "done"
        current = 3
        privileged = privileged_credentials(anonymous.identity_id, token, provider)
        steps[2].status = "done"
    except DashboardError as error:
        steps[current - 1].status = "failed"
        steps[current - 1].detail = error.detail
        logger.info("cloud connect login of %s failed at step %s: %s", username, current, error.code)
        raise
    logger.info("cloud connect login of %s: identity %s", username, privileged.identity_id)
    return Connection(
        cloud_username=username,
        identity_id=privileged.identity_id,
        token=token,
        token_expires_at=token_expiry(token) or privileged.expires_at,
        credentials=privileged,
        account=account,
        provider=provider,
    )


def renew(connection: Connection) -> Connection:
    """Step 3 again with the stored token; ``CloudConnectLoginRequired`` once the token has expired."""
    if connection.token_expires_at <= time.time():
        raise CloudConnectLoginRequired(
            "Your Cloud Connect login has expired: connect with Cloud Connect again (/dashboard/cloud-connect/)."
        )
    try:
        privileged = privileged_credentials(connection.identity_id, connection.token, connection.provider)
    except CloudConnectError as error:
        if error.code == "cloud_connect_identity_refused":  # the token is no longer accepted: a new login
            raise CloudConnectLoginRequired(
                "Cloud Connect no longer accepts your login: connect with Cloud Connect again."
            ) from error
        raise
    logger.info("cloud connect credentials of %s renewed", connection.cloud_username)
    return Connection(
        cloud_username=connection.cloud_username,
        identity_id=privileged.identity_id,
        token=connection.token,
        token_expires_at=connection.token_expires_at,
        credentials=privileged,
        account=connection.account,
        provider=connection.provider,
    )


# --- where a caller's login is kept ----------------------------------------------------------------------------------


def _timestamp(value: datetime) -> float:
    return value.timestamp()


def _datetime(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _seal(connection: Connection) -> str:
    credentials = connection.credentials
    data = {
        "token": connection.token,
        "access_key_id": credentials.access_key_id,
        "secret_key": credentials.secret_key,
        "session_token": credentials.session_token,
        "refresh_at": credentials.refresh_at,
        "account": connection.account,
        "provider": connection.provider,
    }
    return token_store.fernet().encrypt(json.dumps(data).encode()).decode()


def _open(row: CloudConnectLogin) -> Connection | None:
    try:
        data = json.loads(token_store.fernet().decrypt(row.secret.encode()))
    except (InvalidToken, ValueError, TypeError):
        logger.warning("cloud connect login of user %s cannot be decrypted; it is dropped", row.user_id)
        return None
    credentials = aws.CallerCredentials(
        identity_id=row.identity_id,
        access_key_id=str(data["access_key_id"]),
        secret_key=str(data["secret_key"]),
        session_token=str(data["session_token"]),
        expires_at=_timestamp(row.expires_at),
        refresh_at=float(data.get("refresh_at") or 0.0),
    )
    return Connection(
        cloud_username=row.cloud_username,
        identity_id=row.identity_id,
        token=str(data["token"]),
        token_expires_at=_timestamp(row.token_expires_at),
        credentials=credentials,
        account=dict(data.get("account") or {}),
        provider=str(data.get("provider") or ""),
    )


def store(user: Any, connection: Connection) -> CloudConnectLogin:
    row, _ = CloudConnectLogin.objects.update_or_create(
        user=user,
        defaults={
            "cloud_username": connection.cloud_username[:150],
            "identity_id": connection.identity_id[:64],
            "secret": _seal(connection),
            "expires_at": _datetime(connection.expires_at),
            "token_expires_at": _datetime(connection.token_expires_at),
        },
    )
    return row


@sensitive_variables("password")
def connect(user: Any, username: str, password: str, *, steps: list[Step] | None = None) -> Connection:
    """Log ``user`` in with Cloud Connect and keep the login for their invocations."""
    connection = login(username, password, steps=steps, user=user)
    store(user, connection)
    return connection


def disconnect(user: Any) -> None:
    CloudConnectLogin.objects.filter(user=user).delete()


def stored_login(user: Any) -> CloudConnectLogin | None:
    if not getattr(user, "pk", None):
        return None
    return CloudConnectLogin.objects.filter(user=user).first()


@dataclass
class StoredLogin:
    """A signed-in user's login in the database, renewed in place when due."""

    user: Any

    def credentials(self) -> aws.CallerCredentials:
        row = stored_login(self.user)
        connection = _open(row) if row is not None else None
        if row is None or connection is None:
            if row is not None:
                row.delete()
            raise CloudConnectLoginRequired()
        if connection.credentials.refresh_at > time.time():
            return connection.credentials
        try:
            renewed = renew(connection)
        except CloudConnectLoginRequired:
            row.delete()
            raise
        with transaction.atomic():
            store(self.user, renewed)
        return renewed.credentials


@dataclass
class MemoryLogin:
    """A login held in memory (the Python client), renewed in place when due."""

    connection: Connection
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def credentials(self) -> aws.CallerCredentials:
        with self._lock:
            if self.connection.credentials.refresh_at <= time.time():
                self.connection = renew(self.connection)
            return self.connection.credentials


def credentials_for(caller: Any) -> aws.CallerCredentials:
    """The privileged credentials of ``caller``: its in-memory login, else the user's stored one, renewed when due."""
    source: LoginSource = getattr(caller, "cloud_connect", None) or StoredLogin(caller.user)
    return source.credentials()
