"""Small pieces the session pages share: errors onto forms, rate limits, the pool's password policy in words."""

from __future__ import annotations

import logging
import math
from typing import Any

from cryptography.fernet import InvalidToken
from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views import View
from django.views.decorators.debug import sensitive_variables

from cognito_backend import exceptions as exc
from cognito_backend.tokens import verify_token

from . import services, token_store
from .throttles import throttle_wait

logger = logging.getLogger(__name__)


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


# --- signed-in pages -------------------------------------------------------------------------------------------


class SignedInPage(View):
    """A page for a user signed in with Cognito: ``self.access_token`` and ``self.claims`` (its verified claims)
    come from the server-side token store (refreshed when due). Anonymous visitors, sessions without Cognito
    tokens (a password login to the admin) and sessions whose tokens ended go to the sign-in page, then back."""

    access_token: str
    claims: dict[str, Any]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        stored = token_store.tokens_for(request)  # ends the session when its tokens cannot be used
        if stored is None:
            if request.user.is_authenticated:
                messages.info(request, "This page needs a sign-in with your Cognito account; sign in below.")
            return redirect_to_login(request.get_full_path())
        try:
            verified = verify_token(stored.access_token, token_use=["access"], groups=(), scopes=())
        except exc.TokenError as error:
            logger.info("signed-in page: the stored access token was refused: %s", error.code)
            token_store.end_session(request)
            return redirect_to_login(request.get_full_path())
        self.access_token = stored.access_token
        self.claims = dict(verified.claims)
        return super().dispatch(request, *args, **kwargs)

    @property
    def pool_username(self) -> str:
        return str(self.claims.get("username") or self.claims.get("cognito:username") or "")

    def reauthenticate(self, request: HttpRequest, form: forms.Form, current_password: str) -> int | None:
        """The API's reauthentication (the current password, on the sign-in's rate limits, or a recent sign-in).
        Raises ``ReauthenticationRequired``; over the rate limit, the seconds to wait (on the form)."""
        if current_password:
            seconds = throttled(request, "sign_in", self.pool_username, form)
            if seconds is not None:
                return seconds
        services.reauthenticate(self.claims, current_password or None)
        return None


@sensitive_variables()
def session_access_token(request: HttpRequest) -> str | None:
    """The session's stored access token, refreshed when due, for the session middleware's online check
    (``cognito_backend.sessions.set_access_token_source``, set in ``AccountsConfig.ready``). None for a session
    without stored tokens; ``TokenRevoked`` when its tokens can no longer be used (the middleware ends it)."""
    if not request.session.get(token_store.SESSION_KEY):
        return None
    token_set = token_store.token_set_for(request)
    try:
        if token_set is None:
            raise token_store.TokenSetEnded()
        return token_store.refresh_if_needed(token_set).access_token
    except (token_store.TokenSetUnreadable, token_store.TokenSetEnded) as error:
        raise exc.TokenRevoked() from error


# --- secrets kept in the session ------------------------------------------------------------------------------


def seal(text: str) -> str:
    """``text`` encrypted with the token store's key (a new authenticator's secret, kept in the session briefly)."""
    return token_store.fernet().encrypt(text.encode()).decode()


def unseal(sealed: object) -> str | None:
    """The text ``seal`` encrypted; None when no configured key opens it."""
    if not isinstance(sealed, str):
        return None
    try:
        return token_store.fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None
