"""System checks of the accounts settings (``manage.py check`` names a mistake before the first request does)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every ``TRUSTED_PROXIES`` entry must be an address or a network: a typo would silently trust nobody."""
    raw: Any = getattr(settings, "TRUSTED_PROXIES", None) or []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    errors = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"TRUSTED_PROXIES: {text[:64]!r} is not an IP address or network (CIDR).",
                    hint="List the addresses or networks of the proxies in front of the site, comma-separated "
                    "(DJANGO_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.1).",
                    id="accounts.E001",
                )
            )
    return errors
