"""The Celery task that works through a large user admin action (``AdminActionRun``), one user at a time.

Late-acknowledged (a worker that dies mid-run leaves the message to be delivered again) and idempotent: each user's
outcome is a row unique per run, and a run delivered again skips the users it already has an outcome for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from . import admin_services
from .admin_models import AdminActionResult, AdminActionRun

CHUNK = 200


def queue_run(run: AdminActionRun) -> None:
    """Send the run's task once the row is committed (the admin's request commits it)."""
    transaction.on_commit(lambda: admin_bulk_action.delay(str(run.pk)))


def work_through(run_id: str) -> str:
    """Apply the run's action to each of its users without an outcome yet; the run's status."""
    run = AdminActionRun.objects.filter(pk=run_id).first()
    if run is None:
        return "gone"
    if run.status == AdminActionRun.Status.DONE:
        return run.status
    AdminActionRun.objects.filter(pk=run.pk).update(status=AdminActionRun.Status.RUNNING)
    done = {str(pk) for pk in AdminActionResult.objects.filter(run=run).values_list("user_id", flat=True)}
    remaining = [pk for pk in run.user_ids if str(pk) not in done]
    users = get_user_model()._default_manager.select_related("cognito_identity")
    pace = admin_services.Pacer()

    def record(outcome: admin_services.Outcome) -> None:
        try:
            with transaction.atomic():
                AdminActionResult.objects.create(
                    run=run,
                    user_id=str(outcome.user_id),
                    username=outcome.username[:255],
                    outcome=outcome.outcome,
                    detail=outcome.detail[:255],
                )
        except IntegrityError:  # another delivery of this run got there first
            pass

    for start in range(0, len(remaining), CHUNK):
        chunk = remaining[start : start + CHUNK]
        found = {str(u.pk): u for u in users.filter(pk__in=chunk)}
        for pk in chunk:
            if str(pk) not in found:
                record(admin_services.Outcome(pk, "", admin_services.SKIPPED, "no such user any more"))
        admin_services.run_action(
            run.actor_id,
            run.action,
            [found[str(pk)] for pk in chunk if str(pk) in found],
            run.argument,
            pace=pace,
            on_outcome=record,
        )
    AdminActionRun.objects.filter(pk=run.pk).update(status=AdminActionRun.Status.DONE, finished=datetime.now(UTC))
    return AdminActionRun.Status.DONE


@shared_task(name="accounts.admin_bulk_action", acks_late=True, reject_on_worker_lost=True)  # type: ignore[misc]
def admin_bulk_action(run_id: str) -> Any:
    return work_through(run_id)
