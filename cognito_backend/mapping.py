"""The user mapper: a verified Cognito token becomes a local user (found, linked, created, updated).

Modelled on mozilla-django-oidc's ``OIDCAuthenticationBackend`` hooks. A site changes the mapping by subclassing
``UserMapper`` and naming the subclass in ``COGNITO["USER_MAPPER"]``; the hooks are ``get_or_create_user``,
``find_existing_user``, ``create_user``, ``update_user`` and ``map_groups``. Both doors (the Django backend and
the DRF class) reach it through ``services.TokenAuthenticator``.

The ``CognitoIdentity`` row, unique per ``(issuer, sub)``, ties the Cognito user to the local one; the first
request of a new user creates both in one transaction, and a concurrent first request that loses the race reads
the winner's row. Groups, flags and profile are copied only from a token at least as new (``iat``) as the last
one copied, so an old token presented late cannot restore what a newer one removed. Users are cached in process
memory per ``(issuer, sub)`` (bounded); the cache is dropped when the user or the link changes (signals) and,
with a shared Django cache, when another process changes them.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models.base import ModelState
from django.dispatch import receiver

from .cache import bus
from .conf import cognito_settings
from .exceptions import UserInactive, UserNotLinked
from .models import CognitoIdentity
from .tokens import VerifiedToken

logger = logging.getLogger(__name__)

PROFILE_CLAIMS = ("email", "email_verified", "given_name", "family_name")


# --- claim helpers ---------------------------------------------------------------------------------------------


def claim_is_true(value: Any) -> bool:
    """Cognito writes booleans as JSON ``true`` or as the string "true"; nothing else (not 1, not "True") is."""
    return value is True or value == "true"


def email_key(email: str) -> str:
    """An email address as compared for linking: NFC-normalized and case-folded, except that a character that is
    not ASCII never becomes ASCII (dotless i, long s, the Kelvin sign stay themselves). Databases fold those
    (PostgreSQL's ``UPPER`` makes a dotless i an ``I``), which would let such a look-alike of ``admin@`` take
    over ``admin@``."""
    normalized = unicodedata.normalize("NFC", email)
    if sum(c.isascii() for c in normalized) > sum(c.isascii() for c in email):
        normalized = email  # NFC made ASCII out of something else (the Kelvin sign is K): not the same address
    out = []
    for char in normalized:
        if char.isascii():
            out.append(char.lower())
            continue
        folded = char.casefold()
        out.append(char if any(c.isascii() for c in folded) else folded)
    return "".join(out)


def _max_length(model: Any, field: str) -> int | None:
    try:
        return getattr(model._meta.get_field(field), "max_length", None)
    except FieldDoesNotExist:
        return None


def _token_time(token: VerifiedToken) -> datetime | None:
    """When the token was issued (``iat``, else ``auth_time``): how sync decides which of two tokens is newer."""
    when = token.issued_at if token.issued_at is not None else token.auth_time
    return datetime.fromtimestamp(when, UTC) if when is not None else None


# --- the per-process user cache --------------------------------------------------------------------------------

_intervals: tuple[float, float] | None = None


def _cache_seconds_and_last_seen_interval() -> tuple[float, float]:
    """``USER_CACHE_SECONDS`` and ``LAST_SEEN_INTERVAL``, read once per configuration: a cached authentication
    reads both, and a settings lookup costs more than the rest of the cache hit."""
    global _intervals
    if _intervals is None:
        _intervals = (float(cognito_settings.USER_CACHE_SECONDS), float(cognito_settings.LAST_SEEN_INTERVAL))
    return _intervals


@dataclass
class _CachedUser:
    user: Any
    version: int
    fingerprint: tuple[Any, ...]
    cached_at: float
    last_seen_written: float
    token: VerifiedToken | None = None  # the last token seen: when the same one comes back, no fingerprint


CacheKey = tuple[str, str]  # (issuer, sub)


class UserCache:
    """Bounded map (issuer, sub) -> user. Entries die after ``USER_CACHE_SECONDS``, on local changes (signals)
    and when the shared user version moves (another process changed the user)."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._items: dict[CacheKey, _CachedUser] = {}
        self._lock = threading.Lock()

    def get(self, key: CacheKey, version: int) -> _CachedUser | None:
        entry = self._items.get(key)
        if entry is None or version < 0 or entry.version != version:
            return None
        if time.monotonic() - entry.cached_at > _cache_seconds_and_last_seen_interval()[0]:
            return None
        return entry

    def put(self, key: CacheKey, entry: _CachedUser) -> None:
        if entry.version < 0:
            return
        with self._lock:
            if len(self._items) >= self.LIMIT and key not in self._items:
                del self._items[next(iter(self._items))]
            self._items[key] = entry

    def forget(self, sub: str) -> None:
        """Drop ``sub`` in every pool (revocations and versions are per ``sub``)."""
        with self._lock:
            for key in [k for k in self._items if k[1] == sub]:
                del self._items[key]

    def forget_user(self, user_pk: Any) -> None:
        with self._lock:
            for key in [k for k, e in self._items.items() if e.user.pk == user_pk]:
                del self._items[key]

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
    global _intervals
    if setting in {"COGNITO", "CACHES", "AUTH_USER_MODEL"}:
        _intervals = None
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


_last_seen: dict[CacheKey, float] = {}


def _last_seen_due(key: CacheKey) -> bool:
    """At most one ``last_seen`` write per user per ``LAST_SEEN_INTERVAL`` in this process: a write per request
    would cost more than the rest of authentication (and, on SQLite, serialise every request)."""
    now = time.monotonic()
    last = _last_seen.get(key)
    if last is not None and now - last < _cache_seconds_and_last_seen_interval()[1]:
        return False
    if len(_last_seen) >= UserCache.LIMIT:
        _last_seen.clear()
    _last_seen[key] = now
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


# --- the mapper ------------------------------------------------------------------------------------------------


class UserMapper:
    """Resolve, link, create and update the local user of a verified token. Stateless: one instance serves all
    requests (``services`` builds it once from ``COGNITO["USER_MAPPER"]``)."""

    def get_user(self, token: VerifiedToken, *, version: int = -1) -> Any:
        """The local user of ``token``, from the cache when nothing changed, else from the database.

        ``version`` is the shared user version the revocation check read (-1: unknown, so nothing is cached).
        Raises ``UserInactive`` / ``UserNotLinked`` (``TokenError`` subclasses).
        """
        key = (token.pool.issuer, token.sub)
        entry = user_cache.get(key, version)
        if entry is not None and (entry.token is token or entry.fingerprint == _fingerprint(token)):
            entry.token = token
            user = entry.user
            now = time.monotonic()
            if now - entry.last_seen_written > _cache_seconds_and_last_seen_interval()[1]:
                entry.last_seen_written = now
                self.touch_last_seen(token)
            if not self.user_can_authenticate(user):
                raise UserInactive()
            return _clone(user)  # each request its own instance; attributes set on it stay in the request
        fingerprint = _fingerprint(token)
        identity = CognitoIdentity.objects.select_related("user").for_token(token).first()
        cacheable = True
        if identity is None:
            user = self.get_or_create_user(token)
        else:
            user = identity.user
            if not self.user_can_authenticate(user):
                raise UserInactive()
            # A stale token is served the user as the newest token left it; it is not cached, so the newer
            # token's cache entry is not replaced by it.
            cacheable = self.sync_user(identity, user, token)
            if identity.username != token.username:
                CognitoIdentity.objects.filter(pk=identity.pk).update(username=token.username)
        if not self.user_can_authenticate(user):
            raise UserInactive()
        if _last_seen_due(key):
            self.touch_last_seen(token)
        if cacheable:
            # The version read before our own writes: our writes bump it, so the next request reloads once.
            now = time.monotonic()
            user_cache.put(key, _CachedUser(user, version, fingerprint, now, now))
        return _clone(user)

    def sync_user(self, identity: CognitoIdentity, user: Any, token: VerifiedToken) -> bool:
        """Copy profile and groups from ``token`` unless a newer token was already copied; False when stale.

        The token last copied is remembered (``synced_token_iat``, ``synced_token_jti``): seen again, it costs
        nothing. Any other token is copied with the link row locked and its ``iat`` compared under the lock, so
        of two tokens racing the newer one's values are the last written, and a token as old as the last one
        (another token of the same second) never writes over a newer one that committed meanwhile.
        """
        issued = _token_time(token)
        last = identity.synced_token_iat
        if issued is not None and last is not None:
            if issued < last:
                logger.info("cognito token older than the last synced one; not synced: sub=%s", token.sub)
                return False
            if issued == last and token.jti and token.jti == identity.synced_token_jti:
                return True  # this very token was copied already
        with transaction.atomic():
            locked = (
                CognitoIdentity.objects.select_for_update()
                .filter(pk=identity.pk)
                .values_list("synced_token_iat", "synced_token_jti")
                .first()
            )
            locked_iat = locked[0] if locked is not None else None
            if issued is not None and locked_iat is not None and issued < locked_iat:
                return False
            self.update_user(user, token)
            self.map_groups(user, token)
            if issued is not None and locked != (issued, token.jti):
                CognitoIdentity.objects.filter(pk=identity.pk).update(
                    synced_token_iat=issued, synced_token_jti=token.jti
                )
                identity.synced_token_iat, identity.synced_token_jti = issued, token.jti
        return True

    def user_can_authenticate(self, user: Any) -> bool:
        """Deactivated local users are refused, as Django's ``ModelBackend`` does."""
        return getattr(user, "is_active", True) is not False

    def touch_last_seen(self, token: VerifiedToken) -> None:
        CognitoIdentity.objects.for_token(token).update(last_seen=datetime.now(UTC))

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
                        issuer=token.pool.issuer,
                        sub=token.sub,
                        pool_id=token.pool.pool_id,
                        username=token.username,
                        synced_token_iat=_token_time(token),
                        synced_token_jti=token.jti,
                    )
                    self.update_user(user, token, attributes)
                    self.map_groups(user, token)
                logger.info("cognito user linked: sub=%s username=%s", token.sub, token.username)
                return user
            except IntegrityError:
                # Another request linked this identity first (or took the username): use its result.
                identity = CognitoIdentity.objects.select_related("user").for_token(token).first()
                if identity is not None:
                    return identity.user
                logger.info("cognito user creation raced (attempt %d): sub=%s", attempt + 1, token.sub)
        raise UserNotLinked("The local account could not be created; try again.")

    def user_attributes(self, token: VerifiedToken) -> dict[str, Any]:
        """Profile attributes of the Cognito user. Id tokens carry them; for access tokens ask GetUser once."""
        attributes: dict[str, Any] = {k: token.claims[k] for k in PROFILE_CLAIMS if k in token.claims}
        if "email" not in attributes:
            attributes.update(self.fetch_attributes(token))
        return attributes

    def fetch_attributes(self, token: VerifiedToken) -> dict[str, Any]:
        """The user's attributes from Cognito: GetUser with an access token, AdminGetUser for an id token that
        omits them (an app client may not be allowed to read them). Failures leave them empty; sign-in goes on."""
        from . import idp
        from .exceptions import CognitoError

        options: dict[str, Any] = {"max_attempts": 1, "region": token.pool.region}
        try:
            if token.token_use == "access" and token.raw:  # noqa: S105 - a claim value
                result = idp.call("get_user", **options, AccessToken=token.raw)
            else:
                result = idp.call("admin_get_user", **options, UserPoolId=token.pool.pool_id, Username=token.username)
        except CognitoError as exc:
            logger.warning("GetUser for attributes failed: sub=%s error=%s", token.sub, exc.code)
            return {}
        return {a["Name"]: a["Value"] for a in result.get("UserAttributes", []) if "Name" in a and "Value" in a}

    def find_existing_user(self, token: VerifiedToken, attributes: Mapping[str, Any]) -> Any:
        """A local user not yet linked to Cognito, found as ``LINK_BY`` says; None to create a new one.

        By email only when Cognito says the email is verified, so nobody takes over an account by signing up
        with somebody else's address; never when two local users share the email. The database narrows the
        candidates; the match itself is ``email_key`` in Python, because databases fold look-alike characters.
        By username only when ``TRUST_POOL_USERNAMES`` says every pool username is the person of the same
        local name, and never onto staff or superusers.
        """
        user_model = get_user_model()
        unlinked = user_model._default_manager.filter(cognito_identity__isnull=True)
        link_by = str(cognito_settings.LINK_BY or "")
        if link_by == "email":
            email = attributes.get("email")
            if not isinstance(email, str) or not email or not claim_is_true(attributes.get("email_verified")):
                return None
            if "email" not in {f.name for f in user_model._meta.get_fields()}:
                return None
            wanted = email_key(email)
            candidates = unlinked.filter(email__iexact=email)[:50]
            matches = [u for u in candidates if email_key(str(u.email or "")) == wanted]
            return matches[0] if len(matches) == 1 else None
        if link_by == "username":
            if cognito_settings.TRUST_POOL_USERNAMES is not True:
                logger.warning("LINK_BY='username' without TRUST_POOL_USERNAMES: not linking sub=%s", token.sub)
                return None
            candidates = unlinked.filter(**{user_model.USERNAME_FIELD: token.username})
            fields = {f.name for f in user_model._meta.get_fields()}
            for flag in ("is_staff", "is_superuser"):
                if flag in fields:
                    candidates = candidates.exclude(**{flag: True})
            return candidates.first()
        return None

    def create_user(self, token: VerifiedToken, attributes: Mapping[str, Any]) -> Any:
        """A new local user named after the Cognito username, with an unusable password."""
        user_model = get_user_model()
        limit = _max_length(user_model, user_model.USERNAME_FIELD)
        username = token.username[:limit] if limit else token.username
        manager = user_model._default_manager
        if manager.filter(**{user_model.USERNAME_FIELD: username}).exists():
            suffix = f"-{token.sub[:8]}"  # an unrelated local user has the name
            username = (username[: limit - len(suffix)] if limit else username) + suffix
        user = user_model(**{user_model.USERNAME_FIELD: username})
        user.set_unusable_password()
        user.save()
        return user

    def update_user(self, user: Any, token: VerifiedToken, attributes: Mapping[str, Any] | None = None) -> None:
        """Copy the verified email and the names from Cognito when they changed; saves only the fields that did.

        Names longer than the model's fields are cut to fit (PostgreSQL refuses them, and every request of the
        user would fail); an email that does not fit, or is not verified, is not copied (a cut address is
        somebody else's).
        """
        values = attributes if attributes is not None else token.claims
        changed: list[str] = []
        for field, claim in (("email", "email"), ("first_name", "given_name"), ("last_name", "family_name")):
            value = values.get(claim)
            if not isinstance(value, str) or not hasattr(user, field):
                continue
            limit = _max_length(type(user), field)
            if field == "email":
                if not claim_is_true(values.get("email_verified")) or (limit and len(value) > limit):
                    continue
            elif limit:
                value = value[:limit]
            if getattr(user, field) != value:
                setattr(user, field, value)
                changed.append(field)
        if changed:
            user.save(update_fields=changed)

    def map_groups(self, user: Any, token: VerifiedToken) -> None:
        """Mirror ``cognito:groups`` onto Django groups listed in ``MANAGED_GROUPS`` ("*": all), both ways, and
        set ``is_staff``/``is_superuser`` from the groups (``map_flags``)."""
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
        self.map_flags(user, token_groups)

    def map_flags(self, user: Any, groups: set[str] | frozenset[str]) -> list[str]:
        """Set ``is_staff`` / ``is_superuser`` from the user's Cognito ``groups``, granted and taken away alike;
        the flags whose group settings are empty are left alone. A superuser group makes its members staff too
        (the admin lets in staff only). Saves and returns the flags that changed."""
        superuser_groups = {str(g) for g in cognito_settings.SUPERUSER_GROUPS or []}
        staff_groups = {str(g) for g in cognito_settings.STAFF_GROUPS or []} | superuser_groups
        changed: list[str] = []
        for flag, wanted in (("is_staff", staff_groups), ("is_superuser", superuser_groups)):
            if wanted and hasattr(user, flag):
                value = bool(set(groups) & wanted)
                if getattr(user, flag) != value:
                    setattr(user, flag, value)
                    changed.append(flag)
        if changed:
            user.save(update_fields=changed)
        return changed
