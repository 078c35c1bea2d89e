"""``/api/`` (included by ``config/urls.py``): the Lambda registry, invocations and their history."""

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    path("lambdas/", views.LambdaListView.as_view(), name="lambda-list"),
    path("lambdas/<str:name>/", views.LambdaDetailView.as_view(), name="lambda-detail"),
    path("lambdas/<str:name>/invoke/", views.LambdaInvokeView.as_view(), name="lambda-invoke"),
    path("invocations/", views.InvocationListView.as_view(), name="invocation-list"),
]
