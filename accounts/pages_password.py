"""Password pages: ``/accounts/password/forgot/`` (send a reset code), ``/accounts/password/reset/`` (the code
and a new password) and ``/accounts/password/change/`` (signed in). Each shows the pool's password policy.

The same services and rate-limit budgets as the REST endpoints: forgot (per address and per user) says the
same whether or not the account exists; reset spends the ``confirm`` budgets; change checks the current
password on the sign-in's budgets. A changed or reset password signs the user out everywhere.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from cognito_backend import exceptions as exc

from . import services
from .page_helpers import (
    SignedInPage,
    add_error,
    code_field,
    password_field,
    password_rules,
    render_throttled,
    status_of,
    throttled,
)
from .pages_signup import username_field

logger = logging.getLogger(__name__)

FORGOT_SENT = (
    "If the account exists, a reset code was sent to its verified email or phone. "
    "Enter it below with your new password."
)


class ForgotForm(forms.Form):
    username = username_field("Username or email")


class ResetForm(forms.Form):
    username = username_field("Username or email")
    code = code_field("Reset code")
    new_password = password_field("New password")


class ChangeForm(forms.Form):
    old_password = password_field("Current password", "current-password")
    new_password = password_field("New password")


def _page(request: HttpRequest, template: str, form: forms.Form, status: int = 200) -> HttpResponse:
    return render(request, template, {"form": form, "password_rules": password_rules()}, status=status)


class ForgotPasswordPage(View):
    template_name = "accounts/password_forgot.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return _page(request, self.template_name, ForgotForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ForgotForm(request.POST)
        if not form.is_valid():
            return _page(request, self.template_name, form, status=400)
        username = form.cleaned_data["username"]
        seconds = throttled(request, "forgot_password", username, form)
        if seconds is not None:
            return render_throttled(request, self.template_name, {"form": form}, seconds)
        try:
            services.forgot_password(username)
        except exc.CognitoError as error:
            logger.info("page forgot password refused: %s", error.code)
            add_error(form, error)
            return _page(request, self.template_name, form, status=status_of(error))
        messages.info(request, FORGOT_SENT)
        return HttpResponseRedirect(f"{reverse('accounts-pages:password-reset')}?{urlencode({'username': username})}")


@method_decorator(sensitive_post_parameters("new_password", "code"), name="dispatch")
class ResetPasswordPage(View):
    template_name = "accounts/password_reset.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return _page(request, self.template_name, ResetForm(initial={"username": request.GET.get("username", "")}))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ResetForm(request.POST)
        if not form.is_valid():
            return _page(request, self.template_name, form, status=400)
        data = form.cleaned_data
        seconds = throttled(request, "confirm", data["username"], form)
        if seconds is not None:
            return render_throttled(request, self.template_name, {"form": form}, seconds)
        try:
            services.confirm_forgot_password(data["username"], data["code"], data["new_password"])
        except exc.CognitoError as error:
            logger.info("page password reset refused: %s", error.code)
            add_error(form, error)
            return _page(request, self.template_name, form, status=status_of(error))
        messages.success(request, "Password changed; sign in with the new one. Other sessions were signed out.")
        return HttpResponseRedirect(reverse("accounts-pages:sign-in"))


@method_decorator(sensitive_post_parameters("old_password", "new_password"), name="dispatch")
class ChangePasswordPage(SignedInPage):
    template_name = "accounts/password_change.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return _page(request, self.template_name, ChangeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ChangeForm(request.POST)
        if not form.is_valid():
            return _page(request, self.template_name, form, status=400)
        data: dict[str, Any] = form.cleaned_data
        seconds = throttled(request, "sign_in", self.pool_username, form)  # the current password is checked
        if seconds is not None:
            return render_throttled(request, self.template_name, {"form": form}, seconds)
        try:
            services.change_password(self.access_token, data["old_password"], data["new_password"], self.claims)
        except exc.CognitoError as error:
            logger.info("page password change refused: %s", error.code)
            add_error(form, error)
            return _page(request, self.template_name, form, status=status_of(error))
        logout(request)  # every session of the user was signed out, this one included
        messages.success(request, "Password changed; every session was signed out. Sign in with the new password.")
        return HttpResponseRedirect(reverse("accounts-pages:sign-in"))
