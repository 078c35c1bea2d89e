"""The group admin: a Django group can be marked as mirrored to the pool's group of the same name.

Creating, renaming and deleting a mirrored group is carried to the pool first; when Cognito refuses, nothing
changes here and the admin says why. Cognito cannot rename a group: a rename creates the new group, moves the
members and deletes the old one.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from cognito_backend import exceptions as exc
from cognito_backend import idp_admin

from .admin_models import CognitoGroupMirror

logger = logging.getLogger(__name__)


def _mirror(group: Group | None) -> CognitoGroupMirror | None:
    if group is None or group.pk is None:
        return None
    return CognitoGroupMirror.objects.filter(group=group).first()


def rename_in_pool(old: str, new: str) -> None:
    """Cognito has no rename: the new group, the members moved, the old group deleted (in that order, so a
    failure half-way leaves every member in at least one of the two)."""
    record = idp_admin.get_group(old)
    idp_admin.create_group(new, description=str((record or {}).get("Description", "")))
    if record is not None:
        for username in idp_admin.list_users_in_group(old):
            idp_admin.admin_add_user_to_group(username, new)
        idp_admin.delete_group(old)


class MirroredGroupForm(forms.ModelForm):  # type: ignore[type-arg]
    mirrored = forms.BooleanField(
        label="Mirrored to a Cognito group",
        required=False,
        help_text="Created, renamed and deleted in the Cognito pool too (the pool's group has the same name).",
    )

    class Meta:
        model = Group
        fields = ("name", "permissions")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mirrored"].initial = _mirror(self.instance) is not None

    def clean(self) -> dict[str, Any]:
        """Carry the change to the pool before anything is saved here; a refusal is a form error."""
        data = super().clean() or {}
        if self.errors or not data.get("mirrored"):
            return data
        name = str(data.get("name", ""))
        mirror = _mirror(self.instance)
        try:
            if mirror is None:
                idp_admin.create_group(name)  # False when the pool has it already: then it is mirrored as it is
            elif mirror.cognito_name != name:
                rename_in_pool(mirror.cognito_name, name)
        except exc.CognitoError as error:
            logger.info("group %s: Cognito refused (%s)", name, error.code)
            raise forms.ValidationError(
                f"Cognito refused the change ({error.code}); nothing was changed here or in the pool."
            ) from error
        return data


class MirroredGroupAdminMixin:
    """Mixed into the site's group admin (``admin.py``)."""

    form = MirroredGroupForm

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))  # type: ignore[misc]
        fields = [f for _, options in fieldsets for f in options.get("fields", ())]
        if "mirrored" not in fields:
            fieldsets.append(("Cognito", {"fields": ("mirrored",)}))
        return fieldsets

    def get_list_display(self, request: HttpRequest) -> Any:
        return [*super().get_list_display(request), "cognito_mirror_name"]  # type: ignore[misc]

    @admin.display(description="Cognito group")
    def cognito_mirror_name(self, group: Group) -> str:
        mirror = _mirror(group)
        return mirror.cognito_name if mirror else "-"

    def save_model(self, request: HttpRequest, obj: Group, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        if form.cleaned_data.get("mirrored"):
            CognitoGroupMirror.objects.update_or_create(group=obj, defaults={"cognito_name": obj.name})
        else:
            CognitoGroupMirror.objects.filter(group=obj).delete()

    def delete_model(self, request: HttpRequest, obj: Group) -> None:
        if self._delete_in_pool(request, obj):
            super().delete_model(request, obj)  # type: ignore[misc]
        else:
            request._cognito_refused = True  # type: ignore[attr-defined]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Group]) -> None:
        kept = [group.pk for group in queryset if not self._delete_in_pool(request, group)]
        super().delete_queryset(request, queryset.exclude(pk__in=kept))  # type: ignore[misc]

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        if getattr(request, "_cognito_refused", False):
            return HttpResponseRedirect(reverse("admin:auth_group_change", args=[obj_id]))
        response: HttpResponse = super().response_delete(request, obj_display, obj_id)  # type: ignore[misc]
        return response

    def _delete_in_pool(self, request: HttpRequest, group: Group) -> bool:
        mirror = _mirror(group)
        if mirror is None:
            return True
        try:
            idp_admin.delete_group(mirror.cognito_name)
        except exc.CognitoError as error:
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"{group.name}: Cognito refused to delete the group ({error.code}); it was kept here and there.",
                messages.ERROR,
            )
            return False
        return True
