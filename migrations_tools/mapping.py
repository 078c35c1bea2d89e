"""From a local user to what Cognito is sent: username, attributes and groups, validated before any call.

A value Cognito would refuse (a malformed email, a phone number that is not a number, a username with spaces)
raises ``InvalidRow`` with a stable code, so the user is reported and left untouched instead of failing mid-way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.module_loading import import_string

from .conf import migration_settings

MAX_ATTRIBUTE_LENGTH = 2048
MAX_NAME_LENGTH = 128


class InvalidRow(Exception):
    """A user whose data Cognito would refuse; ``code`` is stable, ``detail`` names the field (never a secret)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class MappedUser:
    pk: Any
    username: str
    attributes: dict[str, str]
    groups: tuple[str, ...] = field(default_factory=tuple)
    is_active: bool = True

    @property
    def email(self) -> str:
        return self.attributes.get("email", "")


def _is_cognito_name(value: str) -> bool:
    """Cognito's ``[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+``: letters, marks, symbols, numbers, punctuation only."""
    return bool(value) and all(unicodedata.category(ch)[0] in "LMSNP" for ch in value)


def cognito_username(user: Any) -> str:
    name = str(migration_settings.USERNAME_FIELD or "")
    return str(getattr(user, name) if name else user.get_username())


def validate_username(username: str) -> None:
    if not username:
        raise InvalidRow("invalid_username", "the username is empty")
    if len(username) > MAX_NAME_LENGTH:
        raise InvalidRow("invalid_username", f"the username is longer than {MAX_NAME_LENGTH} characters")
    if not _is_cognito_name(username):
        raise InvalidRow("invalid_username", "the username contains spaces or control characters")


def _resolve(user: Any, source: str) -> Any:
    if ":" in source:
        func: Callable[[Any], Any] = import_string(source.replace(":", "."))
        return func(user)
    value: Any = user
    for part in source.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
        if callable(value):
            value = value()
    return value


def _flag(user: Any, setting: Any) -> bool:
    if isinstance(setting, bool):
        return setting
    return bool(getattr(user, str(setting), False))


def to_e164(raw: str, region: str) -> str:
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException as error:
        raise InvalidRow("invalid_phone", f"not a phone number ({error.error_type})") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidRow("invalid_phone", "not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def map_attributes(user: Any) -> dict[str, str]:
    """The Cognito attributes of ``user`` from the ``ATTRIBUTES`` mapping; empty values are left out."""
    phone_attributes = set(migration_settings.PHONE_ATTRIBUTES)
    attributes: dict[str, str] = {}
    for name, source in dict(migration_settings.ATTRIBUTES).items():
        value = _resolve(user, str(source))
        if value is None or str(value).strip() == "":
            continue
        text = str(value).strip()
        if name == "email":
            try:
                validate_email(text)
            except ValidationError as error:
                raise InvalidRow("invalid_email", "the email address is not valid") from error
        elif name in phone_attributes:
            text = to_e164(text, str(migration_settings.PHONE_REGION))
        if len(text) > MAX_ATTRIBUTE_LENGTH:
            raise InvalidRow("invalid_attribute", f"{name} is longer than {MAX_ATTRIBUTE_LENGTH} characters")
        attributes[name] = text
    if "email" in attributes:
        attributes["email_verified"] = "true" if _flag(user, migration_settings.EMAIL_VERIFIED) else "false"
    if "phone_number" in attributes:
        verified = _flag(user, migration_settings.PHONE_NUMBER_VERIFIED)
        attributes["phone_number_verified"] = "true" if verified else "false"
    return attributes


def map_groups(user: Any) -> tuple[str, ...]:
    if not migration_settings.GROUPS:
        return ()
    group_map = dict(migration_settings.GROUP_MAP)
    names: list[str] = []
    if hasattr(user, "groups"):
        names += [str(group_map.get(g.name, g.name)) for g in user.groups.all()]
    if migration_settings.STAFF_GROUP and getattr(user, "is_staff", False):
        names.append(str(migration_settings.STAFF_GROUP))
    if migration_settings.SUPERUSER_GROUP and getattr(user, "is_superuser", False):
        names.append(str(migration_settings.SUPERUSER_GROUP))
    for name in names:
        if not _is_cognito_name(name) or len(name) > MAX_NAME_LENGTH:
            raise InvalidRow("invalid_group", f"group {name!r} is not a valid Cognito group name")
    return tuple(sorted(set(names)))


def map_user(user: Any) -> MappedUser:
    """Validate and map one user; raises ``InvalidRow``."""
    username = cognito_username(user)
    validate_username(username)
    return MappedUser(
        pk=user.pk,
        username=username,
        attributes=map_attributes(user),
        groups=map_groups(user),
        is_active=bool(getattr(user, "is_active", True)),
    )
