"""Lazy password migration: a migrated user signs in with the password they always had.

Django's hashes cannot be imported into Cognito. When Cognito refuses a sign-in because the user has no usable
password there yet (created by the bulk run in ``FORCE_CHANGE_PASSWORD``, or not in the pool at all), the
password is checked against the local Django hash; only when it matches is it set in Cognito (permanent), the
Cognito sign-in completed and the user marked migrated. From then on the local hash is never consulted again
(``password_migrated_at``) and ``cognito_clear_password_hashes`` can remove it.

Never moved: a user an administrator reset in Cognito (``RESET_REQUIRED``), a user deleted from the pool after
the migration had created or linked them (a sign-in does not undo an administrator), a pool user that is not
this migration's own (the bulk run's linking rule, ``services.Migrator.owns``).

Hook for a sign-in service: on ``NotAuthorized`` / ``UserNotFound`` from Cognito call
``try_lazy_migration(username, password, client=<client address>)``; a dict is InitiateAuth's answer (tokens or
a challenge), None means "refuse as before" (re-raise Cognito's error). Every refusal costs one run of the
hasher, whether or not the user has a local hash (``passwords.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from cognito_backend import exceptions as exc
from cognito_backend import idp, idp_admin
from cognito_backend.models import CognitoIdentity

from . import attempts
from .conf import migration_settings
from .mapping import cognito_username
from .models import UserMigration
from .passwords import check_local_password
from .services import migrate_user

logger = logging.getLogger(__name__)

# The bulk run's own state: created with a temporary password nobody was told. ``RESET_REQUIRED`` is not here:
# an administrator asked that user to choose a new password, and the old one must not come back.
NO_USABLE_PASSWORD = {"FORCE_CHANGE_PASSWORD"}


def _failure_keys(user: Any, client: str) -> list[tuple[str, int]]:
    """(key, limit) pairs: per user and client address, and per user over all addresses.

    By user, not by what was typed (the username and the email share one budget); by address, so that someone
    else's wrong guesses do not lock the real user out; the per-user ceiling bounds guessing from many addresses.
    """
    user_key = f"lazy:user:{user.pk}"
    return [
        (f"{user_key}:client:{attempts.digest(client)}", int(migration_settings.LAZY_MAX_FAILURES)),
        (user_key, int(migration_settings.LAZY_MAX_FAILURES_PER_USER)),
    ]


def _too_many_failures(user: Any, client: str) -> bool:
    window = int(migration_settings.LAZY_FAILURE_WINDOW)
    return any(attempts.count(key, window=window) >= limit for key, limit in _failure_keys(user, client))


def _count_failure(user: Any, client: str) -> None:
    window = int(migration_settings.LAZY_FAILURE_WINDOW)
    for key, _ in _failure_keys(user, client):
        attempts.add(key, window=window)


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


def _candidate(username: str, client: str) -> tuple[Any | None, UserMigration | None]:
    """The local user whose hash may be checked now, and their migration row; (None, ...) when none may."""
    user = local_user(username)
    if user is None or not getattr(user, "is_active", True):
        return None, None
    state = UserMigration.objects.filter(user_id=user.pk).first()
    if state is not None and state.password_migrated_at is not None:
        return None, state  # Cognito alone decides from now on.
    if _too_many_failures(user, client):
        return None, state
    return user, state


def _pool_user_is_ours(user: Any, state: UserMigration | None, record: dict[str, Any] | None) -> bool:
    """The pool's record may receive the old password (``record`` None: the user may be created)."""
    linked = CognitoIdentity.objects.filter(user_id=user.pk).values_list("sub", flat=True).first()
    done = state is not None and state.state == UserMigration.State.DONE
    if record is None:
        # Created or linked once and gone now: deleted in the pool, and a sign-in must not bring them back.
        return not done and linked is None
    if record.get("UserStatus") not in NO_USABLE_PASSWORD:
        return False  # Cognito holds a password (set there, or reset by an administrator): it decides.
    expected = (state.sub if done and state is not None else "") or linked or ""
    if expected:
        sub = idp_admin.attributes_to_dict(record.get("UserAttributes")).get("sub", "")
        return bool(sub) and sub == expected
    return True  # not linked yet: migrate_user() links it only under the bulk run's rule


def try_lazy_migration(username: str, password: str, *, client: str = "") -> dict[str, Any] | None:
    """Cognito refused ``username``/``password``: move the password into Cognito if the local hash matches.

    ``client`` is the client's address: wrong passwords are counted per user and address. Returns InitiateAuth's
    answer after the move, or None when the lazy path does not apply (unknown user, already migrated, Cognito has
    a password for them, too many recent failures) or the password is wrong. Raises ``InvalidPassword`` if the
    pool's policy refuses the old password (the user must reset it).
    """
    if not migration_settings.LAZY_MIGRATION or not password:
        return None
    user, state = _candidate(username, client)
    # One hasher run in every case below (a dummy hash when there is no user to check).
    if not check_local_password(user, password) or user is None:
        if user is not None:
            _count_failure(user, client)
            logger.info("lazy migration of user %s refused: wrong password", user.pk)
        return None
    name = cognito_username(user)
    record = idp_admin.admin_get_user(name)
    if not _pool_user_is_ours(user, state, record):
        logger.info("lazy migration of %s skipped: the pool's user is not one this migration may set", name)
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
