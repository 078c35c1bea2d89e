"""Admin: users and groups on Cognito (``admin_users``, ``admin_groups``), the state of each sign-out everywhere,
and the actions that start one (users, whole groups)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from . import admin_ended, signout  # noqa: F401 - admin_ended registers the ended sessions' admin
from .admin_groups import MirroredGroupAdminMixin
from .admin_models import AdminActionRun
from .admin_users import AdminActionRunAdmin, CognitoUserAdminMixin, run_admin_action
from .models import GlobalSignOut

admin.site.register(AdminActionRun, AdminActionRunAdmin)


@admin.register(GlobalSignOut)
class GlobalSignOutAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("username", "sub", "trigger", "status", "reason", "attempts", "created", "completed", "run")
    list_filter = ("status", "trigger")
    search_fields = ("username", "sub", "run")
    readonly_fields = [f.name for f in GlobalSignOut._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Ask Cognito again (failed or pending sign-outs)")
    def retry(self, request: HttpRequest, queryset: QuerySet[GlobalSignOut]) -> None:
        jobs = list(queryset.exclude(status=GlobalSignOut.Status.DONE))
        for job in jobs:
            GlobalSignOut.objects.filter(pk=job.pk).update(status=GlobalSignOut.Status.PENDING, reason="")
            signout.enqueue(job)
        self.message_user(request, f"Queued {len(jobs)} sign-out(s) again.", messages.SUCCESS)


def _signed_out(model_admin: admin.ModelAdmin, request: HttpRequest, users: Any) -> None:  # type: ignore[type-arg]
    jobs = signout.sign_out_users(users, trigger="admin")
    model_admin.message_user(
        request,
        f"Signed out {len(jobs)} user(s) here; Cognito's part is under Global sign-outs.",
        messages.SUCCESS,
    )


User = get_user_model()
_BaseUserAdmin: type[admin.ModelAdmin] = (  # type: ignore[type-arg]
    type(admin.site._registry[User]) if admin.site.is_registered(User) else UserAdmin
)
_BaseGroupAdmin: type[admin.ModelAdmin] = (  # type: ignore[type-arg]
    type(admin.site._registry[Group]) if admin.site.is_registered(Group) else GroupAdmin
)


class SignOutUserAdmin(CognitoUserAdminMixin, _BaseUserAdmin):  # type: ignore[valid-type,misc]
    actions = [*(_BaseUserAdmin.actions or []), "sign_out_everywhere"]

    @admin.action(description="Sign out everywhere (here and at Cognito)")
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        """Per user, logged, large selections as a task, like the other Cognito actions (``admin_users``)."""
        return run_admin_action(self, request, queryset, "sign_out_everywhere")


class SignOutGroupAdmin(MirroredGroupAdminMixin, _BaseGroupAdmin):  # type: ignore[valid-type,misc]
    actions = [*(_BaseGroupAdmin.actions or []), "sign_out_members"]

    @admin.action(description="Sign out every member everywhere (here and at Cognito)")
    def sign_out_members(self, request: HttpRequest, queryset: QuerySet[Group]) -> None:
        _signed_out(self, request, User._default_manager.filter(groups__in=queryset).distinct())


for _model, _admin_class in ((User, SignOutUserAdmin), (Group, SignOutGroupAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
