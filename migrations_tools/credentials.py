"""The site's side of the user-migration trigger: verify a signed request, rate-limit it, check credentials.

The trigger (``trigger/handler.py``) signs ``"<timestamp>.<body>"`` with HMAC-SHA256 and the shared secret
``COGNITO_MIGRATION_TRIGGER_SECRET``; a request is accepted once (its nonce is remembered for the allowed clock
skew), within ``TRIGGER_MAX_SKEW`` seconds, and under the per-username and per-client rates. The signature is
checked first: an unsigned request costs nothing and is counted nowhere, so it cannot use up a genuine client's
rate. Nonces and counters live in the database (``attempts.py``), shared by every worker. A wrong password and
an unknown user get the same refusal after the same hasher work (``passwords.py``), and both count against the
rates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from cognito_backend.models import CognitoIdentity

from . import attempts
from .conf import migration_settings
from .lazy import local_user
from .mapping import InvalidRow, cognito_username, map_attributes
from .models import UserMigration
from .passwords import check_local_password

logger = logging.getLogger(__name__)

AUTHENTICATION = "UserMigration_Authentication"
FORGOT_PASSWORD = "UserMigration_ForgotPassword"  # noqa: S105 - a trigger source, not a password


class TriggerError(Exception):
    status = 400
    code = "bad_request"
    retry_after = 0


class Disabled(TriggerError):
    status = 404
    code = "disabled"


class BadSignature(TriggerError):
    status = 401
    code = "bad_signature"


class Refused(TriggerError):
    status = 403
    code = "not_authorized"


class RateLimited(TriggerError):
    status = 429
    code = "throttled"
    retry_after = 60


@dataclass(frozen=True)
class TriggerRequest:
    source: str
    username: str
    password: str
    nonce: str


def _secret() -> str:
    secret = str(migration_settings.TRIGGER_SECRET or "")
    if not secret:
        raise Disabled()
    return secret


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(body: bytes, timestamp: str, signature: str, *, now: float | None = None) -> TriggerRequest:
    """The request if its signature, age and nonce are good; ``BadSignature`` otherwise."""
    secret = _secret()
    if not hmac.compare_digest(expected_signature(secret, timestamp, body), signature or ""):
        raise BadSignature()
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        raise BadSignature() from None
    max_skew = int(migration_settings.TRIGGER_MAX_SKEW)
    if age > max_skew:
        raise BadSignature()
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise TriggerError() from None
    if not isinstance(data, dict):
        raise TriggerError()
    request = TriggerRequest(
        source=str(data.get("triggerSource", "")),
        username=str(data.get("userName", "")),
        password=str(data.get("password", "")),
        nonce=str(data.get("nonce", "")),
    )
    if request.source not in {AUTHENTICATION, FORGOT_PASSWORD} or not request.username:
        raise TriggerError()
    if not request.nonce or len(request.nonce) > 128:
        raise TriggerError()
    # A replayed request (same nonce) is refused, by every worker, for as long as its timestamp would be accepted.
    if not attempts.use_nonce(request.nonce, ttl=2 * max_skew + 1, now=now):
        raise BadSignature()
    return request


def _limit(key: str, per_minute: int) -> None:
    if attempts.add("trigger:" + key, window=60) > per_minute:
        raise RateLimited()


def limit_client(client: str) -> None:
    """Per client address; call it only for a verified request (an unsigned flood must not use it up)."""
    _limit("client:" + attempts.digest(client), int(migration_settings.TRIGGER_RATE_PER_CLIENT))


def limit_username(username: str) -> None:
    _limit("user:" + attempts.digest(username), int(migration_settings.TRIGGER_RATE_PER_USERNAME))


def _may_migrate(user: Any) -> bool:
    """The local user may be created in the pool by the trigger now.

    Not when they were created or linked before (the trigger runs only for usernames the pool does not know, so
    such a user was deleted in the pool: an administrator's decision a sign-in must not undo), nor when
    Cognito already holds their password.
    """
    if not getattr(user, "is_active", True):
        return False
    state = UserMigration.objects.filter(user_id=user.pk).first()
    if state is not None and (state.password_migrated_at is not None or state.state == UserMigration.State.DONE):
        return False
    return not CognitoIdentity.objects.filter(user_id=user.pk).exists()


def check(request: TriggerRequest) -> dict[str, Any]:
    """The trigger's answer for a known user with the right password (or any known user on a reset)."""
    limit_username(request.username)
    found = local_user(request.username)
    user = found if found is not None and _may_migrate(found) else None
    if request.source == AUTHENTICATION:
        # One hasher run whatever the case: the time taken does not tell a legacy user from anyone else.
        if not check_local_password(user, request.password) or user is None:
            if user is not None:
                logger.info("migration trigger refused user %s: wrong password", user.pk)
            raise Refused()
    elif user is None:
        raise Refused()
    try:
        attributes = map_attributes(user)
    except InvalidRow as row:
        logger.warning("migration trigger: user %s cannot be migrated: %s", user.pk, row.code)
        raise Refused() from row
    answer: dict[str, Any] = {"userAttributes": attributes, "messageAction": "SUPPRESS"}
    defaults: dict[str, Any] = {
        "state": UserMigration.State.DONE,
        "outcome": UserMigration.Outcome.TRIGGER,
        "cognito_username": cognito_username(user),
        "error_code": "",
        "detail": "",
    }
    if request.source == AUTHENTICATION:
        answer["finalUserStatus"] = "CONFIRMED"
        defaults["password_migrated_at"] = timezone.now()
    UserMigration.objects.update_or_create(user_id=user.pk, defaults=defaults)
    logger.info("migration trigger accepted user %s (%s)", user.pk, request.source)
    return answer
