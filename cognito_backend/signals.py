"""Keep the caches honest: a changed or deleted user, or link, drops its cached copies in every process.

Connected in ``CognitoBackendConfig.ready``. Saves done by the backend itself land here too; that costs one
reload on the next request, which then finds nothing to change.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from .models import CognitoIdentity


def _user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from .mapping import user_cache
    from .revocation import bump_user_version

    user_cache.forget_user(instance.pk)
    identity = CognitoIdentity.objects.filter(user_id=instance.pk).values_list("sub", flat=True).first()
    if identity:
        bump_user_version(identity)


def _identity_changed(sender: Any, instance: CognitoIdentity, **kwargs: Any) -> None:
    from .mapping import user_cache
    from .revocation import bump_user_version

    user_cache.forget(instance.sub)
    bump_user_version(instance.sub)


def connect() -> None:
    user_model = get_user_model()
    post_save.connect(_user_changed, sender=user_model, dispatch_uid="cognito_backend.user_saved")
    post_delete.connect(_user_changed, sender=user_model, dispatch_uid="cognito_backend.user_deleted")
    post_save.connect(_identity_changed, sender=CognitoIdentity, dispatch_uid="cognito_backend.identity_saved")
    post_delete.connect(_identity_changed, sender=CognitoIdentity, dispatch_uid="cognito_backend.identity_deleted")
