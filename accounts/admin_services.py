"""The user admin's actions on Cognito, one user at a time, each answering what happened to that user.

``run_action(actor, action, users, argument)`` applies one action to each user and returns an ``Outcome`` per user;
one user's failure never stops the rest. Local state follows Cognito only when Cognito agreed: every action asks
the pool first and changes the local user (``is_active``, groups, the link) only after the call succeeded.
Cognito's calls are paced under ``ADMIN_COGNITO_RATE`` and retried with backoff when throttled
(``ADMIN_THROTTLE_RETRIES`` times). Each user's outcome is written to Django's admin log with the acting admin.
The admin (``admin.py``) runs small selections inline and larger ones as the task in ``admin_tasks.py``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.db import transaction

from cognito_backend import exceptions as exc
from cognito_backend import idp_admin
from cognito_backend.models import CognitoIdentity
from migrations_tools.ratelimit import Backoff, TokenBucket

from . import signout
from .admin_models import CognitoGroupMirror
from .conf import accounts_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Outcomes: the action happened; the user was left as they were (nothing to do); Cognito refused (nothing changed
# locally); Cognito could not be reached or kept throttling (nothing changed locally).
DONE, SKIPPED, REFUSED, FAILED = "done", "skipped", "refused", "failed"


@dataclass(frozen=True)
class Outcome:
    user_id: Any
    username: str
    outcome: str
    detail: str = ""


class Skip(Exception):
    """The action does not apply to this user (not linked to the pool ...): nothing was asked, nothing changed."""


class Pacer:
    """Paces one run's Cognito calls under the configured rate and retries throttling with backoff."""

    def __init__(
        self,
        rate: float | None = None,
        retries: int | None = None,
        backoff: Backoff | None = None,
        *,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.bucket = bucket or TokenBucket(float(rate or accounts_settings.ADMIN_COGNITO_RATE or 10.0))
        self.retries = int(accounts_settings.ADMIN_THROTTLE_RETRIES if retries is None else retries)
        self.backoff = backoff or Backoff(base=0.2, cap=5.0)
        self.throttles = 0

    def __call__(self, operation: Callable[[], T]) -> T:
        attempt = 0
        while True:
            self.bucket.acquire()
            try:
                return operation()
            except exc.Throttled as error:
                attempt += 1
                self.throttles += 1
                if attempt > self.retries:
                    raise
                self.bucket.throttled(pause=float(error.retry_after))
                self.backoff.sleep(self.backoff.delay(attempt))


def link_of(user: Any) -> CognitoIdentity:
    link: CognitoIdentity | None = user.cognito_identity if _has_link(user) else None
    if link is None or not (link.username or link.sub):
        raise Skip("not linked to a Cognito user")
    return link


def _has_link(user: Any) -> bool:
    try:
        return user.cognito_identity is not None
    except CognitoIdentity.DoesNotExist:
        return False


def pool_username(link: CognitoIdentity) -> str:
    return link.username or link.sub


def django_group(cognito_name: str) -> Group:
    """The Django group mirroring ``cognito_name``: the one marked as its mirror, else the group of that name (the
    token mapping, ``map_groups``, uses the same name)."""
    mirror = CognitoGroupMirror.objects.filter(cognito_name=cognito_name).select_related("group").first()
    if mirror is not None:
        return mirror.group
    return Group.objects.get_or_create(name=cognito_name)[0]


def django_group_or_none(cognito_name: str) -> Group | None:
    mirror = CognitoGroupMirror.objects.filter(cognito_name=cognito_name).select_related("group").first()
    return mirror.group if mirror is not None else Group.objects.filter(name=cognito_name).first()


# --- the actions: each takes (user, argument, pace) and returns the outcome's detail, or raises --------------


def disable(user: Any, argument: str, pace: Pacer) -> str:
    link = link_of(user)
    pace(lambda: idp_admin.admin_disable_user(pool_username(link), pool_id=link.pool_id or None))
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])  # the post_save receiver signs the user out everywhere
    else:
        signout.sign_out_everywhere(user, trigger="user_disabled")
    return "disabled in the pool and here; signed out everywhere"


