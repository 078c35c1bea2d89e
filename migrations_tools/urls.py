from django.urls import URLPattern, URLResolver, path

from .views import trigger_check

app_name = "migrations_tools"

urlpatterns: list[URLPattern | URLResolver] = [
    path("trigger/", trigger_check, name="trigger"),
]
