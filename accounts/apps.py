from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import token_store  # noqa: F401 - connects its sign-out receiver
        from . import signout  # noqa: F401 - signs out a user made inactive
