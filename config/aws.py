"""The site's boto3 seam for its AWS clients outside Cognito (the dashboard's Lambda, ``localaws``' IAM).

Built like the package's own seam (``cognito_backend.clients``) from the site's ``AWS`` setting; Cognito clients
come from the package and its ``COGNITO_AWS`` setting.
"""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from cognito_backend.clients import ClientFactory

_factory = ClientFactory("AWS")


def get_client(
    service: str,
    *,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
    region: str | None = None,
) -> Any:
    """A cached boto3 client for ``service`` configured from ``settings.AWS``."""
    return _factory.get_client(service, read_timeout=read_timeout, max_attempts=max_attempts, region=region)


def reset_clients() -> None:
    _factory.reset()


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "AWS":
        reset_clients()
