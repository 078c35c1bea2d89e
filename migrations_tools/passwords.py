"""Checking a password against the local Django hash so that every refusal costs the same hasher work.

A legacy user's hash takes the hasher's full time to check (about 240 ms with PBKDF2), an unknown or already
migrated user none: the difference tells an attacker which usernames still have a local password. As Django's
``ModelBackend`` does, a refusal that has no hash to check runs the default hasher once against a dummy hash.
"""

from __future__ import annotations

import secrets
from functools import cache
from typing import Any

from django.contrib.auth.hashers import check_password, is_password_usable, make_password
from django.core.signals import setting_changed
from django.dispatch import receiver


@cache
def _dummy_hash() -> str:
    return make_password(secrets.token_urlsafe(16))


@receiver(setting_changed)
def _forget_dummy(*, setting: str, **kwargs: Any) -> None:
    if setting == "PASSWORD_HASHERS":
        _dummy_hash.cache_clear()


def check_local_password(user: Any | None, password: str) -> bool:
    """True if ``user`` has a usable local hash that ``password`` matches.

    With no user (``None``: unknown, or not to be checked any more) the default hasher still runs once. The hash
    is never rewritten (no setter): it is about to be retired.
    """
    if user is not None and is_password_usable(user.password):
        return check_password(password, user.password)
    check_password(password, _dummy_hash())
    return False
