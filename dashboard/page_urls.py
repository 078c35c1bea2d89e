"""``/dashboard/`` (included by ``config/urls.py``): the page."""

from django.urls import URLPattern, URLResolver, path

from .pages import DashboardPage

app_name = "dashboard-page"

urlpatterns: list[URLPattern | URLResolver] = [path("", DashboardPage.as_view(), name="index")]
