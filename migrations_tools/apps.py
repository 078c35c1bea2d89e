from django.apps import AppConfig


class MigrationsToolsConfig(AppConfig):
    name = "migrations_tools"
    default_auto_field = "django.db.models.BigAutoField"
