"""Sign a user out everywhere: locally at once, at Cognito (AdminUserGlobalSignOut) until Cognito confirms.

``sign_out_everywhere(user_or_sub, trigger=...)`` does the local part in the caller's request: the revocation
service's not-valid-before (their tokens are refused here from now on, in every process), the user's stored
token sets and every Django session of the user deleted. So the user is locked out even while Cognito cannot be
reached. It then records a ``GlobalSignOut`` row (pending) and queues ``accounts.global_sign_out``, which calls
``cognito_sign_out(job)`` and retries with backoff until Cognito confirms (done) or refuses for good (failed,
with the reason). The admin shows the rows; ``resume_pending()`` (beat) requeues rows whose task was lost.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils.module_loading import import_string

from cognito_backend import exceptions as exc
from cognito_backend import revocation
from cognito_backend.conf import cognito_settings
from cognito_backend.idp import call
from cognito_backend.models import CognitoIdentity

from . import token_store
from .models import GlobalSignOut, TokenSet

logger = logging.getLogger(__name__)

# Cognito errors worth another attempt later: unreachable, timing out, throttling, a 5xx.
TRANSIENT = (exc.ServiceUnavailable, exc.GatewayTimeout, exc.Throttled)


def backoff(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): exponential with full jitter, so retries spread out."""
    return random.uniform(base / 2, min(cap, base * (2 ** max(0, attempt - 1))))


# --- the local part ------------------------------------------------------------------------------------------


def _identity(user_or_sub: AbstractBaseUser | str) -> tuple[Any, str, str]:
    """(local user or None, sub, pool username) of a local user or a Cognito sub."""
    if isinstance(user_or_sub, str):
        link = CognitoIdentity.objects.filter(sub=user_or_sub).select_related("user").first()
        return (link.user if link else None), user_or_sub, (link.username if link else "")
    link = CognitoIdentity.objects.filter(user_id=user_or_sub.pk).first()
    return user_or_sub, (link.sub if link else ""), (link.username if link else "")


def delete_sessions(user_ids: Iterable[Any], *, token_set_id: str = "") -> int:
    """Delete every stored Django session of these users (with ``token_set_id``: only the session holding that
    token set); how many. Best-effort: only database-backed
    session engines can be searched (a cookie or cache engine cannot; the session-revocation middleware ends
    those sessions on their next request anyway)."""
    from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
    from django.contrib.sessions.models import Session

    wanted = {str(pk) for pk in user_ids}
    store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    # The database engines (db, cached_db, and the engines built on them, like cognito_backend.sessions).
    if not wanted or not issubclass(store_class, DatabaseStore):
        return 0
    deleted = 0
    sessions = Session.objects.filter(expire_date__gt=datetime.now(UTC)).only("session_key", "session_data")
    for session in sessions.iterator(chunk_size=2000):
        data = session.get_decoded()
        if str(data.get("_auth_user_id", "")) not in wanted:
            continue
        if not token_set_id or str(data.get(token_store.SESSION_KEY, "")) == token_set_id:
            store_class(session_key=session.session_key).delete()  # the cached copy goes too
            deleted += 1
    return deleted


def sign_out_locally(users: Iterable[tuple[Any, str]], *, reason: str) -> None:
    """The local part for (local user or None, sub) pairs: revocation, token sets, sessions."""
    user_ids = []
    for user, sub in users:
        if sub:
            revocation.revoke_user_tokens(sub, reason=reason)
        if user is not None:
            user_ids.append(user.pk)
            TokenSet.objects.filter(user_id=user.pk).delete()
        elif sub:
            TokenSet.objects.filter(sub=sub).delete()
    try:
        delete_sessions(user_ids)
    except Exception:
        logger.exception("sign-out: the sessions could not be deleted; revocation ends them on their next request")


# --- the whole sign-out --------------------------------------------------------------------------------------


def sign_out_everywhere(
    user_or_sub: AbstractBaseUser | str, *, trigger: str, username: str = "", access_token: str = ""
) -> GlobalSignOut:
    """Sign the user out everywhere (module docstring). With the user's own ``access_token`` (their own
    request) Cognito is asked once inline (GlobalSignOut); the task takes over only when that fails."""
    user, sub, pool_username = _identity(user_or_sub)
    sign_out_locally([(user, sub)], reason=trigger)
    job = GlobalSignOut.objects.create(
        user=user, sub=sub, username=username or pool_username or sub, trigger=trigger[:32]
    )
    if not job.username:
        _finish(job, GlobalSignOut.Status.DONE, "no Cognito identity: signed out locally only")
        return job
    if access_token:
        try:
            call("global_sign_out", AccessToken=access_token)
        except exc.CognitoError as error:
            logger.info("sign-out of sub=%s: inline GlobalSignOut failed (%s); queued", sub, error.code)
        else:
            _finish(job, GlobalSignOut.Status.DONE, "")
            return job
    enqueue(job)
    return job


