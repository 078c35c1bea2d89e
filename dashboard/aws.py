"""Lambda clients for invocations, with retries off, and identity-pool credentials for the caller.

Server credentials: the site's AWS seam, ``config.aws.get_client("lambda", read_timeout=...,
max_attempts=...)``, checked to send each Invoke exactly once: botocore retries a read timeout by default, which
would run the function a second time.

Caller credentials: ``get_client`` has no parameter for credentials, so a client is built here with the
seam's own configuration (endpoint, region, timeouts, retries off) copied from the seam's client, and the
caller's temporary keys. It is built from one boto3 session kept here (``caller_session()``): handlers
registered on that session's events reach every client built afterwards (clients are kept per key until
``reset()``), which is how tests inject faults.
The credentials come from ``cognito_backend.idp.identity_credentials`` (GetId + GetCredentialsForIdentity with
the caller's id token) and are reused, in this process, until shortly before they expire.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from cognito_backend import idp
from config.aws import get_client

from .conf import dashboard_settings

_lock = threading.Lock()
_session: boto3.session.Session | None = None
_credentials: OrderedDict[str, CallerCredentials] = OrderedDict()
_caller_clients: OrderedDict[tuple[str, str, float], Any] = OrderedDict()


@dataclass(frozen=True)
class CallerCredentials:
    identity_id: str
    access_key_id: str
    secret_key: str
    session_token: str
    expires_at: float
    # When to fetch new ones: the configured margin before expiry, or half-way for short-lived keys.
    refresh_at: float = 0.0

    def __repr__(self) -> str:  # never show the keys
        return f"CallerCredentials(identity_id={self.identity_id!r})"


def read_timeout_for(function_timeout: float) -> float:
    return float(function_timeout) + float(dashboard_settings.READ_TIMEOUT_MARGIN)


def total_attempts(client: Any) -> int:
    """How many times the client sends one request (botocore normalises its retry settings to this key)."""
    return int((client.meta.config.retries or {}).get("total_max_attempts", 0))


def server_client(function_timeout: float) -> Any:
    """The seam's Lambda client, sending each Invoke exactly once, reading as long as the function may run.

    botocore's ``retries={"max_attempts": n}`` counts *retries* (legacy meaning), so the seam's
    ``max_attempts=1`` still sends a request twice; zero retries is asked for when that is so. The check on
    the built client keeps this right whichever meaning the seam gives ``max_attempts``.
    """
    timeout = read_timeout_for(function_timeout)
    client = get_client("lambda", read_timeout=timeout, max_attempts=1)
    if total_attempts(client) != 1:
        client = get_client("lambda", read_timeout=timeout, max_attempts=0)
    if total_attempts(client) != 1:
        raise ImproperlyConfigured("The Lambda client would retry Invoke; it must send each invocation once.")
    return client


def caller_session() -> boto3.session.Session:
    global _session
    with _lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session


def caller_client(function_timeout: float, credentials: CallerCredentials) -> Any:
    """A Lambda client signing with the caller's keys, configured like the seam's (retries off).

    Kept (bounded) per key and timeout while the keys are reused, since building a client costs milliseconds.
    """
    template = server_client(function_timeout)
    key = (credentials.access_key_id, credentials.session_token, read_timeout_for(function_timeout))
    session = caller_session()
    with _lock:  # boto3 sessions are not safe for concurrent client creation
        client = _caller_clients.get(key)
        if client is not None:
            _caller_clients.move_to_end(key)
            return client
        client = session.client(
            "lambda",
            region_name=template.meta.region_name,
            endpoint_url=template.meta.endpoint_url,
            config=template.meta.config,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.session_token,
        )
        _caller_clients[key] = client
        while len(_caller_clients) > int(dashboard_settings.CREDENTIALS_CACHE_SIZE):
            _caller_clients.popitem(last=False)
        return client


def _expiry(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return time.time() + 900


def caller_credentials(id_token: str) -> CallerCredentials:
    """Identity-pool credentials for the user of ``id_token``; raises ``cognito_backend`` exceptions."""
    key = hashlib.sha256(id_token.encode()).hexdigest()
    margin = float(dashboard_settings.CREDENTIALS_EXPIRY_MARGIN)
    with _lock:
        cached = _credentials.get(key)
        if cached is not None and cached.refresh_at > time.time():
            _credentials.move_to_end(key)
            return cached
    answer = idp.identity_credentials(id_token)
    raw = answer.get("Credentials") or {}
    now = time.time()
    expires_at = _expiry(raw.get("Expiration"))
    credentials = CallerCredentials(
        identity_id=str(answer.get("IdentityId", "")),
        access_key_id=str(raw.get("AccessKeyId", "")),
        secret_key=str(raw.get("SecretKey", "")),
        session_token=str(raw.get("SessionToken", "")),
        expires_at=expires_at,
        refresh_at=expires_at - min(margin, max(expires_at - now, 0.0) / 2),
    )
    with _lock:
        _credentials[key] = credentials
        while len(_credentials) > int(dashboard_settings.CREDENTIALS_CACHE_SIZE):
            _credentials.popitem(last=False)
    return credentials


def reset() -> None:
    """Forget cached credentials and the caller session (tests, and after a settings change)."""
    global _session
    with _lock:
        _credentials.clear()
        _caller_clients.clear()
        _session = None


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"AWS", "COGNITO", "COGNITO_AWS", "DASHBOARD"}:
        reset()
