"""``/dashboard/`` (included by ``config/urls.py``): the page, and "Connect with Cloud Connect"."""

from django.urls import URLPattern, URLResolver, path

from .pages import CloudConnectPage, DashboardPage

app_name = "dashboard-page"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", DashboardPage.as_view(), name="index"),
    path("cloud-connect/", CloudConnectPage.as_view(), name="cloud-connect"),
]
