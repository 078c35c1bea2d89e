"""Registry changes drop every process's remembered registry answers (``selectors.function_by_name``); signing
out of the site forgets the user's Cloud Connect login."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from . import selectors
from .models import CloudConnectLogin, LambdaFunction


def _changed(**kwargs: Any) -> None:
    # After the commit: a process reading before it would remember the old row under the new generation.
    transaction.on_commit(selectors.registry_changed)


@receiver(post_save, sender=LambdaFunction, dispatch_uid="dashboard.registry.saved")
def _function_saved(sender: Any, **kwargs: Any) -> None:
    _changed()


@receiver(post_delete, sender=LambdaFunction, dispatch_uid="dashboard.registry.deleted")
def _function_deleted(sender: Any, **kwargs: Any) -> None:
    _changed()


@receiver(m2m_changed, sender=LambdaFunction.allowed_groups.through, dispatch_uid="dashboard.registry.groups")
def _groups_changed(sender: Any, **kwargs: Any) -> None:
    _changed()


@receiver(post_save, sender=Group, dispatch_uid="dashboard.registry.group_saved")
def _group_saved(sender: Any, created: bool = False, **kwargs: Any) -> None:
    if not created:  # a new group is in no function's list yet (sign-ins create groups: no bus message for them)
        _changed()


@receiver(post_delete, sender=Group, dispatch_uid="dashboard.registry.group_deleted")
def _group_deleted(sender: Any, **kwargs: Any) -> None:
    _changed()


@receiver(user_logged_out, dispatch_uid="dashboard.cloud_connect.logged_out")
def _forget_cloud_connect(sender: Any, user: Any, **kwargs: Any) -> None:
    if getattr(user, "pk", None):
        CloudConnectLogin.objects.filter(user=user).delete()
