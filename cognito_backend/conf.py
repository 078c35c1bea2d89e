"""Typed access to ``settings.COGNITO`` with defaults, reloaded when a test overrides the setting.

Modelled on DRF's ``api_settings``: read ``cognito_settings.USER_POOL_ID`` anywhere; the values are looked up
lazily and cached until ``setting_changed`` fires for ``COGNITO``. ``AppSettings`` is the base class other apps
reuse for their own namespaced settings.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from types import MappingProxyType
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
    # --- token verification (tokens.py, jwks.py) ---
    # More app clients of the main pool whose tokens are accepted.
    "APP_CLIENT_IDS": [],
    # More user pools: dicts with USER_POOL_ID, APP_CLIENT_IDS and optionally REGION, ISSUER, JWKS_URL.
    "POOLS": [],
    # Which tokens authenticate a request: "id", "access" or both.
    "TOKEN_USE": ["access", "id"],
    # Algorithms accepted, never taken from the token: a subset of RS256, RS384, RS512. Cognito uses RS256.
    "ALGORITHMS": ["RS256"],
    # Clock skew allowed on exp, nbf and iat, in seconds.
    "LEEWAY": 5,
    # Tokens longer than this many characters are refused before any parsing.
    "MAX_TOKEN_SIZE": 8192,
    # Longest accepted lifetime (exp - iat) of an id or access token, in seconds; Cognito's own maximum is 1 day.
    "MAX_TOKEN_LIFETIME": 24 * 3600,
    # When set, a token must carry at least one of these groups / scopes (aws-jwt-verify semantics).
    "REQUIRED_GROUPS": [],
    "REQUIRED_SCOPES": [],
    # JWKS: how long the keys stay in the Django cache, how long an unknown kid waits before the next
    # refetch (the penalty box), and the HTTP timeouts (connect, read) of a fetch.
    "JWKS_CACHE_SECONDS": 6 * 3600,
    "JWKS_PENALTY_SECONDS": 10.0,
    "JWKS_CONNECT_TIMEOUT": 2.0,
    "JWKS_READ_TIMEOUT": 3.0,
    # Verified tokens kept in process memory (bounded), until they expire or are revoked.
    "TOKEN_CACHE_SIZE": 4096,
    # --- the two doors' shared path (services.py): import strings of the swappable parts ---
    "TOKEN_VERIFIER": "cognito_backend.tokens.verify_token",
    "REVOCATION_CHECKER": "cognito_backend.services.check_revocation",
    "USER_MAPPER": "cognito_backend.mapping.UserMapper",
    # --- users (mapping.py) ---
    # How a first sign-in finds an existing local user: "email" (verified emails only), "username", or "".
    "LINK_BY": "email",
    # LINK_BY="username" links a pool user to the unlinked local user of the same name: only safe when every
    # pool username is known to belong to that person (never for staff or superusers, whatever this says).
    "TRUST_POOL_USERNAMES": False,
    "CREATE_USERS": True,
    # Django groups that mirror Cognito groups; membership of other groups is never touched. "*" means all.
    "MANAGED_GROUPS": [],
    # Cognito groups that make a user staff / superuser (and revoke it when the user leaves them); members of a
    # superuser group are staff too.
    "STAFF_GROUPS": [],
    "SUPERUSER_GROUPS": [],
    # How long the user behind a sub is cached in memory (seconds); user saves invalidate it at once.
    "USER_CACHE_SECONDS": 300,
    # Minimum seconds between two updates of CognitoIdentity.last_seen for one user.
    "LAST_SEEN_INTERVAL": 300,
    # --- revocation (revocation.py) ---
    # Confirm access tokens with Cognito's GetUser (catches sign-outs done directly against Cognito).
    "ONLINE_CHECK": False,
    "ONLINE_CHECK_INTERVAL": 60,
    # When Cognito cannot be reached during an online check: accept the token (True) or refuse it (False).
    "ONLINE_CHECK_FAIL_OPEN": True,
    # Read timeout (seconds) of the online check; it is never retried.
    "ONLINE_CHECK_TIMEOUT": 3.0,
    # Whether the Django cache is shared by every process (None: guess from the backend; locmem and dummy
    # are not). Revocations reach other processes through a shared cache at once; without one, every
    # request asks the database.
    "SHARED_CACHE": None,
    # Redis URL of the invalidation bus (cache.py): None uses the default cache's Redis, "" turns it off.
    "INVALIDATION_REDIS_URL": None,
    # The bus is trusted only while Redis answered its pings within this many seconds.
    "INVALIDATION_LIVENESS_SECONDS": 3.0,
    # How long a process remembers a revocation answer in memory: the longest a revocation made by another
    # process can go unseen (0: never remember; every request reads the shared cache or the database).
    "REVOCATION_MEMO_SECONDS": 5.0,
    # How long revocation lookups stay in the shared cache; writers overwrite them at once.
    "REVOCATION_CACHE_SECONDS": 24 * 3600,
    # How long a "not revoked" answer stays in the shared cache.
    "REVOCATION_NEGATIVE_CACHE_SECONDS": 60,
    # How long a revoked refresh token family is remembered (Cognito's refresh tokens live 30 days by default).
    "REFRESH_TOKEN_LIFETIME": 30 * 24 * 3600,
}


class AppSettings:
    """Attribute access to one namespaced settings dict (``settings.<setting_name>``), falling back to ``defaults``.

    The one base class for an app's settings: subclass it with ``setting_name`` and ``defaults``. Values are
    looked up lazily and cached until ``setting_changed`` fires for that setting (a test's override), so reading
    them on a hot path costs a dict lookup.
    """

    setting_name: str = ""
    defaults: Mapping[str, Any] = MappingProxyType({})

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        _instances.add(self)

    def user_settings(self) -> dict[str, Any]:
        """The site's dict as configured, without defaults."""
        return dict(getattr(settings, self.setting_name, {}) or {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"Invalid {self.setting_name} setting: {name!r}")
        if name not in self._cache:
            self._cache[name] = self.user_settings().get(name, self.defaults[name])
        return self._cache[name]

    def reload(self) -> None:
        self._cache.clear()


_instances: weakref.WeakSet[AppSettings] = weakref.WeakSet()


@receiver(setting_changed)
def _reload_app_settings(*, setting: str, **kwargs: Any) -> None:
    for instance in list(_instances):
        if instance.setting_name == setting:
            instance.reload()


class CognitoSettings(AppSettings):
    """The package's settings: ``settings.COGNITO``."""

    setting_name = "COGNITO"
    defaults = DEFAULTS

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


cognito_settings = CognitoSettings()
