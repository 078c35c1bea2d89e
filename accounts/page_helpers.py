"""Small pieces the session pages share: errors onto forms, rate limits, the pool's password policy in words."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cognito_backend import exceptions as exc

from . import services
from .throttles import throttle_wait


def add_error(form: forms.Form, error: exc.CognitoError) -> None:
    """Put a service error on the field it names (when the form has it), else on the form."""
    name = getattr(error, "field", None)
    form.add_error(name if name in form.fields else None, error.detail)


def status_of(error: exc.CognitoError) -> int:
    """A page's answer to an error: its own status, a 5xx as 503 (the page itself works)."""
    return error.status_code if error.status_code < 500 else 503


def throttled(request: HttpRequest, scope: str, username: str, form: forms.Form) -> int | None:
    """Spend one request of the REST endpoint's budgets (``scope``); over them, the seconds to wait (on the form)."""
    wait = throttle_wait(request, scope, username)
    if wait is None:
        return None
    seconds = max(1, math.ceil(wait))
    form.add_error(None, f"Too many attempts; try again in {seconds} seconds.")
    return seconds


def render_throttled(request: HttpRequest, template: str, context: dict[str, Any], seconds: int) -> HttpResponse:
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def password_rules() -> list[str]:
    """The pool's password policy as a list a user can read (empty when it cannot be read)."""
    policy = services.password_policy()
    if not policy:
        return []
    rules = [f"at least {int(policy.get('MinimumLength') or 8)} characters"]
    for key, words in (
        ("RequireUppercase", "an uppercase letter"),
        ("RequireLowercase", "a lowercase letter"),
        ("RequireNumbers", "a number"),
        ("RequireSymbols", "a symbol"),
    ):
        if policy.get(key):
            rules.append(words)
    return rules


class PasswordInput(forms.PasswordInput):
    """Never re-renders the value (the default already does not); ``autocomplete`` set per field."""

    def __init__(self, autocomplete: str) -> None:
        super().__init__(attrs={"autocomplete": autocomplete})


def password_field(label: str, autocomplete: str = "new-password", *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label, widget=PasswordInput(autocomplete), max_length=256, strip=False, required=required
    )


def code_field(label: str = "Code", *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=2048,
        required=required,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