def enqueue(job: GlobalSignOut) -> None:
    """Queue the Cognito part once the row is committed. A broker that is down leaves the row pending:
    ``resume_pending`` (beat) queues it again."""
    from .tasks import global_sign_out

    def send() -> None:
        try:
            global_sign_out.delay(job.pk)
        except Exception:
            logger.exception("sign-out %s could not be queued; beat requeues it", job.pk)

    transaction.on_commit(send)


def _finish(job: GlobalSignOut, status: str, reason: str) -> None:
    job.status = status
    job.reason = reason[:255]
    job.completed = datetime.now(UTC)
    job.save(update_fields=["status", "reason", "completed", "updated"])


def admin_global_sign_out(username: str, pool_id: str = "") -> None:
    """AdminUserGlobalSignOut; a user Cognito no longer has counts as signed out."""
    try:
        call(
            "admin_user_global_sign_out",
            UserPoolId=pool_id or str(cognito_settings.USER_POOL_ID),
            Username=username,
        )
    except exc.UserNotFound:
        logger.info("sign-out of %s: no such user at Cognito; nothing to sign out", username)


def cognito_sign_out(job_id: int) -> str:
    """One attempt at the Cognito part of ``job_id``: returns its status. Transient failures raise (the task
    retries them); Cognito's refusals mark the job failed with the reason. Idempotent: a done job is left."""
    job = GlobalSignOut.objects.filter(pk=job_id).first()
    if job is None or job.status != GlobalSignOut.Status.PENDING:
        return job.status if job is not None else "gone"
    GlobalSignOut.objects.filter(pk=job.pk).update(attempts=job.attempts + 1)
    job.attempts += 1
    try:
        admin_global_sign_out(job.username or job.sub)
    except TRANSIENT as error:
        GlobalSignOut.objects.filter(pk=job.pk).update(reason=f"retrying: {error.code}"[:255])
        raise
    except exc.CognitoError as error:
        _finish(job, GlobalSignOut.Status.FAILED, f"{error.code}: {error.detail}")
        logger.warning("sign-out %s of sub=%s failed: %s", job.pk, job.sub, error.code)
        return job.status
    _finish(job, GlobalSignOut.Status.DONE, "")
    logger.info("sign-out %s of sub=%s confirmed by Cognito", job.pk, job.sub)
    return job.status


def give_up(job_id: int, reason: str) -> None:
    job = GlobalSignOut.objects.filter(pk=job_id, status=GlobalSignOut.Status.PENDING).first()
    if job is not None:
        _finish(job, GlobalSignOut.Status.FAILED, reason)


def resume_pending(older_than: float = 600.0) -> int:
    """Queue again pending rows untouched for ``older_than`` seconds (their task was lost); how many."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
    from .tasks import global_sign_out

    count = 0
    for pk in GlobalSignOut.objects.filter(status=GlobalSignOut.Status.PENDING, updated__lt=cutoff).values_list(
        "pk", flat=True
    )[:1000]:
        GlobalSignOut.objects.filter(pk=pk).update(updated=datetime.now(UTC))
        global_sign_out.delay(pk)
        count += 1
    return count


def sign_out_users(users: Iterable[AbstractBaseUser], *, trigger: str) -> list[GlobalSignOut]:
    """``sign_out_everywhere`` for each of ``users`` (the admin action)."""
    return [sign_out_everywhere(user, trigger=trigger) for user in users]


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]


def local_users_by_sub(subs: Iterable[str]) -> dict[str, Any]:
    links = CognitoIdentity.objects.filter(sub__in=list(subs)).select_related("user")
    return {link.sub: link.user for link in links}


# --- disabling a user ------------------------------------------------------------------------------------------


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _note_disabling(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.pk and not getattr(instance, "is_active", True):
        was_active = sender._default_manager.filter(pk=instance.pk, is_active=True).exists()
        instance._signing_out_on_disable = was_active


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _sign_out_on_disable(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """A user made inactive is signed out everywhere (their sessions and tokens end here and at Cognito)."""
    if getattr(instance, "_signing_out_on_disable", False):
        instance._signing_out_on_disable = False
        sign_out_everywhere(instance, trigger="user_disabled")
