from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import CloudConnectLogin, Invocation, LambdaFunction


@admin.register(LambdaFunction)
class LambdaFunctionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["display_name", "name", "function_name", "invocation_type", "credentials", "enabled", "timeout"]
    list_filter = ["enabled", "invocation_type", "credentials"]
    search_fields = ["name", "display_name", "function_name", "description"]
    prepopulated_fields = {"name": ["display_name"]}
    filter_horizontal = ["allowed_groups"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["display_name", "name", "function_name", "description", "enabled"]}),
        ("Invocation", {"fields": ["invocation_type", "credentials", "timeout"]}),
        ("Payload", {"fields": ["example_payload", "payload_schema"]}),
        ("Access", {"fields": ["allowed_groups"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]


@admin.register(Invocation)
class InvocationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The audit log: read-only, never edited by hand."""

    list_display = ["created_at", "function_key", "username", "status", "http_status", "error_code", "duration_ms"]
    list_filter = ["status", "invocation_type", "credentials", "error_code"]
    search_fields = ["function_key", "username", "payload_sha256", "aws_request_id"]
    date_hierarchy = "created_at"
    list_select_related = ["function"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Invocation._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CloudConnectLogin)
class CloudConnectLoginAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Who is connected with Cloud Connect; the encrypted secret is never shown. Deleting one disconnects it."""

    list_display = ["user", "cloud_username", "identity_id", "expires_at", "token_expires_at", "renewed_at"]
    search_fields = ["user__username", "cloud_username", "identity_id"]
    fields = ("user", "cloud_username", "identity_id", "expires_at", "token_expires_at", "renewed_at", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
