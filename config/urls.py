from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .health import healthz

handler500 = "config.errors.server_error"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("cognito_backend.urls")),
    path("api/auth/", include("accounts.urls")),
    path("api/", include("dashboard.urls")),
    path("dashboard/", include("dashboard.page_urls")),
    path("accounts/", include("accounts.page_urls")),
    path("api/migration/", include("migrations_tools.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="schema-docs"),
]