def enable(user: Any, argument: str, pace: Pacer) -> str:
    link = link_of(user)
    pace(lambda: idp_admin.admin_enable_user(pool_username(link), pool_id=link.pool_id or None))
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return "enabled in the pool and here"


def reset_password(user: Any, argument: str, pace: Pacer) -> str:
    link = link_of(user)
    pace(lambda: idp_admin.admin_reset_user_password(pool_username(link), pool_id=link.pool_id or None))
    return "password reset: the user must set a new one (RESET_REQUIRED)"


def resend_invitation(user: Any, argument: str, pace: Pacer) -> str:
    link = link_of(user)
    record = pace(lambda: idp_admin.admin_get_user(pool_username(link), pool_id=link.pool_id or None))
    if record is None:
        raise exc.UserNotFound()
    if record.get("UserStatus") != "FORCE_CHANGE_PASSWORD":
        raise Skip(f"no invitation pending ({record.get('UserStatus', 'unknown')})")
    pace(lambda: idp_admin.admin_resend_invitation(pool_username(link), pool_id=link.pool_id or None))
    return "invitation sent again"


def add_to_group(user: Any, argument: str, pace: Pacer) -> str:
    link = link_of(user)
    pace(lambda: idp_admin.admin_add_user_to_group(pool_username(link), argument, pool_id=link.pool_id or None))
    user.groups.add(django_group(argument))
    return f"added to {argument}"


def remove_from_group(user: Any, argument: str, pace: Pacer) -> str:
    link = link_of(user)
    pace(lambda: idp_admin.admin_remove_user_from_group(pool_username(link), argument, pool_id=link.pool_id or None))
    user.groups.remove(django_group(argument))
    return f"removed from {argument}"


def sign_out(user: Any, argument: str, pace: Pacer) -> str:
    job = signout.sign_out_everywhere(user, trigger="admin")
    return f"signed out here; Cognito's part is sign-out {job.pk} ({job.status})"


def delete_from_pool(user: Any, argument: str, pace: Pacer) -> str:
    link = link_of(user)
    try:
        pace(lambda: idp_admin.admin_delete_user(pool_username(link), pool_id=link.pool_id or None))
        detail = "deleted from the pool"
    except exc.UserNotFound:
        detail = "was no longer in the pool"
    signout.sign_out_locally([(user, link.sub)], reason="admin_deleted")
    link.delete()
    return f"{detail}; link, sessions and stored tokens removed"


PROFILE_FIELDS = {"email": "email", "given_name": "first_name", "family_name": "last_name"}


def refresh(user: Any, argument: str, pace: Pacer) -> str:
    link = link_of(user)
    record = pace(lambda: idp_admin.admin_get_user(pool_username(link), pool_id=link.pool_id or None))
    if record is None:
        raise exc.UserNotFound()
    groups = pace(lambda: idp_admin.admin_list_groups_for_user(pool_username(link), pool_id=link.pool_id or None))
    attributes = idp_admin.attributes_to_dict(record.get("UserAttributes"))
    changed = []
    for attribute, field in PROFILE_FIELDS.items():
        if attribute in attributes and hasattr(user, field) and getattr(user, field) != attributes[attribute]:
            setattr(user, field, attributes[attribute])
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    if record.get("Username") and link.username != record["Username"]:
        link.username = record["Username"]
        link.save(update_fields=["username", "updated"])
    wanted = {django_group(name) for name in groups}
    mirrored = set(Group.objects.filter(cognito_mirror__isnull=False)) | set(
        Group.objects.filter(name__in=list(_managed_names(user)))
    )
    current = set(user.groups.all())
    user.groups.add(*(wanted - current))
    user.groups.remove(*((current & mirrored) - wanted))
    return f"refreshed ({len(changed)} field(s), groups: {', '.join(sorted(groups)) or 'none'})"


