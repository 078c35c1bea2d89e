"""Cognito "user migration" Lambda trigger: asks the Django site whether the credentials are right.

Deploy this file alone (Python 3.11+ runtime, handler ``handler.handler``; standard library only). Cognito
calls it when someone signs in (``UserMigration_Authentication``) or asks for a password reset
(``UserMigration_ForgotPassword``) with a username the pool does not know. It posts the username (and password)
to the site's endpoint, signed with HMAC-SHA256 over ``"<timestamp>.<body>"`` with a secret shared with the
site, and turns the answer into the trigger's response. Cognito then creates the user with that password.

Environment:
- ``MIGRATION_ENDPOINT_URL``: ``https://<site>/api/migration/trigger/``
- ``MIGRATION_SHARED_SECRET``: the site's ``COGNITO_MIGRATION_TRIGGER_SECRET`` (keep it encrypted at rest)
- ``MIGRATION_TIMEOUT``: seconds to wait for the site (default 4; Cognito gives the trigger 5 in all)
- ``MIGRATION_ECHO_USERNAME``: ``true`` only for cognito-local, which takes the new user's name from the
  ``username`` attribute of the response (real Cognito uses the name that was typed)

Nothing here logs the password or the response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

SOURCES = {"UserMigration_Authentication", "UserMigration_ForgotPassword"}
SIGNATURE_HEADER = "X-Migration-Signature"
TIMESTAMP_HEADER = "X-Migration-Timestamp"


class MigrationRefused(Exception):
    """Raised to make Cognito refuse the sign-in; the message reaches the client, so it names no one."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _post(url: str, secret: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's configuration
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer
    except urllib.error.HTTPError as error:
        if error.code == 403:
            raise MigrationRefused("Incorrect username or password.") from None
        if error.code == 429:
            raise MigrationRefused("Too many attempts; try again later.") from None
        raise MigrationRefused(f"The migration service refused the request ({error.code}).") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        raise MigrationRefused("The migration service is unavailable.") from None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    source = str(event.get("triggerSource", ""))
    if source not in SOURCES:
        return event
    url = os.environ["MIGRATION_ENDPOINT_URL"]
    secret = os.environ["MIGRATION_SHARED_SECRET"]
    timeout = float(os.environ.get("MIGRATION_TIMEOUT", "4"))
    request = event.get("request") or {}
    payload: dict[str, Any] = {
        "triggerSource": source,
        "userName": str(event.get("userName", "")),
        "userPoolId": str(event.get("userPoolId", "")),
        "nonce": uuid.uuid4().hex,
    }
    if source == "UserMigration_Authentication":
        payload["password"] = str(request.get("password") or "")
    answer = _post(url, secret, payload, timeout)
    attributes = dict(answer.get("userAttributes") or {})
    if os.environ.get("MIGRATION_ECHO_USERNAME", "").lower() in {"1", "true", "yes"}:
        attributes["username"] = payload["userName"]
    response = event.setdefault("response", {})
    response["userAttributes"] = attributes
    response["messageAction"] = "SUPPRESS"
    if answer.get("finalUserStatus"):
        response["finalUserStatus"] = answer["finalUserStatus"]
    return event
