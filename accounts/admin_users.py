"""The user admin on Cognito: each user's link to the pool in the list, the pool's live view of the user on the
change page, filters, and actions acting on Cognito (``admin_services``), large selections as a Celery task.

The change list makes no Cognito call: the link and the migration state are read with the page's one query
(``list_select_related``). Only the change page asks the pool (AdminGetUser), and answers softly when it cannot.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from cognito_backend import exceptions as exc
from cognito_backend import idp_admin
from cognito_backend.models import CognitoIdentity

from . import admin_services, admin_tasks
from .admin_models import AdminActionResult, AdminActionRun, CognitoGroupMirror
from .conf import accounts_settings
from .models import TokenSet

# The pool's view of the user being shown, fetched once per change page (``change_view``) for the read-only field.
_pool_view: ContextVar[dict[str, Any] | None] = ContextVar("cognito_pool_view", default=None)

NOT_STARTED = "not_started"


class CognitoActionForm(ActionForm):
    """Django's action form with the argument of the group actions."""

    cognito_group = forms.CharField(label="Cognito group", required=False, max_length=128)


class LinkedFilter(admin.SimpleListFilter):
    title = "Cognito link"
    parameter_name = "cognito_linked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "linked"), ("no", "not linked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in {"yes", "no"}:
            return queryset.filter(cognito_identity__isnull=self.value() == "no")
        return queryset


