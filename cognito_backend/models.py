"""Persistent state of the app: the link between a Cognito identity and a local user, and revocations.

The site keeps its own user model; ``CognitoIdentity`` ties one Cognito user, ``(issuer, sub)``, to one local
user so that a username or email change in Cognito never creates a second account. Revocation records live in
the database so every process (web workers, Celery) sees them; the cache in front of them is only an
accelerator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from .tokens import VerifiedToken


def issuer_for_pool(pool_id: str) -> str:
    """The issuer of ``pool_id``'s tokens: the configured one (``ISSUER``, ``POOLS``), else the AWS form. Rows
    written without an issuer (by code that predates it) get theirs from their pool this way."""
    from .tokens import configured_pools

    for pool in configured_pools().values():
        if pool.pool_id == pool_id:
            return pool.issuer
    if not pool_id:
        from .conf import cognito_settings

        return cognito_settings.issuer
    region = pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


class CognitoIdentityQuerySet(models.QuerySet["CognitoIdentity"]):
    def for_token(self, token: VerifiedToken) -> CognitoIdentityQuerySet:
        """The link of the token's user: a ``sub`` is unique only within its pool, so the issuer is part of
        the key."""
        return self.filter(issuer=token.pool.issuer, sub=token.sub)


class CognitoIdentity(models.Model):
    """One Cognito user (``sub`` of the pool whose issuer is ``issuer``) linked to one local user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="cognito_identity",
    )
    # The key is (issuer, sub): a sub is only unique within its pool, and a token of another pool must never
    # resolve to (or rewrite) this link. Unique together so two first requests racing to link cannot both win.
    issuer = models.CharField(max_length=255, default="", blank=True)
    sub = models.CharField(max_length=255, db_index=True)
    pool_id = models.CharField(max_length=255, blank=True, default="")
    username = models.CharField(max_length=255, blank=True, default="")
    # ``iat`` and ``jti`` of the newest token whose groups and profile were copied to the user: an older token
    # presented later must not undo them, and the same token seen again has nothing new to copy.
    synced_token_iat = models.DateTimeField(null=True, blank=True)
    synced_token_jti = models.CharField(max_length=255, blank=True, default="")
    last_seen = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CognitoIdentityQuerySet.as_manager()

    class Meta:
        verbose_name = "Cognito identity"
        verbose_name_plural = "Cognito identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "sub"], name="cognito_identity_issuer_sub")]

    def __str__(self) -> str:
        return f"{self.username or self.sub} ({self.pool_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.issuer:
            self.issuer = issuer_for_pool(self.pool_id)
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "issuer"}
        super().save(*args, **kwargs)


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
