"""The state of one "sign out everywhere": the local part is done when the row is written, the Cognito part
(AdminUserGlobalSignOut) is retried by a Celery task until Cognito confirms; the admin shows where it stands."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class GlobalSignOut(models.Model):
    """One user signed out everywhere: pending until Cognito confirmed, then done; failed says why."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="global_sign_outs"
    )
    sub = models.CharField(max_length=255, blank=True, default="", db_index=True)
    # The name AdminUserGlobalSignOut is called with (the pool username, else the sub).
    username = models.CharField(max_length=255, blank=True, default="")
    # What asked for it: user, admin, password_reset, password_change, user_disabled, incident.
    trigger = models.CharField(max_length=32)
    # The incident command's run: rows of one run let it resume where it stopped.
    run = models.CharField(max_length=64, blank=True, default="", db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    reason = models.CharField(max_length=255, blank=True, default="")  # why it failed, or the last retry's cause
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    completed = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "accounts"
        verbose_name = "global sign-out"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"sign-out of {self.username or self.sub} ({self.status})"


class EndedSession(models.Model):
    """A session the site ended on its own because its tokens could not be renewed: who, why, when.

    Written when Cognito refuses a refresh token (revoked, expired, user disabled or deleted) or the stored tokens
    cannot be decrypted, whether the inline refresh of a page or the Celery refresh found it; read-only in the
    admin; purged after ``ENDED_SESSION_RETENTION_DAYS`` by beat. Holds no token.
    """

    class Reason(models.TextChoices):
        REFRESH_REFUSED = "refresh_refused", "Cognito refused the refresh token (revoked or expired)"
        USER_DISABLED = "user_disabled", "the user is disabled at Cognito"
        USER_GONE = "user_not_found", "the user no longer exists at Cognito"
        UNREADABLE = "unreadable", "the stored tokens could not be decrypted"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="ended_sessions"
    )
    sub = models.CharField(max_length=255, blank=True, default="", db_index=True)
    username = models.CharField(max_length=255, blank=True, default="")
    token_set = models.CharField(max_length=36, blank=True, default="")  # the id of the deleted TokenSet row
    reason = models.CharField(max_length=32, choices=Reason.choices)
    # Where the refusal was met: "page" (a request's inline refresh) or "worker" (the Celery refresh).
    source = models.CharField(max_length=16, blank=True, default="")
    ended = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        app_label = "accounts"
        verbose_name = "ended session"
        ordering = ["-ended"]

    def __str__(self) -> str:
        return f"session of {self.username or self.sub} ended: {self.reason}"
