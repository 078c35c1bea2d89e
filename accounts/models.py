"""Tokens held server-side: one ``TokenSet`` per signed-in Django session.

The id, access and refresh tokens a sign-in returned are kept here, encrypted together (Fernet, with the keys
of ``TOKEN_ENCRYPTION_KEY``) in ``ciphertext``; the other columns hold nothing secret and let the refresh (inline,
or Celery in the background) find the sets about to expire without decrypting anything. ``accounts.token_store``
is the only code that reads or writes these rows.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class TokenSet(models.Model):
    """The Cognito tokens of one session. The session holds only ``id`` (a random UUID), never a token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cognito_token_sets")
    # Cognito's names for the user: the refresh needs the username when the app client has a secret.
    sub = models.CharField(max_length=255, db_index=True)
    username = models.CharField(max_length=255, blank=True, default="")
    # The app client the tokens were issued to (the hosted UI's may differ from COGNITO["APP_CLIENT_ID"]): a
    # refresh token is bound to its client, so the refresh names it (and hashes with its secret). Empty: the site's.
    client_id = models.CharField(max_length=128, blank=True, default="")
    # Fernet token of the JSON {"id_token", "access_token", "refresh_token"}: no token text in clear.
    ciphertext = models.TextField()
    # When the id and access tokens expire (the earlier of the two): what the refresh looks at.
    expires_at = models.DateTimeField(db_index=True)
    # Moved by every write of new tokens, so a refresh never overwrites a newer one with older tokens.
    version = models.PositiveIntegerField(default=1)
    # The refresh lease: whoever moves ``lease_until`` from empty (or past) to the future renews the tokens, in
    # whatever process it runs (web or worker, any cache); the others wait for it and read its answer.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=32, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    refreshed = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "token set"

    def __str__(self) -> str:
        return f"tokens of {self.username or self.sub} until {self.expires_at.isoformat()}"


from .admin_models import AdminActionResult, AdminActionRun, CognitoGroupMirror  # noqa: E402 - the admin's own state
from .signout_models import EndedSession, GlobalSignOut  # noqa: E402 - the sign-out state lives in its own module

__all__ = ["AdminActionResult", "AdminActionRun", "CognitoGroupMirror", "EndedSession", "GlobalSignOut", "TokenSet"]
