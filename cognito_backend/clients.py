"""The one boto3 seam: every AWS client of the project is built here, once, from settings.

Region, endpoint (``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``), timeouts and retries come from
``settings.AWS``; clients are cached per configuration and rebuilt when a test overrides ``AWS``. boto3 clients
are thread-safe, so one per process is shared.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Any] = {}


def aws_settings() -> dict[str, Any]:
    base: dict[str, Any] = {
        "REGION": "us-east-1",
        "ENDPOINT_URL": None,
        "ENDPOINT_URLS": {},
        "CONNECT_TIMEOUT": 2.0,
        "READ_TIMEOUT": 10.0,
        "MAX_ATTEMPTS": 3,
    }
    base.update(getattr(settings, "AWS", {}) or {})
    return base


def endpoint_url(service: str) -> str | None:
    """The endpoint for ``service``: per-service setting, then the global one, else boto3's default."""
    conf = aws_settings()
    per_service = (conf.get("ENDPOINT_URLS") or {}).get(service)
    return per_service or conf.get("ENDPOINT_URL") or None


def get_client(
    service: str,
    *,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
    region: str | None = None,
) -> Any:
    """Return a cached boto3 client for ``service`` configured from settings.

    ``max_attempts`` counts every attempt, the first included (botocore's ``total_max_attempts``): ``1`` turns
    retries off (Lambda Invoke must never be retried after a read timeout).
    """
    conf = aws_settings()
    key = (
        service,
        region or conf["REGION"],
        endpoint_url(service),
        float(conf["CONNECT_TIMEOUT"]),
        float(read_timeout if read_timeout is not None else conf["READ_TIMEOUT"]),
        int(max_attempts if max_attempts is not None else conf["MAX_ATTEMPTS"]),
    )
    client = _clients.get(key)
    if client is not None:
        return client
    with _lock:
        client = _clients.get(key)
        if client is None:
            _, region_name, url, connect_timeout, timeout, attempts = key
            config = Config(
                region_name=region_name,
                connect_timeout=connect_timeout,
                read_timeout=timeout,
                retries={"total_max_attempts": max(1, attempts), "mode": "standard"},
            )
            client = boto3.session.Session().client(service, endpoint_url=url, config=config)
            _clients[key] = client
    return client


def reset_clients() -> None:
    with _lock:
        _clients.clear()


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"AWS", "COGNITO"}:
        reset_clients()
