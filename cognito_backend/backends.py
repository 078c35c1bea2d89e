"""Authentication backend: a verified Cognito token becomes a local user.

Modelled on Django's ``RemoteUserBackend`` and mozilla-django-oidc's ``OIDCAuthenticationBackend``.
``authenticate(request, *, cognito_token=...)`` takes its credential as a keyword-only argument, so Django skips
this backend for password logins. A site changes the mapping by overriding the hooks ``get_or_create_user``,
``find_existing_user``, ``create_user``, ``update_user`` and ``map_groups``, not by copying code.

The ``CognitoIdentity`` row (unique ``sub``) ties the Cognito user to the local one; the first request of a new
user creates both in one transaction, and a concurrent first request that loses the race reads the winner's
row. Users are cached in process memory per ``sub`` (bounded); the cache is dropped when the user or the link
changes (signals) and, with a shared Django cache, when another process changes them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models.base import ModelState
from django.dispatch import receiver
from django.http import HttpRequest

from . import revocation
from .cache import bus
from .conf import cognito_settings
from .exceptions import TokenError, UserInactive, UserNotLinked
from .models import CognitoIdentity
from .tokens import VerifiedToken, verify_token

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


# --- the per-process user cache --------------------------------------------------------------------------------


@dataclass
class _CachedUser:
    user: Any
    version: int
    fingerprint: tuple[Any, ...]
    cached_at: float
    last_seen_written: float
    token: VerifiedToken | None = None  # the last token seen: when the same one comes back, no fingerprint


class UserCache:
    """Bounded map sub -> user. Entries die after ``USER_CACHE_SECONDS``, on local changes (signals) and when the
    shared user version moves (another process changed the user)."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._items: dict[str, _CachedUser] = {}
        self._lock = threading.Lock()

    def get(self, sub: str, version: int) -> _CachedUser | None:
        entry = self._items.get(sub)
        if entry is None or version < 0 or entry.version != version:
            return None
        if time.monotonic() - entry.cached_at > float(cognito_settings.USER_CACHE_SECONDS):
            return None
        return entry

    def put(self, sub: str, entry: _CachedUser) -> None:
        if entry.version < 0:
            return
        with self._lock:
            if len(self._items) >= self.LIMIT and sub not in self._items:
                del self._items[next(iter(self._items))]
            self._items[sub] = entry

    def forget(self, sub: str) -> None:
        with self._lock:
            self._items.pop(sub, None)

    def forget_user(self, user_pk: Any) -> None:
        with self._lock:
            for sub in [s for s, e in self._items.items() if e.user.pk == user_pk]:
                del self._items[sub]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


user_cache = UserCache()


def _forget_on_message(message: dict[str, Any]) -> None:
    sub = message.get("sub")
    if sub:
        user_cache.forget(str(sub))


bus.on_message(_forget_on_message)


@receiver(setting_changed)
def _clear_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"COGNITO", "CACHES", "AUTH_USER_MODEL"}:
        user_cache.clear()
        _last_seen.clear()


def _clone(user: Any) -> Any:
    """A per-request copy of a cached user: its own attribute dict and model state, no pickling round trip
    (``copy.copy`` of a model goes through ``__reduce__``, slower than the rest of a cached authentication)."""
    clone = user.__class__.__new__(user.__class__)
    clone.__dict__.update(user.__dict__)
    state = ModelState()
    state.db = user._state.db
    state.adding = False
    clone._state = state
    return clone


_last_seen: dict[str, float] = {}


def _last_seen_due(sub: str) -> bool:
    """At most one ``last_seen`` write per user per ``LAST_SEEN_INTERVAL`` in this process: a write per request
    would cost more than the rest of authentication (and, on SQLite, serialise every request)."""
    now = time.monotonic()
    last = _last_seen.get(sub)
    if last is not None and now - last < float(cognito_settings.LAST_SEEN_INTERVAL):
        return False
    if len(_last_seen) >= UserCache.LIMIT:
        _last_seen.clear()
    _last_seen[sub] = now
    return True


def _fingerprint(token: VerifiedToken) -> tuple[Any, ...]:
    """What of the token shapes the local user: when it is unchanged, the user needs no update."""
    claims = token.claims
    return (
        token.groups,
        claims.get("email"),
        claims.get("email_verified"),
        claims.get("given_name"),
        claims.get("family_name"),
        token.username,
    )


# --- the backend -----------------------------------------------------------------------------------------------