class MigrationStateFilter(admin.SimpleListFilter):
    title = "migration state"
    parameter_name = "cognito_migration"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from migrations_tools.models import UserMigration

        return [(NOT_STARTED, "not started"), *((str(v), str(label)) for v, label in UserMigration.State.choices)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == NOT_STARTED:
            return queryset.filter(cognito_migration__isnull=True)
        if value:
            return queryset.filter(cognito_migration__state=value)
        return queryset


class CognitoGroupFilter(admin.SimpleListFilter):
    """Members of a Cognito group, as mirrored here (groups marked as mirrors, and groups the token mapping
    manages)."""

    title = "Cognito group"
    parameter_name = "cognito_group"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from cognito_backend.conf import cognito_settings

        names = set(CognitoGroupMirror.objects.values_list("cognito_name", flat=True))
        managed = {str(g) for g in cognito_settings.MANAGED_GROUPS or []}
        names |= set(Group.objects.values_list("name", flat=True)) if "*" in managed else managed
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        group = admin_services.django_group_or_none(value)
        return queryset.filter(groups=group) if group is not None else queryset.none()


def _link(user: Any) -> CognitoIdentity | None:
    try:
        link: CognitoIdentity | None = user.cognito_identity
    except CognitoIdentity.DoesNotExist:
        return None
    return link


def _migration(user: Any) -> Any:
    from migrations_tools.models import UserMigration

    try:
        return user.cognito_migration
    except UserMigration.DoesNotExist:
        return None


def _yes(value: Any) -> str:
    return "yes" if str(value).lower() == "true" or value is True else "no"


class CognitoUserAdminMixin:
    """Mixed into the site's user admin (``admin.py`` builds the class on whatever user admin is registered)."""

    action_form = CognitoActionForm
    list_select_related = ("cognito_identity", "cognito_migration")
    cognito_fields = ("cognito_link", "cognito_pool_view")

    # --- the change list --------------------------------------------------------------------------------------

    def get_list_display(self, request: HttpRequest) -> Any:
        base = list(super().get_list_display(request))  # type: ignore[misc]
        return [*base, "cognito_username", "cognito_pool", "cognito_sub", "migration_state"]

    def get_list_filter(self, request: HttpRequest) -> Any:
        base = list(super().get_list_filter(request))  # type: ignore[misc]
        return [*base, LinkedFilter, MigrationStateFilter, CognitoGroupFilter]

    @admin.display(description="pool username", ordering="cognito_identity__username")
    def cognito_username(self, user: Any) -> str:
        link = _link(user)
        return link.username if link else "-"

    @admin.display(description="pool", ordering="cognito_identity__pool_id")
    def cognito_pool(self, user: Any) -> str:
        link = _link(user)
        return link.pool_id if link else "-"

    @admin.display(description="sub")
    def cognito_sub(self, user: Any) -> str:
        link = _link(user)
        return link.sub if link else "-"

    @admin.display(description="migration")
    def migration_state(self, user: Any) -> str:
        migration = _migration(user)
        return str(migration.state) if migration is not None else NOT_STARTED.replace("_", " ")

    # --- the change page --------------------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))  # type: ignore[misc]
        if obj is not None:
            fieldsets.append(("Cognito", {"fields": self.cognito_fields}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return [*fields, *self.cognito_fields] if obj is not None else fields

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        user = self.get_object(request, object_id)  # type: ignore[attr-defined]
        view: dict[str, Any] = {}
        allowed = user is not None and self.has_view_or_change_permission(request, user)  # type: ignore[attr-defined]
        link = _link(user) if allowed else None
        if link is not None and request.method == "GET":
            view = pool_view(link)
            if "error" in view:
                messages.warning(request, view["error"])
        reset = _pool_view.set(view)
        try:
            response: HttpResponse = super().change_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context
            )
            if isinstance(response, TemplateResponse):
                response.render()
        finally:
            _pool_view.reset(reset)
        return response

    @admin.display(description="link to the pool")
    def cognito_link(self, user: Any) -> str:
        link = _link(user)
        if link is None:
            return "not linked to a Cognito user"
        return format_html(
            "pool <code>{}</code>, username <code>{}</code>, sub <code>{}</code>", link.pool_id, link.username, link.sub
        )

    @admin.display(description="the pool's view (live)")
    def cognito_pool_view(self, user: Any) -> str:
        view = _pool_view.get() or {}
        migration = _migration(user)
        rows = list(view.get("rows", []))
        rows.append(("migration state", str(migration.state) if migration is not None else "not started"))
        if "error" in view:
            rows.insert(0, ("pool", view["error"]))
        return format_html(
            '<table class="cognito-pool-view">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    # --- actions ----------------------------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """The Cognito actions for admins who may change users; deleting from the pool needs the delete permission."""
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        if self.has_change_permission(request):  # type: ignore[attr-defined]
            deleting = self.has_delete_permission(request)  # type: ignore[attr-defined]
            for name, action in admin_services.ACTIONS.items():
                if name != "cognito_delete" or deleting:
                    actions[name] = (_action(name), name, action.description)
        return actions


def pool_view(link: CognitoIdentity) -> dict[str, Any]:
    """What the pool says of the user (AdminGetUser, AdminListGroupsForUser), as label/value rows; ``error`` when
    Cognito cannot be asked."""
    name = link.username or link.sub
    try:
        record = idp_admin.admin_get_user(name, pool_id=link.pool_id or None)
        groups = idp_admin.admin_list_groups_for_user(name, pool_id=link.pool_id or None) if record else []
    except exc.CognitoError as error:
        return {"error": f"Cognito could not be asked about this user ({error.code}); the pool's view is missing."}
    if record is None:
        return {"rows": [("status", "not in the pool")]}
    attrs = idp_admin.attributes_to_dict(record.get("UserAttributes"))
    mfa = record.get("UserMFASettingList") or [o.get("DeliveryMedium", "") for o in record.get("MFAOptions") or []]
    rows = [
        ("status", str(record.get("UserStatus", ""))),
        ("enabled", _yes(record.get("Enabled", False))),
        ("email", f"{attrs.get('email', '-')} (verified: {_yes(attrs.get('email_verified', 'false'))})"),
        (
            "phone",
            f"{attrs.get('phone_number', '-')} (verified: {_yes(attrs.get('phone_number_verified', 'false'))})",
        ),
        ("MFA", f"{', '.join(mfa) or 'none'} (preferred: {record.get('PreferredMfaSetting') or 'none'})"),
        ("groups", ", ".join(groups) or "none"),
        ("created", str(record.get("UserCreateDate", ""))),
        ("modified", str(record.get("UserLastModifiedDate", ""))),
    ]
    return {"rows": rows}


def _action(name: str) -> Any:
    def act(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return run_admin_action(model_admin, request, queryset, name)

    act.__name__ = name
    return act


def run_admin_action(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any], name: str) -> Any:
    action = admin_services.ACTIONS[name]
    argument = str(request.POST.get("cognito_group", "")).strip()
    if action.needs_group and not argument:
        model_admin.message_user(request, "Name the Cognito group in the field beside the action.", messages.ERROR)
        return None
    if name == "cognito_delete" and request.POST.get("confirmed") != "yes":
        return delete_confirmation(model_admin, request, queryset)
    users = list(queryset.select_related("cognito_identity").order_by("pk"))
    threshold = int(accounts_settings.ADMIN_BULK_THRESHOLD or 50)
    if len(users) > threshold:
        run = AdminActionRun.objects.create(
            action=name,
            argument=argument,
            user_ids=[u.pk for u in users],
            total=len(users),
            actor=request.user if request.user.is_authenticated else None,
        )
        admin_tasks.queue_run(run)
        model_admin.message_user(
            request, f"{len(users)} users: the action runs in the background; this page shows its progress."
        )
        return HttpResponseRedirect(reverse("admin:accounts_adminactionrun_change", args=[run.pk]))
    outcomes = admin_services.run_action(request.user.pk, name, users, argument)
    report(model_admin, request, action.description, outcomes)
    return None


LEVELS = {
    admin_services.DONE: messages.SUCCESS,
    admin_services.SKIPPED: messages.INFO,
    admin_services.REFUSED: messages.ERROR,
    admin_services.FAILED: messages.ERROR,
}


def report(model_admin: Any, request: HttpRequest, description: str, outcomes: list[admin_services.Outcome]) -> None:
    """A message per outcome (counts) and one per user that was not done (why)."""
    counts = admin_services.summary(outcomes)
    for kind in (admin_services.DONE, admin_services.SKIPPED, admin_services.REFUSED, admin_services.FAILED):
        if counts[kind]:
            model_admin.message_user(request, f"{description}: {kind} for {counts[kind]} user(s).", LEVELS[kind])
    for outcome in outcomes:
        if outcome.outcome != admin_services.DONE:
            model_admin.message_user(
                request, f"{outcome.username}: {outcome.outcome}: {outcome.detail}", LEVELS[outcome.outcome]
            )


def delete_confirmation(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse:
    """The page listing what deleting from the pool takes away, per user, before anything is deleted."""
    users = list(queryset.select_related("cognito_identity").prefetch_related("groups").order_by("pk"))
    sets = dict.fromkeys([u.pk for u in users], 0)
    for user_id in TokenSet.objects.filter(user_id__in=list(sets)).values_list("user_id", flat=True):
        sets[user_id] += 1
    rows = [
        {
            "user": user,
            "link": _link(user),
            "groups": ", ".join(g.name for g in user.groups.all()),
            "token_sets": sets[user.pk],
        }
        for user in users
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Delete from the Cognito pool?",
        "rows": rows,
        "opts": model_admin.model._meta,
        "action": "cognito_delete",
        "selected": [u.pk for u in users],
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/accounts/delete_from_pool.html", context)


class AdminActionResultInline(admin.TabularInline):  # type: ignore[type-arg]
    model = AdminActionResult
    fields = ("user_id", "username", "outcome", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AdminActionRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The progress page of a large action: how many users are done, and each user's outcome."""

    list_display = ("action", "argument", "total", "status", "actor", "created", "finished")
    list_filter = ("status", "action")
    fields = ("action", "argument", "status", "progress", "actor", "created", "finished")
    readonly_fields = fields
    inlines = [AdminActionResultInline]
    change_form_template = "admin/accounts/adminactionrun/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, run: AdminActionRun) -> str:
        counts = admin_services.summary(run.results.all())  # type: ignore[arg-type]
        parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        return f"{sum(counts.values())} of {run.total} users ({parts or 'none yet'})"
