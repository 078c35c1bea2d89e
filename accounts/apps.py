from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cognito_backend import sessions

        from . import (
            checks,  # noqa: F401 - registers the system checks
            signout,  # noqa: F401 - signs out a user made inactive
            token_store,  # noqa: F401 - connects its sign-out receiver
        )
        from .page_helpers import session_access_token

        sessions.set_access_token_source(session_access_token)  # the session middleware's online check