def _managed_names(user: Any) -> set[str]:
    from cognito_backend.conf import cognito_settings

    managed = {str(g) for g in cognito_settings.MANAGED_GROUPS or []}
    if "*" in managed:
        return {g.name for g in user.groups.all()}
    return managed


def migrate_now(user: Any, argument: str, pace: Pacer) -> str:
    if _has_link(user):
        raise Skip("already linked to a Cognito user")
    from migrations_tools.services import migrate_user

    result = migrate_user(user)
    if result.outcome in {"created", "linked"}:
        return f"migrated ({result.outcome})"
    if result.outcome == "skipped":
        raise Skip(f"{result.code}: {result.detail}"[:200])
    raise exc.IdpError(result.detail or "the migration failed", code=result.code or "migration_failed")


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    function: Callable[[Any, str, Pacer], str]
    needs_group: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("cognito_disable", "Disable in Cognito (and here)", disable),
        Action("cognito_enable", "Enable in Cognito (and here)", enable),
        Action("cognito_reset_password", "Reset the password in Cognito", reset_password),
        Action("cognito_resend_invitation", "Resend the Cognito invitation", resend_invitation),
        Action("cognito_add_to_group", "Add to the Cognito group named below", add_to_group, needs_group=True),
        Action("cognito_remove_from_group", "Remove from the Cognito group named below", remove_from_group, True),
        Action("sign_out_everywhere", "Sign out everywhere (here and at Cognito)", sign_out),
        Action("cognito_delete", "Delete from the Cognito pool", delete_from_pool),
        Action("cognito_refresh", "Refresh from the Cognito pool (attributes and groups)", refresh),
        Action("cognito_migrate", "Migrate to Cognito now", migrate_now),
    )
}


def apply_one(action: Action, user: Any, argument: str, pace: Pacer) -> Outcome:
    """The action for one user; never raises for a Cognito failure (the outcome says it)."""
    name = str(user.get_username())
    try:
        with transaction.atomic():
            detail = action.function(user, argument, pace)
    except Skip as skip:
        return Outcome(user.pk, name, SKIPPED, str(skip))
    except exc.ServiceUnavailable as error:
        return Outcome(user.pk, name, FAILED, f"Cognito could not be reached ({error.code}); nothing changed")
    except exc.Throttled:
        return Outcome(user.pk, name, FAILED, "Cognito kept throttling (throttled); nothing changed")
    except exc.CognitoError as error:
        return Outcome(user.pk, name, REFUSED, f"Cognito refused ({error.code}); nothing changed")
    return Outcome(user.pk, name, DONE, detail)


def log(actor_id: Any, action: Action, user: Any, outcome: Outcome, argument: str = "") -> None:
    """The admin log entry for one user's outcome, with the admin who acted."""
    what = f"{action.description}{f' ({argument})' if argument else ''}: {outcome.outcome}: {outcome.detail}"
    LogEntry.objects.log_actions(
        user_id=actor_id,
        queryset=[user],
        action_flag=CHANGE,
        change_message=what[:1000],
        single_object=True,
    )


def run_action(
    actor_id: Any,
    action_name: str,
    users: Iterable[Any],
    argument: str = "",
    *,
    pace: Pacer | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """``action_name`` for each user; the outcomes, in order. A user's failure never stops the rest."""
    action = ACTIONS[action_name]
    pace = pace or Pacer()
    outcomes = []
    for user in users:
        try:
            outcome = apply_one(action, user, argument, pace)
        except Exception as error:  # an unexpected local failure for this user: reported, the rest go on
            logger.exception("admin action %s on user %s failed", action_name, user.pk)
            outcome = Outcome(user.pk, str(user.get_username()), FAILED, f"error here ({type(error).__name__})")
        log(actor_id, action, user, outcome, argument)
        if on_outcome is not None:
            on_outcome(outcome)
        outcomes.append(outcome)
    return outcomes


def summary(outcomes: Iterable[Outcome]) -> Counter[str]:
    return Counter(o.outcome for o in outcomes)
