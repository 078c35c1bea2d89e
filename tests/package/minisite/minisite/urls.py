from django.urls import include, path

from .views import WhoAmI

urlpatterns = [
    path("api/whoami/", WhoAmI.as_view()),
    path("api/auth/", include("cognito_backend.urls")),
]
