"""Session pages: sign in with Cognito (username or email and password) and sign out.

Thin views over ``accounts.services``: the same sign-in as the REST API (lazy migration included); the id token
is verified by ``CognitoBackend`` and the local user logged into a Django session. The tokens are kept
server-side, encrypted (``token_store``); the session holds only their row's id, and sign-out deletes them.
Accounts that need another step (a challenge) answer it on the same page, step by step
(``pages_challenge``). The page
spends the same rate-limit budgets as ``POST /api/auth/sign-in/`` (per client address and per pool user): a
wrong password here counts there too; over the limit the page answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from cognito_backend import exceptions as exc

from . import pages_challenge, services, token_store
from .throttles import client_ip, throttle_wait

logger = logging.getLogger(__name__)


class SignInForm(forms.Form):
    username = forms.CharField(
        label="Username or email",
        max_length=128,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        max_length=256,
        strip=False,
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/dashboard/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/dashboard/"


@method_decorator(sensitive_post_parameters("password", "new_password", "code"), name="dispatch")
class SignInPage(View):
    template_name = "accounts/sign_in.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        pages_challenge.clear(request)
        return self.render(request, SignInForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("step"):
            return pages_challenge.answer(request)
        pages_challenge.clear(request)
        form = SignInForm(request.POST)
        if not form.is_valid():
            return self.render(request, form, status=400)
        username = form.cleaned_data["username"]
        wait = throttle_wait(request, "sign_in", username)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            form.add_error(None, f"Too many sign-in attempts; try again in {seconds} seconds.")
            logger.info("page sign-in throttled")
            response = self.render(request, form, status=429)
            response["Retry-After"] = str(seconds)
            return response
        try:
            result = services.sign_in(username, form.cleaned_data["password"], client=client_ip(request))
        except exc.CognitoError as error:
            form.add_error(None, error.detail)
            logger.info("page sign-in refused: %s", error.code)
            return self.render(request, form, status=error.status_code if error.status_code < 500 else 503)
        if isinstance(result, services.Challenge):
            return pages_challenge.start(request, result, _next_url(request))
        return finish_sign_in(request, result, _next_url(request))

    def render(self, request: HttpRequest, form: SignInForm, status: int = 200) -> HttpResponse:
        context: dict[str, Any] = {"form": form, "next": _next_url(request)}
        return render(request, self.template_name, context, status=status)


def finish_sign_in(request: HttpRequest, tokens: services.Tokens, next_url: str) -> HttpResponse:
    """Log the user of ``tokens`` into a new session (its key rotates), keep the tokens, go to ``next_url``."""
    user = authenticate(request, cognito_token=tokens.id_token)
    if user is None:
        form = SignInForm(initial={"username": request.POST.get("username", "")})
        form.errors[NON_FIELD_ERRORS] = form.error_class([_refused(request)], error_class="nonfield")
        return SignInPage().render(request, form, status=403)
    login(request, user, backend="cognito_backend.backends.CognitoBackend")
    token_store.store(request, tokens)  # the tokens stay server-side, encrypted; the session holds an id
    messages.success(request, f"Signed in as {user.get_username()}.")
    return HttpResponseRedirect(next_url)


SIGNED_OUT_JUST_NOW = (
    "Your account was signed out everywhere a moment ago (a password change or reset, or a sign-out); "
    "wait a few seconds, then sign in again."
)


def _refused(request: HttpRequest) -> str:
    """Why fresh tokens were refused. Fresh tokens are refused as revoked only when the sign-in began in the same
    second as a sign-out everywhere (times have whole seconds): a moment later the same sign-in succeeds."""
    if isinstance(getattr(request, "cognito_error", None), exc.TokenRevoked):
        return SIGNED_OUT_JUST_NOW
    return "This account cannot sign in here."


class SignOutPage(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        from . import hosted  # hosted imports this module

        hosted_logout = hosted.sign_out(request)  # revokes the refresh token; the hosted UI's /logout if used
        logout(request)
        messages.info(request, "Signed out.")
        return HttpResponseRedirect(hosted_logout or "/")
