"""Where a migration stands: one row per run and one row per user, written as the run goes.

``UserMigration`` is the resumption point: a user is marked ``pending`` with ``attempts`` raised *before* any
call that could create them in Cognito, so a run killed between the call and the bookkeeping is recognised on
the next start (the pool is asked first and the existing Cognito user is linked, never created twice).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class MigrationRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "running"
        FINISHED = "finished", "finished"
        INTERRUPTED = "interrupted", "interrupted"

    started = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    pid = models.IntegerField(null=True, blank=True)
    pool_id = models.CharField(max_length=255, blank=True, default="")
    options = models.JSONField(default=dict, blank=True)
    # outcome -> count for this run (created, linked, skipped, failed, already_done ...).
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class UserMigration(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "pending"
        DONE = "done", "done"
        SKIPPED = "skipped", "skipped"
        FAILED = "failed", "failed"

    class Outcome(models.TextChoices):
        NONE = "", "none"
        CREATED = "created", "created in the pool"
        LINKED = "linked", "linked to an existing Cognito user"
        TRIGGER = "trigger", "created by the user-migration trigger"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cognito_migration")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.NONE, blank=True)
    error_code = models.CharField(max_length=64, blank=True, default="")
    detail = models.CharField(max_length=500, blank=True, default="")
    # Calls that could have created the user in Cognito; above zero means "ask the pool before creating".
    attempts = models.PositiveIntegerField(default=0)
    cognito_username = models.CharField(max_length=255, blank=True, default="")
    sub = models.CharField(max_length=255, blank=True, default="")
    run = models.ForeignKey(MigrationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated = models.DateTimeField(auto_now=True)
    # Set once Cognito holds the user's password (lazy migration or trigger); from then on only Cognito decides.
    password_migrated_at = models.DateTimeField(null=True, blank=True)
    hash_cleared_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.state}"


class AttemptCounter(models.Model):
    """Attempts per key (a client, a username) in one fixed window, shared by every process through the database.

    The default cache is each process's own memory: counters kept there multiply by the number of workers.
    ``attempts.py`` reads and writes these rows; expired ones are deleted as new ones come.
    """

    key = models.CharField(max_length=128)
    window = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="migrations_tools_attempt_key_window")]

    def __str__(self) -> str:
        return f"{self.key} @{self.window}: {self.count}"


class TriggerNonce(models.Model):
    """A nonce of a signed trigger request, kept while its timestamp would be accepted: a replay is refused by
    every process (the unique constraint decides, not a per-process cache)."""

    nonce = models.CharField(max_length=128, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.nonce
