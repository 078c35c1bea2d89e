"""The sign-in page's extra steps: every challenge the REST API carries, as a form on ``/accounts/sign-in/``.

A challenge (``NEW_PASSWORD_REQUIRED``, ``SOFTWARE_TOKEN_MFA``, ``SMS_MFA``, ``SELECT_MFA_TYPE``, ``MFA_SETUP``)
is kept in the Django session (server-side: the signed challenge envelope of ``services``, its name, the page to
go to next and, for ``MFA_SETUP``, the new authenticator's secret); the form posts ``step`` (the challenge name)
with its answer, and the next challenge or the sign-in follows. Answers spend the sign-in's rate-limit budgets
of the user sealed in the envelope, like ``POST /api/auth/sign-in/challenge/``.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from cognito_backend import exceptions as exc

from . import qr, services
from .page_helpers import add_error, code_field, password_field, password_rules, seal, status_of, throttled, unseal

logger = logging.getLogger(__name__)

PENDING = "accounts.sign_in_challenge"
TEMPLATE = "accounts/sign_in_step.html"
MFA_NAMES = {"SOFTWARE_TOKEN_MFA": "Authenticator app", "SMS_MFA": "Text message (SMS)"}


class NewPasswordForm(forms.Form):
    new_password = password_field("New password")


class CodeForm(forms.Form):
    code = code_field()


class SelectMfaForm(forms.Form):
    mfa_type = forms.ChoiceField(label="How do you want to confirm it is you?", widget=forms.RadioSelect)

    def __init__(self, *args: Any, choices: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["mfa_type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, MFA_NAMES.get(name, name)) for name in choices if name in services.MFA_TYPES]


class MfaSetupForm(forms.Form):
    code = code_field("Code from the app")
    device_name = forms.CharField(
        label="Name of this authenticator (optional)", max_length=64, required=False, initial="Authenticator"
    )


def _form(pending: dict[str, Any], data: Any = None) -> forms.Form:
    name = pending["name"]
    if name == "NEW_PASSWORD_REQUIRED":
        return NewPasswordForm(data)
    if name == "SELECT_MFA_TYPE":
        choices = pending["parameters"].get("mfas_can_choose") or list(services.MFA_TYPES)
        return SelectMfaForm(data, choices=choices)
    if name == "MFA_SETUP":
        return MfaSetupForm(data)
    return CodeForm(data)


def _render(request: HttpRequest, pending: dict[str, Any], form: forms.Form, status: int = 200) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "step": pending["name"],
        "parameters": pending["parameters"],
        "password_rules": password_rules() if pending["name"] == "NEW_PASSWORD_REQUIRED" else [],
    }
    if pending["name"] == "MFA_SETUP":
        secret, uri = unseal(pending.get("secret")), unseal(pending.get("uri"))
        if secret is None or uri is None:
            return _restart(request, "The authenticator setup could not be shown again; please sign in again.")
        context["qr_svg"] = qr.svg(uri)
        context["secret"] = secret
    return render(request, TEMPLATE, context, status=status)


def _restart(request: HttpRequest, text: str) -> HttpResponse:
    request.session.pop(PENDING, None)
    messages.warning(request, text)
    return HttpResponseRedirect(reverse("accounts-pages:sign-in"))


def clear(request: HttpRequest) -> None:
    """Forget an unfinished challenge (a fresh sign-in form, or a new password sign-in)."""
    request.session.pop(PENDING, None)


def start(request: HttpRequest, challenge: services.Challenge, next_url: str, status: int = 200) -> HttpResponse:
    """Show the form of ``challenge``'s step (an authenticator's secret first for ``MFA_SETUP``)."""
    pending: dict[str, Any] = {
        "name": challenge.name,
        "session": challenge.session,
        "parameters": challenge.parameters,
        "next": next_url,
    }
    if challenge.name == "MFA_SETUP":
        if "SOFTWARE_TOKEN_MFA" not in (challenge.parameters.get("mfas_can_setup") or ["SOFTWARE_TOKEN_MFA"]):
            return _restart(request, "This account must set up a kind of MFA this site does not offer; ask support.")
        try:
            setup = services.begin_mfa_setup(challenge.session)
        except exc.SessionExpired:
            return _restart(request, "The sign-in took too long; please sign in again.")
        except exc.CognitoError as error:
            logger.info("page MFA setup could not start: %s", error.code)
            return _restart(request, f"{error.detail} Please sign in again.")
        pending.update(session=setup.session or challenge.session, secret=seal(setup.secret), uri=seal(setup.uri))
    request.session[PENDING] = pending
    logger.info("page sign-in step %s", challenge.name)
    return _render(request, pending, _form(pending), status=status)


def answer(request: HttpRequest) -> HttpResponse:
    """The answer to the pending step: the next step, the sign-in, or the same form with what went wrong."""
    from .pages import finish_sign_in  # pages imports this module

    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or request.POST.get("step") != pending.get("name"):
        return _restart(request, "That sign-in step is no longer open; please sign in again.")
    form = _form(pending, request.POST)
    if not form.is_valid():
        return _render(request, pending, form, status=400)
    try:
        username = services.open_session(pending["session"])[2]
    except exc.SessionExpired:
        return _restart(request, "The sign-in took too long; please sign in again.")
    seconds = throttled(request, "sign_in", username, form)
    if seconds is not None:
        response = _render(request, pending, form, status=429)
        response["Retry-After"] = str(seconds)
        return response
    data = form.cleaned_data
    try:
        if pending["name"] == "MFA_SETUP":
            result = services.complete_mfa_setup(pending["session"], data["code"], data.get("device_name") or "")
        else:
            result = services.respond_to_challenge(
                pending["session"],
                code=data.get("code"),
                new_password=data.get("new_password"),
                mfa_type=data.get("mfa_type"),
            )
    except exc.SessionExpired:
        return _restart(request, "The sign-in took too long or was already used; please sign in again.")
    except exc.CognitoError as error:
        logger.info("page sign-in step %s refused: %s", pending["name"], error.code)
        add_error(form, error)
        return _render(request, pending, form, status=status_of(error))
    if isinstance(result, services.Challenge):
        return start(request, result, pending["next"])
    request.session.pop(PENDING, None)
    return finish_sign_in(request, result, pending["next"])
