"""Lazy password migration: a migrated user signs in with the password they always had.

Django's hashes cannot be imported into Cognito. When Cognito refuses a sign-in because the user has no usable
password there yet (created by the bulk run in ``FORCE_CHANGE_PASSWORD``, or not in the pool at all), the
password is checked against the local Django hash; only when it matches is it set in Cognito (permanent), the
Cognito sign-in completed and the user marked migrated. From then on the local hash is never consulted again
(``password_migrated_at``) and ``cognito_clear_password_hashes`` can remove it.

Hook for a sign-in service: on ``NotAuthorized`` / ``UserNotFound`` from Cognito call
``try_lazy_migration(username, password)``; a dict is InitiateAuth's answer (tokens or a challenge), None means
"refuse as before" (re-raise Cognito's error). ``sign_in()`` below is that wrapper around ``idp.initiate_auth``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, is_password_usable
from django.core.cache import cache
from django.utils import timezone

from cognito_backend import exceptions as exc
from cognito_backend import idp, idp_admin

from .conf import migration_settings
from .mapping import cognito_username
from .models import UserMigration
from .services import migrate_user

logger = logging.getLogger(__name__)

# Cognito states in which the user has no password they know: set by AdminCreateUser with a temporary password
# nobody was told, or by an import job.
NO_USABLE_PASSWORD = {"FORCE_CHANGE_PASSWORD", "RESET_REQUIRED"}


def _failure_key(username: str) -> str:
    return "lazy-migration-failures:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()


def _too_many_failures(username: str) -> bool:
    return int(cache.get(_failure_key(username), 0)) >= int(migration_settings.LAZY_MAX_FAILURES)


def _count_failure(username: str) -> None:
    key = _failure_key(username)
    window = int(migration_settings.LAZY_FAILURE_WINDOW)
    if not cache.add(key, 1, window):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, window)


def local_user(identifier: str) -> Any | None:
    """The local user signing in as ``identifier`` (their username, or an email only one user has)."""
    model = get_user_model()
    manager = model._default_manager
    try:
        return manager.get_by_natural_key(identifier)
    except model.DoesNotExist:
        pass
    if "@" in identifier and any(f.name == "email" for f in model._meta.get_fields()):
        users = list(manager.filter(email__iexact=identifier)[:2])
        if len(users) == 1:
            return users[0]
    return None


def try_lazy_migration(username: str, password: str) -> dict[str, Any] | None:
    """Cognito refused ``username``/``password``: move the password into Cognito if the local hash matches.

    Returns InitiateAuth's answer after the move, or None when the lazy path does not apply (unknown user,
    already migrated, Cognito has a password for them, too many recent failures) or the password is wrong.
    Raises ``InvalidPassword`` if the pool's policy refuses the old password (the user must reset it).
    """
    if not migration_settings.LAZY_MIGRATION or not password:
        return None
    user = local_user(username)
    if user is None or not getattr(user, "is_active", True):
        return None
    state = UserMigration.objects.filter(user_id=user.pk).first()
    if state is not None and state.password_migrated_at is not None:
        return None  # Cognito alone decides from now on.
    if not is_password_usable(user.password) or _too_many_failures(username):
        return None
    # No setter: checking must not rewrite (upgrade) a hash that is about to be retired.
    if not check_password(password, user.password):
        _count_failure(username)
        logger.info("lazy migration of user %s refused: wrong password", user.pk)
        return None
    name = cognito_username(user)
    record = idp_admin.admin_get_user(name)
    if record is not None and record.get("UserStatus") not in NO_USABLE_PASSWORD:
        logger.info("lazy migration of %s skipped: Cognito already holds a password", name)
        return None
    if record is None or state is None or state.state != UserMigration.State.DONE:
        result = migrate_user(user)
        if result.outcome not in {"created", "linked"}:
            logger.warning("lazy migration of %s could not create the user: %s", name, result.code)
            return None
    try:
        idp_admin.admin_set_user_password(name, password, permanent=True)
    except exc.InvalidPassword:
        UserMigration.objects.filter(user_id=user.pk).update(error_code="password_policy")
        logger.warning("lazy migration of %s: the old password does not meet the pool's policy", name)
        raise
    UserMigration.objects.filter(user_id=user.pk).update(password_migrated_at=timezone.now())
    logger.info("lazy migration of %s: password moved to Cognito", name)
    return idp.initiate_auth(name, password)


def sign_in(username: str, password: str) -> dict[str, Any]:
    """USER_PASSWORD_AUTH with the lazy migration as fallback; a refusal is Cognito's own ``NotAuthorized``."""
    try:
        return idp.initiate_auth(username, password)
    except (exc.NotAuthorized, exc.UserNotFound) as error:
        answer = try_lazy_migration(username, password)
        if answer is None:
            raise exc.NotAuthorized() from error
        return answer
