from django.urls import URLPattern, URLResolver, path

from .pages import SignInPage, SignOutPage

app_name = "accounts-pages"

urlpatterns: list[URLPattern | URLResolver] = [
    path("sign-in/", SignInPage.as_view(), name="sign-in"),
    path("sign-out/", SignOutPage.as_view(), name="sign-out"),
]
