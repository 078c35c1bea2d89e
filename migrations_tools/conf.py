"""Typed access to ``settings.COGNITO_MIGRATION`` with defaults, reloaded when a test overrides the setting.

Rates are requests per second per Cognito quota category: ``RATE`` is user creation (AdminCreateUser shares
Cognito's default quota of 50/s with SignUp, so the default stays well under it), ``READ_RATE`` covers
AdminGetUser/ListUsers and ``UPDATE_RATE`` AdminAddUserToGroup, AdminSetUserPassword and the like.
"""

from __future__ import annotations

from typing import Any

from cognito_backend.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    "RATE": 25.0,
    "READ_RATE": 60.0,
    "UPDATE_RATE": 20.0,
    "WORKERS": 8,
    # Users read from the database per query (keyset pagination: memory does not grow with the user count).
    "CHUNK_SIZE": 500,
    # Cognito attribute -> attribute of the user model (dotted path) or "module:callable" taking the user.
    "ATTRIBUTES": {
        "email": "email",
        "given_name": "first_name",
        "family_name": "last_name",
    },
    # Attributes normalised to E.164 with phonenumbers; numbers without a country code use PHONE_REGION.
    "PHONE_ATTRIBUTES": ["phone_number", "custom:telnum"],
    "PHONE_REGION": "US",
    # True, False, or the name of a boolean field of the user model.
    "EMAIL_VERIFIED": True,
    "PHONE_NUMBER_VERIFIED": False,
    # Copy the user's Django groups (by name) into Cognito groups, creating missing groups.
    "GROUPS": True,
    # Django group name -> Cognito group name; groups not listed keep their name.
    "GROUP_MAP": {},
    # Extra Cognito groups for staff users and superusers ("" for none).
    "STAFF_GROUP": "",
    "SUPERUSER_GROUP": "",
    # A model field or "" for ``user.get_username()``; it is what the user types to sign in.
    "USERNAME_FIELD": "",
    # A datetime field of the user model that ``--since`` filters on.
    "SINCE_FIELD": "date_joined",
    "SUPPRESS_WELCOME": True,
    # Lazy password migration at sign-in (migrations_tools.lazy).
    "LAZY_MIGRATION": True,
    # Wrong local passwords allowed per user and client address in a window before the local hash is no longer
    # consulted for that address; all addresses together get LAZY_MAX_FAILURES_PER_USER.
    "LAZY_MAX_FAILURES": 5,
    "LAZY_MAX_FAILURES_PER_USER": 50,
    "LAZY_FAILURE_WINDOW": 900,
    # Cognito group the bulk run puts every user it creates in: the mark that a pool user is this migration's own
    # (only an administrator can add a user to a group). "" turns it off: then only a verified, equal email links.
    "MARKER_GROUP": "django-migrated",
    # Shared secret of the user-migration Lambda trigger's signed requests; empty disables the endpoint.
    "TRIGGER_SECRET": "",
    "TRIGGER_MAX_SKEW": 300,
    # Requests per minute to the trigger endpoint: per username and per client address.
    "TRIGGER_RATE_PER_USERNAME": 10,
    "TRIGGER_RATE_PER_CLIENT": 600,
}


class MigrationSettings(AppSettings):
    """Attribute access to the ``COGNITO_MIGRATION`` dict, falling back to ``DEFAULTS``."""

    setting_name = "COGNITO_MIGRATION"
    defaults = DEFAULTS


migration_settings = MigrationSettings()
