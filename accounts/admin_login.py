"""Signing in to the admin with Cognito, and what every admin request must pass (``admin_site`` calls these).

- ``/admin/login/`` takes no local password: it sends the browser to the site's sign-in page (every challenge,
  MFA included) or offers the hosted UI, with ``next`` (this site only) leading back to the admin. A user who
  signs in but is not staff is refused on that page, with a 403 that says so.
- Every admin request of a session opened with Cognito is confirmed with the pool: the session's access token
  with GetUser (refused once the token is revoked or the user disabled; AdminGetUser when the token lacks the
  ``aws.cognito.signin.user.admin`` scope, as hosted-UI tokens may), and the user's groups with
  AdminListGroupsForUser, from which ``is_staff``/``is_superuser`` are set again (``UserMapper.map_flags``): an
  admin taken out of the group is out of the admin at the next click, not at the next sign-in. A refused session
  is ended and the browser sent to sign in; when Cognito cannot answer, the admin answers 503 and the session stays.
- ``ADMIN_SIGN_IN["REQUIRE_MFA"]``: an admin without MFA is sent to add an authenticator before any admin page.
- ``ADMIN_SIGN_IN["BREAK_GLASS"]`` (off by default): ``/admin/login/`` also takes a local superuser's password,
  for when Cognito cannot be used; each use, and each refused try, is logged as a warning (never the password).
  Such a session counts only while the setting is on.
- Logging out of the admin revokes the session's refresh token, as the site's sign-out does.

Sessions opened from code with another backend (``Client.force_login``, a shell) are left as Django has them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import BACKEND_SESSION_KEY, logout
from django.contrib.auth import login as django_login
from django.contrib.auth.backends import ModelBackend
from django.core.checks import Warning
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme

from cognito_backend import exceptions as exc
from cognito_backend import idp, services
from cognito_backend.conf import AppSettings
from cognito_backend.mapping import UserMapper
from cognito_backend.tokens import verify_token

from . import hosted, token_store
from .throttles import IPThrottle, client_ip

logger = logging.getLogger(__name__)

COGNITO_BACKEND = "cognito_backend.backends.CognitoBackend"
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"  # noqa: S105 - a class path
BREAK_GLASS_KEY = "accounts.admin_break_glass"
TEMPLATE = "admin/login.html"
SELF_SERVICE_SCOPE = "aws.cognito.signin.user.admin"
MFA_MESSAGE = "The admin needs MFA on your account: add an authenticator app here, then go back to the admin."


class AdminSignInSettings(AppSettings):
    """``settings.ADMIN_SIGN_IN``. ``REQUIRE_MFA`` None means: required when ``DEBUG`` is off."""

    setting_name = "ADMIN_SIGN_IN"
    defaults = {"REQUIRE_MFA": None, "BREAK_GLASS": False, "PASSWORD_SESSIONS": False}


admin_sign_in_settings = AdminSignInSettings()


def mfa_required() -> bool:
    value = admin_sign_in_settings.REQUIRE_MFA
    return not settings.DEBUG if value is None else bool(value)


def break_glass_on() -> bool:
    return admin_sign_in_settings.BREAK_GLASS is True


def check_admin_sign_in(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """``check --deploy``: the two admin settings that weaken its door."""
    warnings = []
    if break_glass_on():
        warnings.append(
            Warning(
                "Break-glass admin sign-in is on: /admin/login/ takes local superuser passwords.",
                hint="Turn it off (COGNITO_ADMIN_BREAK_GLASS=false) once Cognito can be used again.",
                id="accounts.W101",
            )
        )
    if not mfa_required():
        warnings.append(
            Warning(
                "Admins may sign in without MFA.",
                hint="Require it (COGNITO_ADMIN_REQUIRE_MFA=true).",
                id="accounts.W102",
            )
        )
    return warnings


# --- the login page ---------------------------------------------------------------------------------------------


class BreakGlassForm(forms.Form):
    username = forms.CharField(label="Local username", max_length=150)
    password = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        max_length=256,
        strip=False,
    )


def admin_next(request: HttpRequest, site: admin.AdminSite) -> str:
    """Where to go after signing in: ``next`` when it is on this site (and not this page), else the index."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    login_path = reverse("admin:login", current_app=site.name)
    if (
        target
        and not target.startswith(login_path)
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return reverse("admin:index", current_app=site.name)


def _back_here(site: admin.AdminSite, next_url: str) -> str:
    return reverse("admin:login", current_app=site.name) + "?" + urlencode({"next": next_url})


def sign_in_url(site: admin.AdminSite, next_url: str) -> str:
    """The site's sign-in page, coming back to the admin's login (which checks the staff flag) and then ``next``."""
    return reverse("accounts-pages:sign-in") + "?" + urlencode({"next": _back_here(site, next_url)})


def login(site: admin.AdminSite, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """``/admin/login/``: to Cognito's sign-in; back here signed in, on to ``next`` or refused (not staff)."""
    request.sensitive_post_parameters = ["password"]  # type: ignore[attr-defined] # kept out of error reports
    next_url = admin_next(request, site)
    user = request.user
    if request.method == "POST" and (request.POST.get("action") == "break-glass" or not user.is_authenticated):
        response = break_glass(site, request, next_url)  # a local password: refused unless break-glass is on
    elif user.is_authenticated and not session_allowed(request):
        logout(request)
        messages.warning(request, "Break-glass sign-in is off; sign in with your Cognito account.")
        response = HttpResponseRedirect(sign_in_url(site, next_url))
    elif user.is_authenticated and site.has_permission(request):
        response = HttpResponseRedirect(next_url)
    elif user.is_authenticated:
        logger.info("admin refused a signed-in user who is not staff: user=%s", user.pk)
        response = _render(site, request, next_url, extra_context, refused=True, status=403)
    elif not break_glass_on():
        response = HttpResponseRedirect(sign_in_url(site, next_url))
    else:
        response = _render(site, request, next_url, extra_context)
    add_never_cache_headers(response)
    return response


def _render(
    site: admin.AdminSite,
    request: HttpRequest,
    next_url: str,
    extra_context: dict[str, Any] | None,
    *,
    form: BreakGlassForm | None = None,
    status: int = 200,
    **flags: Any,
) -> HttpResponse:
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": "Sign in to the admin",
        "next": next_url,
        "sign_in_url": sign_in_url(site, next_url),
        "hosted_url": (
            reverse("accounts-pages:hosted") + "?" + urlencode({"next": _back_here(site, next_url)})
            if hosted.enabled()
            else ""
        ),
        "break_glass_form": (form or BreakGlassForm()) if break_glass_on() else None,
        "username": request.user.get_username() if request.user.is_authenticated else "",
        **flags,
        **(extra_context or {}),
    }
    return render(request, TEMPLATE, context, status=status)


class _SignInScope:
    throttle_scope = "sign_in"


def break_glass(site: admin.AdminSite, request: HttpRequest, next_url: str) -> HttpResponse:
    """A local superuser's password, when ``BREAK_GLASS`` is on; every use and refusal is a logged warning."""
    if not break_glass_on():
        logger.info("admin login: a local password was posted while break-glass sign-in is off")
        return _render(site, request, next_url, None, status=403, password_refused=True)
    form = BreakGlassForm(request.POST)
    if not form.is_valid():
        return _render(site, request, next_url, None, form=form, status=400)
    username = form.cleaned_data["username"]
    throttle = IPThrottle()  # the sign-in's budget per client address; no Cognito lookup, which may be down
    if not throttle.allow_request(request, _SignInScope()):
        seconds = max(1, math.ceil(throttle.wait() or 1))
        form.add_error(None, f"Too many sign-in attempts; try again in {seconds} seconds.")
        response = _render(site, request, next_url, None, form=form, status=429)
        response["Retry-After"] = str(seconds)
        return response
    user = ModelBackend().authenticate(request, username=username, password=form.cleaned_data["password"])
    if user is None or not getattr(user, "is_superuser", False):
        logger.warning("break-glass admin sign-in refused: username=%s client=%s", username, client_ip(request))
        form.add_error(None, "Wrong username or password, or not a local superuser.")
        return _render(site, request, next_url, None, form=form, status=403)
    django_login(request, user, backend=PASSWORD_BACKEND)
    request.session[BREAK_GLASS_KEY] = True
    logger.warning("break-glass admin sign-in: username=%s client=%s", user.get_username(), client_ip(request))
    return HttpResponseRedirect(next_url)


def before_logout(request: HttpRequest) -> None:
    """The admin's logout (a POST) of a Cognito session revokes its refresh token first, as the site's sign-out
    does (``hosted.sign_out``: RevokeToken, and the token family refused here at once)."""
    if request.method == "POST" and request.session.get(BACKEND_SESSION_KEY) == COGNITO_BACKEND:
        hosted.sign_out(request)


# --- every admin request ------------------------------------------------------------------------------------------


def session_allowed(request: HttpRequest) -> bool:
    """False for a session opened with a local password: a break-glass one once break-glass sign-in is turned
    off, any other (a session of the site's password login from before Cognito) unless ``PASSWORD_SESSIONS``."""
    session = getattr(request, "session", None)
    if session is None or session.get(BACKEND_SESSION_KEY) != PASSWORD_BACKEND:
        return True
    if session.get(BREAK_GLASS_KEY):
        return break_glass_on()
    return admin_sign_in_settings.PASSWORD_SESSIONS is True


@dataclass(frozen=True)
class PoolView:
    """What the pool says of the session's user now."""

    mfa: tuple[str, ...]
    groups: frozenset[str]


def read_pool(access_token: str) -> PoolView:
    """The user of ``access_token`` as the pool sees it now; raises ``TokenError`` / ``CognitoError``."""
    token = verify_token(access_token, token_use=["access"], groups=(), scopes=())
    if SELF_SERVICE_SCOPE in token.scopes:
        user = idp.get_user(access_token)  # refused for a revoked token or a disabled user
    else:
        user = idp.call("admin_get_user", UserPoolId=token.pool.pool_id, Username=token.username)
    if user.get("Enabled") is False:
        raise exc.UserDisabled()
    groups: set[str] = set()
    params: dict[str, Any] = {"UserPoolId": token.pool.pool_id, "Username": token.username, "Limit": 60}
    while True:
        page = idp.call("admin_list_groups_for_user", **params)
        groups.update(str(g["GroupName"]) for g in page.get("Groups") or [] if g.get("GroupName"))
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    return PoolView(mfa=tuple(str(m) for m in user.get("UserMFASettingList") or []), groups=frozenset(groups))


def _map_flags(user: Any, groups: frozenset[str]) -> list[str]:
    """The configured mapper's ``map_flags`` (``UserMapper``'s when a site's mapper has none)."""
    map_flags = getattr(services.authenticator().mapper, "map_flags", None) or UserMapper().map_flags
    return list(map_flags(user, groups))


# What ends the session; anything else (Cognito or its keys unreachable, throttled) is a 503 that keeps it.
REFUSALS = (exc.TokenError, exc.NotAuthorized, exc.UserDisabled, exc.UserNotFound)


def _to_login(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(_back_here(site, request.get_full_path()))


def gate(site: admin.AdminSite, request: HttpRequest) -> HttpResponse | None:
    """None when the request may go on to the admin view; else the answer (sign in again, add MFA, 503)."""
    user = request.user
    if not (user.is_active and getattr(user, "is_staff", False)):
        return None  # Django's own answer: to the login page
    if request.session.get(BACKEND_SESSION_KEY) != COGNITO_BACKEND:
        return None
    if request.path == reverse("admin:logout", current_app=site.name):
        return None
    stored = token_store.tokens_for(request)  # refreshed when due; the session ended when they cannot be used
    if stored is None:
        if request.user.is_authenticated:  # a Cognito session without stored tokens cannot be confirmed
            token_store.end_session(request)
        return _to_login(site, request)
    try:
        pool = read_pool(stored.access_token)
    except exc.CognitoError as error:
        if isinstance(error, REFUSALS) and not isinstance(error, exc.ServiceUnavailable):
            logger.info("admin session ended: the pool refused it (%s): user=%s", error.code, user.pk)
            token_store.end_session(request)
            return _to_login(site, request)
        logger.warning("admin session not confirmed, Cognito answered %s: user=%s", error.code, user.pk)
        response = render(
            request,
            "admin/cognito_unavailable.html",
            {**site.each_context(request), "title": "Cognito cannot be reached"},
            status=503,
        )
        response["Retry-After"] = "30"
        return response
    changed = _map_flags(user, pool.groups)
    if changed:
        logger.info("admin flags changed from the pool's groups: user=%s flags=%s", user.pk, ",".join(changed))
    if not user.is_staff:
        return None  # no longer staff: Django sends the request to the login page, which refuses it
    if mfa_required() and not pool.mfa:
        messages.warning(request, MFA_MESSAGE)
        return HttpResponseRedirect(reverse("accounts-pages:mfa-totp"))
    return None
