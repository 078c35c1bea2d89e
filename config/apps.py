from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Project-level checks and tasks (health, settings validation)."""

    name = "config"
    label = "config"
    verbose_name = "Project configuration"

    def ready(self) -> None:
        from . import checks  # noqa: F401
