"""Typed access to ``settings.COGNITO`` with defaults, reloaded when a test overrides the setting.

Modelled on DRF's ``api_settings``: read ``cognito_settings.USER_POOL_ID`` anywhere; the values are looked up
lazily and cached until ``setting_changed`` fires for ``COGNITO`` or ``AWS``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    "REGION": "us-east-1",
    "USER_POOL_ID": "",
    "APP_CLIENT_ID": "",
    "APP_CLIENT_SECRET": "",
    # Empty means the AWS form derived from region and pool id.
    "ISSUER": "",
    # Empty means "<issuer>/.well-known/jwks.json".
    "JWKS_URL": "",
    "IDENTITY_POOL_ID": "",
    "DOMAIN": "",
}


class CognitoSettings:
    """Attribute access to the ``COGNITO`` dict, falling back to ``DEFAULTS``."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def _user_settings(self) -> dict[str, Any]:
        return dict(getattr(settings, "COGNITO", {}) or {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Invalid Cognito setting: {name!r}")
        if name not in self._cache:
            self._cache[name] = self._user_settings().get(name, DEFAULTS[name])
        return self._cache[name]

    @property
    def issuer(self) -> str:
        """The issuer tokens must carry: configured, or the AWS form for the region and pool."""
        if self.ISSUER:
            return str(self.ISSUER).rstrip("/")
        return f"https://cognito-idp.{self.REGION}.amazonaws.com/{self.USER_POOL_ID}"

    @property
    def jwks_url(self) -> str:
        """Where the pool's signing keys are served; separate from the issuer so a stand-in can serve them."""
        if self.JWKS_URL:
            return str(self.JWKS_URL)
        return f"{self.issuer}/.well-known/jwks.json"

    def reload(self) -> None:
        self._cache.clear()


cognito_settings = CognitoSettings()


@receiver(setting_changed)
def _reload_cognito_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == "COGNITO":
        cognito_settings.reload()