class CognitoBackend(BaseBackend):
    """Authenticate a Cognito id or access token; create, link and update the local user it names."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, *, cognito_token: str | VerifiedToken | None = None
    ) -> AbstractBaseUser | None:
        """Django's contract: a user, or None when the token is refused (the reason lands on ``request``)."""
        if cognito_token is None:
            return None
        try:
            user, _ = self.authenticate_token(cognito_token)
        except TokenError as exc:
            if request is not None:
                request.cognito_error = exc  # type: ignore[attr-defined]
            logger.info("cognito token refused: code=%s", exc.code)
            return None
        return cast(AbstractBaseUser, user)

    def authenticate_token(
        self,
        cognito_token: str | VerifiedToken,
        *,
        token_use: Collection[str] | None = None,
        online: bool | None = None,
    ) -> tuple[Any, VerifiedToken]:
        """Verify, check revocation (and Cognito when ``online``), resolve the user; raise ``TokenError``."""
        token = (
            cognito_token
            if isinstance(cognito_token, VerifiedToken)
            else verify_token(cognito_token, token_use=token_use)
        )
        state = revocation.check_token(token)
        if cognito_settings.ONLINE_CHECK if online is None else online:
            revocation.confirm_online(token)
        user = self.get_user_for_token(token, version=state.user_version)
        return user, token

    def get_user_for_token(self, token: VerifiedToken, *, version: int = -1) -> Any:
        """The local user of ``token``, from the cache when nothing changed, else from the database."""
        entry = user_cache.get(token.sub, version)
        if entry is not None and (entry.token is token or entry.fingerprint == _fingerprint(token)):
            entry.token = token
            user = entry.user
            now = time.monotonic()
            if now - entry.last_seen_written > float(cognito_settings.LAST_SEEN_INTERVAL):
                entry.last_seen_written = now
                self.touch_last_seen(token)
            if not self.user_can_authenticate(user):
                raise UserInactive()
            return _clone(user)  # each request its own instance; attributes set on it stay in the request
        fingerprint = _fingerprint(token)
        identity = CognitoIdentity.objects.select_related("user").filter(sub=token.sub).first()
        if identity is None:
            user = self.get_or_create_user(token)
        else:
            user = identity.user
            if not self.user_can_authenticate(user):
                raise UserInactive()
            self.update_user(user, token)
            self.map_groups(user, token)
            if identity.username != token.username or identity.pool_id != token.pool.pool_id:
                CognitoIdentity.objects.filter(pk=identity.pk).update(
                    username=token.username, pool_id=token.pool.pool_id
                )
        if not self.user_can_authenticate(user):
            raise UserInactive()
        if _last_seen_due(token.sub):
            self.touch_last_seen(token)
        # The version read before our own writes: our writes bump it, so the next request reloads once.
        user_cache.put(token.sub, _CachedUser(user, version, fingerprint, time.monotonic(), time.monotonic()))
        return _clone(user)

    def get_user(self, user_id: Any) -> User | None:
        """Session support: Django's ``login()`` stores the backend and reloads users through it."""
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def user_can_authenticate(self, user: Any) -> bool:
        """Deactivated local users are refused, as Django's ``ModelBackend`` does."""
        return getattr(user, "is_active", True) is not False

    def touch_last_seen(self, token: VerifiedToken) -> None:
        CognitoIdentity.objects.filter(sub=token.sub).update(last_seen=datetime.now(UTC))

    # --- hooks ---------------------------------------------------------------------------------------------

    def get_or_create_user(self, token: VerifiedToken) -> Any:
        """Link to an existing local user or create one, and record the link; safe against concurrent calls."""
        attributes = self.user_attributes(token)
        for attempt in range(3):
            try:
                with transaction.atomic():
                    user = self.find_existing_user(token, attributes)
                    if user is None:
                        if not cognito_settings.CREATE_USERS:
                            raise UserNotLinked()
                        user = self.create_user(token, attributes)
                    elif not self.user_can_authenticate(user):
                        raise UserInactive()
                    CognitoIdentity.objects.create(
                        user=user,
                        sub=token.sub,
                        pool_id=token.pool.pool_id,
                        username=token.username,
                    )
                    self.update_user(user, token, attributes)
                    self.map_groups(user, token)
                logger.info("cognito user linked: sub=%s username=%s", token.sub, token.username)
                return user
            except IntegrityError:
                # Another request linked this sub first (or took the username): use its result.
                identity = CognitoIdentity.objects.select_related("user").filter(sub=token.sub).first()
                if identity is not None:
                    return identity.user
                logger.info("cognito user creation raced (attempt %d): sub=%s", attempt + 1, token.sub)
        raise UserNotLinked("The local account could not be created; try again.")

    def user_attributes(self, token: VerifiedToken) -> dict[str, Any]:
        """Profile attributes of the Cognito user. Id tokens carry them; for access tokens ask GetUser once."""
        attributes: dict[str, Any] = {
            k: token.claims[k] for k in ("email", "email_verified", "given_name", "family_name") if k in token.claims
        }
        if "email" not in attributes:
            attributes.update(self.fetch_attributes(token))
        return attributes

    def fetch_attributes(self, token: VerifiedToken) -> dict[str, Any]:
        """The user's attributes from Cognito: GetUser with an access token, AdminGetUser for an id token that
        omits them (an app client may not be allowed to read them). Failures leave them empty; sign-in goes on."""
        from .clients import get_client

        client = get_client("cognito-idp", max_attempts=1, region=token.pool.region)
        try:
            if token.token_use == "access" and token.raw:  # noqa: S105 - a claim value
                result = client.get_user(AccessToken=token.raw)
            else:
                result = client.admin_get_user(UserPoolId=token.pool.pool_id, Username=token.username)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("GetUser for attributes failed: sub=%s error=%s", token.sub, type(exc).__name__)
            return {}
        return {a["Name"]: a["Value"] for a in result.get("UserAttributes", []) if "Name" in a and "Value" in a}

    def find_existing_user(self, token: VerifiedToken, attributes: Mapping[str, Any]) -> Any:
        """A local user not yet linked to Cognito, found as ``LINK_BY`` says; None to create a new one.

        By email only when Cognito says the email is verified, so nobody takes over an account by signing up
        with somebody else's address; never when two local users share the email.
        """
        user_model = get_user_model()
        unlinked = user_model._default_manager.filter(cognito_identity__isnull=True)
        link_by = str(cognito_settings.LINK_BY or "")
        if link_by == "email":
            email = attributes.get("email")
            verified = attributes.get("email_verified") in (True, "true")
            if not email or not verified or "email" not in {f.name for f in user_model._meta.get_fields()}:
                return None
            matches = list(unlinked.filter(email__iexact=email)[:2])
            return matches[0] if len(matches) == 1 else None
        if link_by == "username":
            return unlinked.filter(**{user_model.USERNAME_FIELD: token.username}).first()
        return None

    def create_user(self, token: VerifiedToken, attributes: Mapping[str, Any]) -> Any:
        """A new local user named after the Cognito username, with an unusable password."""
        user_model = get_user_model()
        username = token.username
        manager = user_model._default_manager
        if manager.filter(**{user_model.USERNAME_FIELD: username}).exists():
            username = f"{username}-{token.sub[:8]}"  # an unrelated local user has the name
        user = user_model(**{user_model.USERNAME_FIELD: username})
        user.set_unusable_password()
        user.save()
        return user

    def update_user(self, user: Any, token: VerifiedToken, attributes: Mapping[str, Any] | None = None) -> None:
        """Copy email and names from Cognito when they changed; saves only the fields that did."""
        values = attributes if attributes is not None else token.claims
        changed: list[str] = []
        for field, claim in (("email", "email"), ("first_name", "given_name"), ("last_name", "family_name")):
            value = values.get(claim)
            if isinstance(value, str) and hasattr(user, field) and getattr(user, field) != value:
                setattr(user, field, value)
                changed.append(field)
        if changed:
            user.save(update_fields=changed)

    def map_groups(self, user: Any, token: VerifiedToken) -> None:
        """Mirror ``cognito:groups`` onto Django groups listed in ``MANAGED_GROUPS`` ("*": all), both ways, and
        set ``is_staff``/``is_superuser`` from ``STAFF_GROUPS``/``SUPERUSER_GROUPS`` when those are set."""
        managed = [str(g) for g in cognito_settings.MANAGED_GROUPS]
        token_groups = set(token.groups)
        if managed:
            if "*" in managed:
                wanted = token_groups
                current = {g.name: g for g in user.groups.all()}
            else:
                wanted = token_groups & set(managed)
                current = {g.name: g for g in user.groups.filter(name__in=managed)}
            to_add = [Group.objects.get_or_create(name=name)[0] for name in sorted(wanted - set(current))]
            to_remove = [group for name, group in current.items() if name not in wanted]
            if to_add:
                user.groups.add(*to_add)
            if to_remove:
                user.groups.remove(*to_remove)
        changed: list[str] = []
        for flag, setting in (("is_staff", "STAFF_GROUPS"), ("is_superuser", "SUPERUSER_GROUPS")):
            groups = set(getattr(cognito_settings, setting) or [])
            if groups and hasattr(user, flag):
                value = bool(token_groups & groups)
                if getattr(user, flag) != value:
                    setattr(user, flag, value)
                    changed.append(flag)
        if changed:
            user.save(update_fields=changed)
