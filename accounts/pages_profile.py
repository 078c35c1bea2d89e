"""Profile pages for a user signed in with Cognito (tokens from the server-side store).

- ``/accounts/profile/``: the user's attributes; edit them (only those the app client may write, mutable ones);
  verify email or phone with a code (send one, enter it); delete custom attributes; choose the MFA preference.
  A new email or phone, and the MFA preference, need the current password or a recent sign-in, as in the API.
- ``/accounts/mfa/totp/``: add an authenticator app: a QR code rendered server-side (SVG) and the secret as text,
  then the first code. The reauthentication of the first step holds for the setup it started (10 minutes, this
  session only), so the code step does not ask for the password again.

Every form posts ``action`` to its page; errors keep what was typed (never a password or a code).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from cognito_backend import exceptions as exc

from . import conf, qr, services
from .exceptions import ReauthenticationRequired
from .page_helpers import SignedInPage, add_error, code_field, password_field, render_throttled, seal, status_of, unseal
from .serializers import validate_attributes

logger = logging.getLogger(__name__)

VERIFIABLE = {"email": "Email", "phone_number": "Phone"}
SENSITIVE = frozenset(VERIFIABLE)
NOT_EDITABLE = frozenset({"updated_at"})
TOTP_PENDING = "accounts.totp_setup"
TOTP_SETUP_SECONDS = 600
MFA_CHOICES = [
    ("SOFTWARE_TOKEN_MFA", "Authenticator app"),
    ("SMS_MFA", "Text message (SMS)"),
    ("NONE", "Off: password only"),
]


def _label(name: str) -> str:
    return VERIFIABLE.get(name) or name.removeprefix("custom:").replace("_", " ").capitalize()


def _reauth_help() -> str:
    minutes = max(1, conf.reauth_max_age() // 60)
    return f"Needed unless you signed in within the last {minutes} minutes."


def current_password_field() -> forms.CharField:
    field = password_field("Current password", "current-password", required=False)
    field.help_text = _reauth_help()
    return field


class AttributesForm(forms.Form):
    current_password = current_password_field()

    def __init__(self, *args: Any, names: list[str], values: dict[str, str], **kwargs: Any) -> None:
        kwargs["initial"] = values
        super().__init__(*args, **kwargs)
        self.values = values
        fields: dict[str, forms.Field] = {}
        for name in names:
            attrs: dict[str, str] = {}
            if name == "email":
                attrs = {"autocomplete": "email", "type": "email"}
            elif name == "phone_number":
                attrs = {"autocomplete": "tel", "type": "tel"}
            fields[name] = forms.CharField(
                label=_label(name), max_length=2048, required=False, widget=forms.TextInput(attrs=attrs)
            )
        fields["current_password"] = self.fields.pop("current_password")
        self.fields = fields  # the attributes first, the password last

    def changed_attributes(self) -> dict[str, str]:
        """The attributes whose value changed (a blank field leaves its attribute as it is)."""
        changed = {
            name: str(value).strip()
            for name, value in self.cleaned_data.items()
            if name != "current_password" and str(value or "").strip() and str(value).strip() != self.values.get(name)
        }
        from rest_framework.exceptions import ValidationError

        try:
            return validate_attributes(changed, allow_standard=True)
        except ValidationError as error:
            detail: Any = error.detail
            raise exc.InvalidParameter(str(detail[0] if isinstance(detail, list) else detail)) from error


class SendCodeForm(forms.Form):
    attribute = forms.ChoiceField(choices=list(VERIFIABLE.items()), widget=forms.HiddenInput)


class VerifyForm(forms.Form):
    attribute = forms.ChoiceField(choices=list(VERIFIABLE.items()), widget=forms.HiddenInput)
    code = code_field("Verification code")


class DeleteAttributesForm(forms.Form):
    names = forms.MultipleChoiceField(label="Custom attributes to delete", widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["names"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(name, _label(name)) for name in names]


class MfaForm(forms.Form):
    preferred = forms.ChoiceField(label="Second step at sign-in", choices=MFA_CHOICES, widget=forms.RadioSelect)
    current_password = current_password_field()


def _reauthenticate(page: SignedInPage, request: HttpRequest, form: forms.Form) -> HttpResponse | None:
    """The API's reauthentication. None when it passed; else an empty response carrying the status (and
    ``Retry-After``) to answer with, the form saying how to confirm it is you."""
    try:
        seconds = page.reauthenticate(request, form, form.cleaned_data.get("current_password") or "")
    except ReauthenticationRequired as error:
        if error.field == "current_password":
            form.add_error("current_password", error.detail)
        else:
            form.add_error("current_password", "Enter your current password to confirm it is you.")
        return HttpResponse(status=status_of(error))
    if seconds is not None:
        response = HttpResponse(status=429)
        response["Retry-After"] = str(seconds)
        return response
    return None


def _with_retry_after(response: HttpResponse, refused: HttpResponse) -> HttpResponse:
    if refused.has_header("Retry-After"):
        response["Retry-After"] = refused["Retry-After"]
    return response


@method_decorator(sensitive_post_parameters("current_password", "code"), name="dispatch")
class ProfilePage(SignedInPage):
    template_name = "accounts/profile.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        handler = {
            "update": self.update,
            "send_code": self.send_code,
            "verify": self.verify,
            "delete": self.delete_attributes,
            "mfa": self.mfa,
        }.get(action)
        if handler is None:
            return self.show(request, status=400, problem="Choose what to change.")
        try:
            return handler(request)
        except exc.CognitoError as error:  # reading the profile before a change failed
            logger.info("profile page %s failed: %s", action, error.code)
            return self.show(request, status=status_of(error), problem=f"{error.detail} Nothing was changed.")

    # --- reading and rendering -------------------------------------------------------------------------------

    def editable(self) -> list[str]:
        try:
            on_profile = services.writable_attributes()[1]
        except exc.CognitoError as error:
            logger.info("profile page: writable attributes unknown: %s", error.code)
            return []
        names = sorted(on_profile - NOT_EDITABLE, key=lambda n: (n not in VERIFIABLE, n.startswith("custom:"), n))
        return names

    def show(
        self,
        request: HttpRequest,
        *,
        status: int = 200,
        problem: str = "",
        errors: dict[str, forms.Form] | None = None,
    ) -> HttpResponse:
        forms_in_error = errors or {}
        try:
            profile = services.get_profile(self.access_token)
        except exc.CognitoError as error:
            logger.info("profile page: the profile could not be read: %s", error.code)
            messages.error(request, f"{error.detail} Try again shortly.")
            return render(request, self.template_name, {"profile": None}, status=status_of(error))
        values = profile.attributes
        customs = sorted(name for name in values if name.startswith("custom:"))
        unverified = [
            (name, label)
            for name, label in VERIFIABLE.items()
            if values.get(name) and values.get(f"{name}_verified") != "true"
        ]
        preferred = profile.mfa_preferred or "NONE"
        context: dict[str, Any] = {
            "profile": profile,
            "attributes": sorted(values.items()),
            "unverified": unverified,
            "update_form": forms_in_error.get("update") or AttributesForm(names=self.editable(), values=values),
            "verify_form": forms_in_error.get("verify"),
            "delete_form": forms_in_error.get("delete") or (DeleteAttributesForm(names=customs) if customs else None),
            "mfa_form": forms_in_error.get("mfa") or MfaForm(initial={"preferred": preferred}),
            "mfa_enabled": [dict(MFA_CHOICES).get(m, m) for m in profile.mfa_enabled],
            "problem": problem,
        }
        return render(request, self.template_name, context, status=status)

    def redisplay(self, request: HttpRequest, key: str, form: forms.Form, error: exc.CognitoError) -> HttpResponse:
        logger.info("profile page %s refused: %s", key, error.code)
        add_error(form, error)
        return self.show(request, status=status_of(error), errors={key: form})

    # --- actions ---------------------------------------------------------------------------------------------

    def update(self, request: HttpRequest) -> HttpResponse:
        profile = services.get_profile(self.access_token)
        form = AttributesForm(request.POST, names=self.editable(), values=profile.attributes)
        if not form.is_valid():
            return self.show(request, status=400, errors={"update": form})
        try:
            changed = form.changed_attributes()
        except exc.CognitoError as error:
            return self.redisplay(request, "update", form, error)
        if not changed:
            messages.info(request, "Nothing changed.")
            return HttpResponseRedirect(reverse("accounts-pages:profile"))
        if set(changed) & SENSITIVE:
            refused = _reauthenticate(self, request, form)
            if refused is not None:
                return _with_retry_after(
                    self.show(request, status=refused.status_code, errors={"update": form}), refused
                )
        try:
            deliveries = services.update_profile(self.access_token, changed)
        except exc.CognitoError as error:
            return self.redisplay(request, "update", form, error)
        messages.success(request, f"Saved: {', '.join(_label(n) for n in sorted(changed))}.")
        for delivery in deliveries:
            where = f" to {delivery.destination}" if delivery.destination else ""
            messages.info(
                request,
                f"We sent a code{where} to verify your new {_label(delivery.attribute).lower()}; enter it below.",
            )
        return HttpResponseRedirect(reverse("accounts-pages:profile"))

    def send_code(self, request: HttpRequest) -> HttpResponse:
        form = SendCodeForm(request.POST)
        if not form.is_valid():
            return self.show(request, status=400, problem="Choose email or phone.")
        attribute = form.cleaned_data["attribute"]
        try:
            delivery = services.send_attribute_code(self.access_token, attribute)
        except exc.CognitoError as error:
            logger.info("profile page send_code refused: %s", error.code)
            return self.show(request, status=status_of(error), problem=error.detail)
        where = f" to {delivery.destination}" if delivery and delivery.destination else ""
        messages.info(request, f"We sent a code{where}; enter it below to verify your {_label(attribute).lower()}.")
        return HttpResponseRedirect(reverse("accounts-pages:profile"))

    def verify(self, request: HttpRequest) -> HttpResponse:
        form = VerifyForm(request.POST)
        if not form.is_valid():
            return self.show(request, status=400, errors={"verify": form})
        attribute = form.cleaned_data["attribute"]
        try:
            services.verify_attribute(self.access_token, attribute, form.cleaned_data["code"])
        except exc.CognitoError as error:
            return self.redisplay(request, "verify", form, error)
        messages.success(request, f"Your {_label(attribute).lower()} is verified.")
        return HttpResponseRedirect(reverse("accounts-pages:profile"))

    def delete_attributes(self, request: HttpRequest) -> HttpResponse:
        profile = services.get_profile(self.access_token)
        customs = sorted(name for name in profile.attributes if name.startswith("custom:"))
        form = DeleteAttributesForm(request.POST, names=customs)
        if not form.is_valid():
            return self.show(request, status=400, errors={"delete": form})
        names = list(form.cleaned_data["names"])
        try:
            services.delete_attributes(self.access_token, names)
        except exc.CognitoError as error:
            return self.redisplay(request, "delete", form, error)
        messages.success(request, f"Deleted: {', '.join(_label(n) for n in names)}.")
        return HttpResponseRedirect(reverse("accounts-pages:profile"))

    def mfa(self, request: HttpRequest) -> HttpResponse:
        form = MfaForm(request.POST)
        if not form.is_valid():
            return self.show(request, status=400, errors={"mfa": form})
        profile = services.get_profile(self.access_token)
        choice = form.cleaned_data["preferred"]
        enabled = set(profile.mfa_enabled)
        if choice == "SOFTWARE_TOKEN_MFA" and choice not in enabled:
            form.add_error("preferred", "Add an authenticator app first (below), then choose it.")
            return self.show(request, status=400, errors={"mfa": form})
        if choice == "SMS_MFA" and profile.attributes.get("phone_number_verified") != "true":
            form.add_error("preferred", "Verify a phone number first, then choose text messages.")
            return self.show(request, status=400, errors={"mfa": form})
        refused = _reauthenticate(self, request, form)
        if refused is not None:
            return _with_retry_after(self.show(request, status=refused.status_code, errors={"mfa": form}), refused)
        totp = sms = None
        if choice == "SOFTWARE_TOKEN_MFA":
            totp = {"Enabled": True, "PreferredMfa": True}
            sms = {"Enabled": True, "PreferredMfa": False} if "SMS_MFA" in enabled else None
        elif choice == "SMS_MFA":
            sms = {"Enabled": True, "PreferredMfa": True}
            totp = {"Enabled": True, "PreferredMfa": False} if "SOFTWARE_TOKEN_MFA" in enabled else None
        else:
            totp = {"Enabled": False, "PreferredMfa": False} if "SOFTWARE_TOKEN_MFA" in enabled else None
            sms = {"Enabled": False, "PreferredMfa": False} if "SMS_MFA" in enabled else None
        try:
            if totp is not None or sms is not None:
                services.set_mfa_preference(self.access_token, totp=totp, sms=sms)
        except exc.CognitoError as error:
            return self.redisplay(request, "mfa", form, error)
        messages.success(request, f"Second step at sign-in: {dict(MFA_CHOICES)[choice].lower()}.")
        return HttpResponseRedirect(reverse("accounts-pages:profile"))


# --- TOTP -------------------------------------------------------------------------------------------------------


class TotpStartForm(forms.Form):
    current_password = current_password_field()


class TotpVerifyForm(forms.Form):
    code = code_field("Code from the app")
    device_name = forms.CharField(label="Name of this authenticator (optional)", max_length=64, required=False)


@method_decorator(sensitive_post_parameters("current_password", "code"), name="dispatch")
class TotpPage(SignedInPage):
    template_name = "accounts/mfa_totp.html"

    def pending(self, request: HttpRequest) -> dict[str, Any] | None:
        pending = request.session.get(TOTP_PENDING)
        if not isinstance(pending, dict) or pending.get("sub") != self.claims.get("sub"):
            return None
        if float(pending.get("until") or 0) < time.time():
            request.session.pop(TOTP_PENDING, None)
            return None
        return pending

    def get(self, request: HttpRequest) -> HttpResponse:
        pending = self.pending(request)
        if pending is not None:
            return self.render_verify(request, pending, TotpVerifyForm())
        return render(request, self.template_name, {"start_form": TotpStartForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") == "verify":
            return self.verify(request)
        request.session.pop(TOTP_PENDING, None)
        if request.POST.get("action") == "cancel":
            return HttpResponseRedirect(reverse("accounts-pages:mfa-totp"))
        form = TotpStartForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"start_form": form}, status=400)
        refused = _reauthenticate(self, request, form)
        if refused is not None:
            if refused.status_code == 429:
                return render_throttled(request, self.template_name, {"start_form": form}, int(refused["Retry-After"]))
            return render(request, self.template_name, {"start_form": form}, status=refused.status_code)
        account = self.pool_username or str(self.claims.get("sub") or "user")
        try:
            setup = services.associate_totp(self.access_token, account)
        except exc.CognitoError as error:
            logger.info("totp page: associate refused: %s", error.code)
            add_error(form, error)
            return render(request, self.template_name, {"start_form": form}, status=status_of(error))
        pending = {
            "sub": self.claims.get("sub"),
            "secret": seal(setup.secret),
            "uri": seal(setup.uri),
            "until": time.time() + TOTP_SETUP_SECONDS,
        }
        request.session[TOTP_PENDING] = pending
        return self.render_verify(request, pending, TotpVerifyForm())

    def verify(self, request: HttpRequest) -> HttpResponse:
        pending = self.pending(request)
        if pending is None:
            messages.warning(request, "That setup is no longer open; start again.")
            return HttpResponseRedirect(reverse("accounts-pages:mfa-totp"))
        form = TotpVerifyForm(request.POST)
        if not form.is_valid():
            return self.render_verify(request, pending, form, status=400)
        try:
            services.verify_totp(self.access_token, form.cleaned_data["code"], form.cleaned_data["device_name"])
        except exc.CognitoError as error:
            logger.info("totp page: verify refused: %s", error.code)
            add_error(form, error)
            return self.render_verify(request, pending, form, status=status_of(error))
        request.session.pop(TOTP_PENDING, None)
        messages.success(request, "Authenticator added; it is now asked for at sign-in.")
        return HttpResponseRedirect(reverse("accounts-pages:profile"))

    def render_verify(
        self, request: HttpRequest, pending: dict[str, Any], form: TotpVerifyForm, status: int = 200
    ) -> HttpResponse:
        secret, uri = unseal(pending.get("secret")), unseal(pending.get("uri"))
        if secret is None or uri is None:
            request.session.pop(TOTP_PENDING, None)
            messages.warning(request, "That setup can no longer be shown; start again.")
            return HttpResponseRedirect(reverse("accounts-pages:mfa-totp"))
        context = {"verify_form": form, "qr_svg": qr.svg(uri), "secret": secret}
        return render(request, self.template_name, context, status=status)
