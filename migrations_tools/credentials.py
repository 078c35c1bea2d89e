"""The site's side of the user-migration trigger: verify a signed request, rate-limit it, check credentials.

The trigger (``trigger/handler.py``) signs ``"<timestamp>.<body>"`` with HMAC-SHA256 and the shared secret
``COGNITO_MIGRATION_TRIGGER_SECRET``; a request is accepted once (its nonce is remembered for the allowed clock
skew), within ``TRIGGER_MAX_SKEW`` seconds, and under the per-username and per-client rates. A wrong password
and an unknown user get the same refusal, and both count against the rates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import check_password, is_password_usable
from django.core.cache import cache
from django.utils import timezone

from .conf import migration_settings
from .lazy import local_user
from .mapping import InvalidRow, cognito_username, map_attributes
from .models import UserMigration

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
    if request.source not in {AUTHENTICATION, FORGOT_PASSWORD} or not request.username or not request.nonce:
        raise TriggerError()
    # A replayed request (same nonce) is refused for as long as its timestamp would be accepted.
    if not cache.add(f"migration-trigger-nonce:{request.nonce}", 1, 2 * max_skew + 1):
        raise BadSignature()
    return request


def _limit(key: str, per_minute: int) -> None:
    bucket = f"migration-trigger-rate:{key}:{int(time.time() // 60)}"
    if cache.add(bucket, 1, 61):
        count = 1
    else:
        try:
            count = cache.incr(bucket)
        except ValueError:
            cache.set(bucket, 1, 61)
            count = 1
    if count > per_minute:
        raise RateLimited()


def limit_client(client: str) -> None:
    _limit("client:" + hashlib.sha256(client.encode()).hexdigest(), int(migration_settings.TRIGGER_RATE_PER_CLIENT))


def limit_username(username: str) -> None:
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    _limit("user:" + digest, int(migration_settings.TRIGGER_RATE_PER_USERNAME))


def check(request: TriggerRequest) -> dict[str, Any]:
    """The trigger's answer for a known user with the right password (or any known user on a reset)."""
    limit_username(request.username)
    user = local_user(request.username)
    if user is None or not getattr(user, "is_active", True):
        raise Refused()
    state = UserMigration.objects.filter(user_id=user.pk).first()
    if state is not None and state.password_migrated_at is not None:
        raise Refused()  # Cognito already holds this user's password; the local hash is retired.
    if request.source == AUTHENTICATION and not (
        is_password_usable(user.password) and check_password(request.password, user.password)
    ):
        logger.info("migration trigger refused user %s: wrong password", user.pk)
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
