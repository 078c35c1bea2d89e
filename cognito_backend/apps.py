from django.apps import AppConfig


class CognitoBackendConfig(AppConfig):
    name = "cognito_backend"
    verbose_name = "Amazon Cognito"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401

        signals.connect()
