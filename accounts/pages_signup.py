"""Sign-up pages: ``/accounts/sign-up/`` (with the pool's custom attributes) and ``/accounts/sign-up/confirm/``
(the emailed code; a "send a new code" button on the same page).

The same services and rate-limit budgets as ``POST /api/auth/sign-up/`` (per address and per email),
``sign-up/confirm/`` and ``sign-up/resend/`` (per address and per username). A refused code reads the same
whatever the account's state, and a resend says the same whether or not the account exists.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.core.validators import RegexValidator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from cognito_backend import exceptions as exc

from . import services
from .page_helpers import add_error, code_field, password_field, password_rules, render_throttled, status_of, throttled
from .serializers import USERNAME_RE, normalize_phone

logger = logging.getLogger(__name__)

RESENT = "If the account exists and is not confirmed yet, a new code was sent. Enter it below."


def username_field(label: str = "Username") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=128,
        validators=[RegexValidator(USERNAME_RE, "A username cannot contain spaces.")],
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )


def custom_attributes() -> list[str]:
    """The pool's custom attributes this app client may write at sign-up (none when the pool cannot be read)."""
    try:
        at_sign_up = services.writable_attributes()[0]
    except exc.CognitoError as error:
        logger.info("sign-up page: custom attributes unknown: %s", error.code)
        return []
    return sorted(name for name in at_sign_up if name.startswith("custom:"))


class SignUpForm(forms.Form):
    username = username_field()
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone_number = forms.CharField(
        label="Phone (optional)",
        max_length=32,
        required=False,
        help_text="International form, e.g. +15555550100.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    password = password_field("Password")

    def __init__(self, *args: Any, attributes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in attributes:
            self.fields[name] = forms.CharField(
                label=f"{name.removeprefix('custom:').replace('_', ' ').capitalize()} (optional)",
                max_length=2048,
                required=False,
            )

    def clean_phone_number(self) -> str:
        value = str(self.cleaned_data.get("phone_number") or "").strip()
        if not value:
            return ""
        from rest_framework.exceptions import ValidationError

        try:
            return normalize_phone(value)
        except ValidationError as error:
            detail: Any = error.detail
            raise forms.ValidationError(str(detail[0] if isinstance(detail, list) else detail)) from error

    def custom_values(self) -> dict[str, str]:
        return {
            name: str(value)
            for name, value in self.cleaned_data.items()
            if name.startswith("custom:") and str(value or "").strip()
        }


class ConfirmForm(forms.Form):
    username = username_field()
    code = code_field("Confirmation code", required=False)  # not needed to ask for a new one


def _confirm_url(username: str) -> str:
    return f"{reverse('accounts-pages:sign-up-confirm')}?{urlencode({'username': username})}"


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class SignUpPage(View):
    template_name = "accounts/sign_up.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, SignUpForm(attributes=custom_attributes()))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SignUpForm(request.POST, attributes=custom_attributes())
        if not form.is_valid():
            return self.render(request, form, status=400)
        data = form.cleaned_data
        seconds = throttled(request, "sign_up", data["email"].strip().lower(), form)
        if seconds is not None:
            return render_throttled(request, self.template_name, self.context(form), seconds)
        try:
            result = services.sign_up(
                data["username"],
                data["password"],
                data["email"],
                phone_number=data["phone_number"] or None,
                attributes=form.custom_values() or None,
            )
        except exc.CognitoError as error:
            logger.info("page sign-up refused: %s", error.code)
            add_error(form, error)
            return self.render(request, form, status=status_of(error))
        if result.confirmed:
            messages.success(request, "Your account is ready; sign in.")
            return HttpResponseRedirect(reverse("accounts-pages:sign-in"))
        where = f" to {result.delivery.destination}" if result.delivery and result.delivery.destination else ""
        messages.success(request, f"Account created. We sent a confirmation code{where}; enter it below.")
        return HttpResponseRedirect(_confirm_url(data["username"]))

    def context(self, form: SignUpForm) -> dict[str, Any]:
        return {"form": form, "password_rules": password_rules()}

    def render(self, request: HttpRequest, form: SignUpForm, status: int = 200) -> HttpResponse:
        return render(request, self.template_name, self.context(form), status=status)


class ConfirmSignUpPage(View):
    """Confirm with the code (``action=confirm``, the default) or ask for a new one (``action=resend``)."""

    template_name = "accounts/sign_up_confirm.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        username = request.GET.get("username", "")[:128]
        return self.render(request, ConfirmForm(initial={"username": username}))

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") == "resend":
            return self.resend(request)
        form = ConfirmForm(request.POST)
        if form.is_valid() and not form.cleaned_data["code"]:
            form.add_error("code", "Enter the code we sent, or send a new one.")
        if not form.is_valid():
            return self.render(request, form, status=400)
        username = form.cleaned_data["username"]
        seconds = throttled(request, "confirm", username, form)
        if seconds is not None:
            return render_throttled(request, self.template_name, {"form": form}, seconds)
        try:
            services.confirm_sign_up(username, form.cleaned_data["code"])
        except exc.CognitoError as error:
            logger.info("page confirm refused: %s", error.code)
            add_error(form, error)
            return self.render(request, form, status=status_of(error))
        messages.success(request, "Account confirmed; you can sign in now.")
        return HttpResponseRedirect(reverse("accounts-pages:sign-in"))

    def resend(self, request: HttpRequest) -> HttpResponse:
        form = ConfirmForm(request.POST)  # the code may be empty here
        if not form.is_valid():
            return self.render(request, form, status=400)
        username = form.cleaned_data["username"]
        seconds = throttled(request, "confirm", username, form)
        if seconds is not None:
            return render_throttled(request, self.template_name, {"form": form}, seconds)
        try:
            services.resend_code(username)
        except exc.CognitoError as error:
            logger.info("page resend refused: %s", error.code)
            add_error(form, error)
            return self.render(request, form, status=status_of(error))
        messages.info(request, RESENT)
        return HttpResponseRedirect(_confirm_url(username))

    def render(self, request: HttpRequest, form: ConfirmForm, status: int = 200) -> HttpResponse:
        return render(request, self.template_name, {"form": form}, status=status)
