"""Persistent state of the app: the link between a Cognito identity and a local user, and revocations.

The site keeps its own user model; ``CognitoIdentity`` ties one Cognito ``sub`` to one local user so that a
username or email change in Cognito never creates a second account. Revocation records live in the database so
every process (web workers, Celery) sees them; the cache in front of them is only an accelerator.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CognitoIdentity(models.Model):
    """One Cognito user (``sub`` of a pool) linked to one local user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="cognito_identity",
    )
    # Cognito's ``sub`` is a UUID, unique across pools in practice; unique here so two first requests racing to
    # create the link cannot both succeed.
    sub = models.CharField(max_length=255, unique=True)
    pool_id = models.CharField(max_length=255, blank=True, default="")
    username = models.CharField(max_length=255, blank=True, default="")
    last_seen = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Cognito identity"
        verbose_name_plural = "Cognito identities"

    def __str__(self) -> str:
        return f"{self.username or self.sub} ({self.pool_id})"


class UserRevocation(models.Model):
    """Tokens of ``sub`` whose session began before ``not_valid_before`` are refused.

    Keyed by ``sub`` rather than by user so that a revocation holds for users not (or no longer) in the local
    database. Set on global sign-out, password change, disabling and deletion (``revocation.revoke_user_tokens``).
    """

    sub = models.CharField(max_length=255, unique=True)
    not_valid_before = models.DateTimeField()
    reason = models.CharField(max_length=64, blank=True, default="")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "revoked user session"

    def __str__(self) -> str:
        return f"{self.sub} not before {self.not_valid_before.isoformat()}"


class RevokedTokenFamily(models.Model):
    """A refresh token family (``origin_jti``) whose id and access tokens are refused.

    ``expires_at`` is when no token of the family can be valid any more; ``revocation.purge_expired`` then
    deletes the row.
    """

    origin_jti = models.CharField(max_length=255, unique=True)
    sub = models.CharField(max_length=255, blank=True, default="", db_index=True)
    reason = models.CharField(max_length=64, blank=True, default="")
    revoked_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = "revoked token family"
        verbose_name_plural = "revoked token families"

    def __str__(self) -> str:
        return f"{self.origin_jti} ({self.reason or 'revoked'})"
