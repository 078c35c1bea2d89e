"""What the user and group admin keep beside Django's models: which groups are mirrored to Cognito groups, and
the runs of actions too large for one request (a Celery task works through them; the admin shows progress)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class CognitoGroupMirror(models.Model):
    """A Django group mirrored to the pool's group of the same name: created, renamed and deleted there too.

    ``cognito_name`` is the name the pool knows, so a rename here can be carried to the pool (which cannot rename a
    group: a new one is made, the members moved, the old one deleted)."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="cognito_mirror")
    cognito_name = models.CharField(max_length=128)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "accounts"
        verbose_name = "Cognito group mirror"

    def __str__(self) -> str:
        return f"{self.group.name} -> {self.cognito_name}"


class AdminActionRun(models.Model):
    """One admin action on a large selection, worked through by ``accounts.admin_bulk_action``."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    action = models.CharField(max_length=64)
    # The action's argument (a group name for the group actions), never a secret.
    argument = models.CharField(max_length=128, blank=True, default="")
    user_ids = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "accounts"
        verbose_name = "admin action run"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.action} on {self.total} user(s) ({self.status})"


class AdminActionResult(models.Model):
    """What the action did to one user of a run; one row per user, so a task run again skips those done."""

    run = models.ForeignKey(AdminActionRun, on_delete=models.CASCADE, related_name="results")
    user_id = models.CharField(max_length=64)
    username = models.CharField(max_length=255, blank=True, default="")
    outcome = models.CharField(max_length=32)
    detail = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "accounts"
        verbose_name = "admin action result"
        constraints = [models.UniqueConstraint(fields=["run", "user_id"], name="admin_action_result_run_user")]
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.username or self.user_id}: {self.outcome}"
