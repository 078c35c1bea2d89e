"""The admin site of a site that signs in through Cognito: ``CognitoAdminSite``, installed as the default site by
``CognitoAdminConfig`` (in ``INSTALLED_APPS`` instead of ``django.contrib.admin``), so every ``admin.register``
lands on it.

The changes to Django's ``AdminSite``, the rules themselves in ``admin_login``: ``/admin/login/`` signs in
through Cognito (the site's sign-in page or the hosted UI) instead of taking local passwords; every admin view is
gated (the session's tokens confirmed with Cognito, the staff flags read again from the pool's groups, MFA
required by setting); a break-glass session counts only while the setting allows it; logging out revokes the
session's refresh token, as the site's sign-out does (and "Change password" is the site's page, which changes it
in the pool).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar, cast

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth import BACKEND_SESSION_KEY
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


class CognitoAdminSite(admin.AdminSite):
    """Django's admin, signed in to with Cognito."""

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        from . import admin_login

        return admin_login.login(self, request, extra_context)

    def logout(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from . import admin_login

        admin_login.before_logout(request)
        return super().logout(request, extra_context)

    def password_change(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """A Cognito admin's password lives in the pool: the site's page changes it (a local one would be a second
        password, good for break-glass sign-in)."""
        from . import admin_login

        if request.session.get(BACKEND_SESSION_KEY) == admin_login.COGNITO_BACKEND:
            return HttpResponseRedirect(reverse("accounts-pages:password-change"))  # type: ignore[return-value]
        return super().password_change(request, extra_context)

    def has_permission(self, request: HttpRequest) -> bool:
        from . import admin_login

        return bool(super().has_permission(request)) and admin_login.session_allowed(request)

    def admin_view(self, view: _View, cacheable: bool = False) -> _View:
        inner = super().admin_view(view, cacheable)

        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            from . import admin_login

            refused = admin_login.gate(self, request)
            if refused is not None:
                add_never_cache_headers(refused)
                return refused
            return inner(request, *args, **kwargs)

        return cast(_View, update_wrapper(gated, inner))


class CognitoAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.CognitoAdminSite"

    def ready(self) -> None:
        super().ready()
        from django.core import checks

        from .admin_login import check_admin_sign_in

        checks.register(check_admin_sign_in, checks.Tags.security, deploy=True)
