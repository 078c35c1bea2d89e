"""The package's boto3 seam: every Cognito client (``cognito-idp``, ``cognito-identity``) is built here, once.

Options come from the package's own ``COGNITO_AWS`` setting (``REGION``, ``ENDPOINT_URL``, ``ENDPOINT_URLS`` per
service, ``CONNECT_TIMEOUT``, ``READ_TIMEOUT``, ``MAX_ATTEMPTS``); the region defaults to ``COGNITO['REGION']``.
Clients are cached per configuration and forgotten when a test overrides ``COGNITO_AWS`` or ``COGNITO``; boto3
clients are thread-safe, so one per process is shared. ``ClientFactory`` is public so that a site can build its
own seam for its other AWS clients from its own setting, the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import cognito_settings

#: Keys of ``COGNITO_AWS`` (and of any ``ClientFactory`` setting) with their defaults.
DEFAULTS: Mapping[str, Any] = {
    # Empty: COGNITO['REGION'] for the package's seam, "us-east-1" for a factory without a default.
    "REGION": "",
    # None: boto3's own resolution (which honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
    "ENDPOINT_URL": None,
    "ENDPOINT_URLS": {},
    "CONNECT_TIMEOUT": 2.0,
    "READ_TIMEOUT": 10.0,
    # Every attempt counts, the first included (botocore's total_max_attempts): 1 means no retry.
    "MAX_ATTEMPTS": 3,
}


_session_lock = threading.RLock()
_session: boto3.session.Session | None = None


def shared_session() -> boto3.session.Session:
    """One boto3 session per process for every factory. Building a client reads botocore's JSON data (the
    service model, endpoints, partitions): a fresh session per client parses it again each time (about 0.15 s of
    CPU per client); the session's loader keeps it parsed. Credentials are resolved by boto3's chain as usual."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                _session = boto3.session.Session()
    return _session


class ClientFactory:
    """Builds boto3 clients from one settings dict and keeps one per configuration."""

    def __init__(self, setting_name: str, *, default_region: Callable[[], str] = lambda: "us-east-1") -> None:
        self.setting_name = setting_name
        self.default_region = default_region
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], Any] = {}

    def options(self) -> dict[str, Any]:
        """The configured options over ``DEFAULTS``."""
        merged = {**DEFAULTS, **(getattr(settings, self.setting_name, None) or {})}
        merged["REGION"] = merged["REGION"] or self.default_region()
        return merged

    def endpoint_url(self, service: str, options: Mapping[str, Any] | None = None) -> str | None:
        """The endpoint for ``service``: per-service option, then the global one, else boto3's default."""
        conf = options if options is not None else self.options()
        per_service = (conf.get("ENDPOINT_URLS") or {}).get(service)
        return per_service or conf.get("ENDPOINT_URL") or None

    def get_client(
        self,
        service: str,
        *,
        read_timeout: float | None = None,
        max_attempts: int | None = None,
        region: str | None = None,
    ) -> Any:
        """A cached boto3 client for ``service``; ``read_timeout``, ``max_attempts`` and ``region`` override."""
        conf = self.options()
        key = (
            service,
            region or conf["REGION"],
            self.endpoint_url(service, conf),
            float(conf["CONNECT_TIMEOUT"]),
            float(read_timeout if read_timeout is not None else conf["READ_TIMEOUT"]),
            int(max_attempts if max_attempts is not None else conf["MAX_ATTEMPTS"]),
        )
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                _, region_name, url, connect_timeout, timeout, attempts = key
                config = Config(
                    region_name=region_name,
                    connect_timeout=connect_timeout,
                    read_timeout=timeout,
                    retries={"total_max_attempts": max(1, attempts), "mode": "standard"},
                )
                # A session is not thread-safe: clients are built under the lock (they are, once built).
                with _session_lock:
                    client = shared_session().client(service, endpoint_url=url, config=config)
                self._clients[key] = client
        return client

    def reset(self) -> None:
        with self._lock:
            self._clients.clear()


_factory = ClientFactory("COGNITO_AWS", default_region=lambda: str(cognito_settings.REGION or "us-east-1"))


def aws_settings() -> dict[str, Any]:
    """``COGNITO_AWS`` over its defaults."""
    return _factory.options()


def endpoint_url(service: str) -> str | None:
    return _factory.endpoint_url(service)


def get_client(
    service: str,
    *,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
    region: str | None = None,
) -> Any:
    """A cached client for a Cognito service (``cognito-idp``, ``cognito-identity``) configured from settings."""
    return _factory.get_client(service, read_timeout=read_timeout, max_attempts=max_attempts, region=region)


def reset_clients() -> None:
    _factory.reset()


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"COGNITO_AWS", "COGNITO"}:
        reset_clients()
