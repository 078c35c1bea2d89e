from django.apps import AppConfig


class LocalawsConfig(AppConfig):
    name = "localaws"
    default_auto_field = "django.db.models.BigAutoField"
