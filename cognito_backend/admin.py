"""Admin for the links and revocations; revoking from here goes through the revocation service."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import revocation
from .models import CognitoIdentity, RevokedTokenFamily, UserRevocation


@admin.register(CognitoIdentity)
class CognitoIdentityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("username", "sub", "issuer", "user", "last_seen", "created")
    search_fields = ("username", "sub", "user__username", "user__email")
    list_filter = ("issuer",)
    readonly_fields = ("created", "updated", "last_seen", "synced_token_iat")
    raw_id_fields = ("user",)
    actions = ["revoke_tokens"]

    @admin.action(description="Sign out everywhere (refuse their current tokens)")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[CognitoIdentity]) -> None:
        count = 0
        for identity in queryset:
            revocation.revoke_user_tokens(identity.sub, reason="admin")
            count += 1
        self.message_user(request, f"Revoked the tokens of {count} user(s).", messages.SUCCESS)


@admin.register(UserRevocation)
class UserRevocationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("sub", "not_valid_before", "reason", "updated")
    search_fields = ("sub",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # edited only through revocation.revoke_user_tokens, which also updates the caches


@admin.register(RevokedTokenFamily)
class RevokedTokenFamilyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("origin_jti", "sub", "reason", "revoked_at", "expires_at")
    search_fields = ("origin_jti", "sub")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
