"""Admin: the sessions the site ended because their tokens could not be renewed (read-only: who, why, when)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import EndedSession


@admin.register(EndedSession)
class EndedSessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("ended", "username", "sub", "reason", "source", "user")
    list_filter = ("reason", "source")
    search_fields = ("username", "sub", "token_set")
    date_hierarchy = "ended"
    readonly_fields = [f.name for f in EndedSession._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record goes with the books (accounts.purge_ended_sessions), not by hand
