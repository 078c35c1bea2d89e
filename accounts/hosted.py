"""Sign in through Cognito's hosted UI: OAuth 2.0 authorization code with PKCE (S256), ``state`` and ``nonce``.

authlib's Django client builds the authorize URL (it makes the PKCE verifier, the state and the nonce and keeps
them in the session under the state) and exchanges the code at ``/oauth2/token``. The tokens it brings back are
verified here with ``cognito_backend`` (signature, issuer, audience, expiry), the id token's ``nonce`` against the
session's and its ``at_hash`` against the access token; only then is the user logged in (Django rotates the
session key) and the tokens kept server-side by ``token_store``. Any failure is a ``HostedSignInError`` with a
stable ``code`` and a message for the page: a 400-class page with a way back, nothing signed in. Nothing
token-like reaches the browser or the logs.

Settings: ``COGNITO["DOMAIN"]`` (the hosted UI's base URL) and ``COGNITO_HOSTED_UI`` (``CLIENT_ID``,
``CLIENT_SECRET``, ``CALLBACK_URL``, ``LOGOUT_URL``, ``SCOPES``, ``LOGOUT_THROUGH_HOSTED_UI``).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from cognito_backend import exceptions as exc
from cognito_backend import idp, revocation
from cognito_backend.conf import cognito_settings
from cognito_backend.tokens import VerifiedToken, verify_token

from . import services, token_store
from .pages import _next_url

logger = logging.getLogger(__name__)

CLIENT_NAME = "cognito"
SESSION_USED = "accounts.hosted_ui"  # the session signed in through the hosted UI (sign-out goes through /logout)

DEFAULTS: dict[str, Any] = {
    "CLIENT_ID": "",  # empty: COGNITO["APP_CLIENT_ID"]
    "CLIENT_SECRET": "",
    "CALLBACK_URL": "",  # empty: this site's /accounts/callback/ as the request sees it
    "LOGOUT_URL": "",  # empty: this site's / as the request sees it
    "SCOPES": "openid email profile",
    "LOGOUT_THROUGH_HOSTED_UI": True,
    "TIMEOUT": 10.0,  # seconds for the token request
}

# Provider errors (RFC 6749 4.1.2.1) shown by name; anything else is "refused".
PROVIDER_ERRORS = {
    "access_denied": "The sign-in was cancelled or refused at the hosted UI.",
    "invalid_request": "The hosted UI refused the sign-in request.",
    "unauthorized_client": "This site is not allowed to sign in through the hosted UI.",
    "invalid_scope": "The hosted UI refused the requested scopes.",
    "server_error": "The hosted UI failed; try again later.",
    "temporarily_unavailable": "The hosted UI is unavailable; try again later.",
}


class HostedSignInError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def hosted_settings() -> dict[str, Any]:
    return {**DEFAULTS, **(getattr(settings, "COGNITO_HOSTED_UI", None) or {})}


def domain() -> str:
    return str(cognito_settings.DOMAIN or "").rstrip("/")


def enabled() -> bool:
    return bool(domain())


def client_id() -> str:
    return str(hosted_settings()["CLIENT_ID"] or cognito_settings.APP_CLIENT_ID)


def callback_url(request: HttpRequest) -> str:
    return str(hosted_settings()["CALLBACK_URL"] or request.build_absolute_uri(reverse("accounts-pages:callback")))


def oauth_client() -> Any:
    """authlib's Django client for the hosted UI, built from the current settings."""
    conf = hosted_settings()
    secret = str(conf["CLIENT_SECRET"] or "")
    oauth = OAuth()
    return oauth.register(
        CLIENT_NAME,
        client_id=client_id(),
        client_secret=secret or None,
        authorize_url=f"{domain()}/oauth2/authorize",
        access_token_url=f"{domain()}/oauth2/token",
        client_kwargs={
            "scope": str(conf["SCOPES"]),
            "code_challenge_method": "S256",
            # A public client sends its client_id in the body; a confidential one uses HTTP Basic (Cognito).
            "token_endpoint_auth_method": "client_secret_basic" if secret else "none",
            "default_timeout": float(conf["TIMEOUT"]),
        },
    )


# --- the service ----------------------------------------------------------------------------------------------


def begin(request: HttpRequest) -> HttpResponse:
    """Redirect to ``/oauth2/authorize``; authlib keeps the verifier, state and nonce in the session under the
    state, and ``next`` (checked: this site only) rides along with them, so parallel sign-ins keep their own."""
    client = oauth_client()
    redirect_uri = callback_url(request)
    authorization = client.create_authorization_url(redirect_uri)
    client.save_authorize_data(request, redirect_uri=redirect_uri, next=_next_url(request), **authorization)
    return HttpResponseRedirect(authorization["url"])


@dataclass(frozen=True)
class HostedTokens:
    tokens: services.Tokens
    identity: VerifiedToken


def _verify(token: dict[str, Any], nonce: str) -> HostedTokens:
    id_token, access_token = str(token.get("id_token") or ""), str(token.get("access_token") or "")
    if not id_token or not access_token:
        raise HostedSignInError("token_missing", "The hosted UI did not return the expected tokens.")
    try:
        identity = verify_token(id_token, token_use=["id"], use_cache=False)
        access = verify_token(access_token, token_use=["access"], groups=(), scopes=(), use_cache=False)
    except exc.ServiceUnavailable as error:  # the keys could not be fetched: the tokens could not be judged
        logger.warning("hosted UI sign-in: tokens not verifiable now (%s)", error.code)
        raise HostedSignInError(
            "unavailable", "The sign-in cannot be checked right now; try again later.", 503
        ) from error
    except exc.TokenError as error:
        logger.info("hosted UI sign-in refused: token %s", error.code)
        raise HostedSignInError("token_invalid", "The sign-in could not be verified; please try again.") from error
    if identity.get("aud") != client_id() or access.get("client_id") != client_id():
        raise HostedSignInError("token_invalid", "The sign-in could not be verified; please try again.")
    if not nonce or not hmac.compare_digest(str(identity.get("nonce") or ""), nonce):
        logger.info("hosted UI sign-in refused: nonce mismatch (sub=%s)", identity.sub)
        raise HostedSignInError("nonce_mismatch", "The sign-in could not be verified; please try again.")
    from authlib.oidc.core.util import create_half_hash

    expected = create_half_hash(access_token, str(identity.header.get("alg") or "RS256"))
    at_hash = str(identity.get("at_hash") or "")
    if not at_hash or expected is None or not hmac.compare_digest(at_hash.encode(), expected.rstrip(b"=")):
        logger.info("hosted UI sign-in refused: at_hash mismatch (sub=%s)", identity.sub)
        raise HostedSignInError("at_hash_mismatch", "The sign-in could not be verified; please try again.")
    if access.sub != identity.sub:
        raise HostedSignInError("token_invalid", "The sign-in could not be verified; please try again.")
    tokens = services.Tokens(
        id_token=id_token,
        access_token=access_token,
        refresh_token=str(token.get("refresh_token") or ""),
        expires_in=int(token.get("expires_in") or 3600),
    )
    return HostedTokens(tokens=tokens, identity=identity)


def complete(request: HttpRequest) -> str:
    """Finish the sign-in at the callback; returns where to go next, or raises ``HostedSignInError``."""
    params = request.GET
    client = oauth_client()
    state = params.get("state") or ""
    state_data = client.framework.get_state_data(request.session, state) if state else None
    if state:
        client.framework.clear_state_data(request.session, state)  # a state is good for one callback only
    provider_error = params.get("error")
    if provider_error:
        known = provider_error in PROVIDER_ERRORS
        logger.info("hosted UI answered error=%s", provider_error if known else "(other)")
        raise HostedSignInError(
            f"provider_{provider_error}" if known else "provider_error",
            PROVIDER_ERRORS.get(provider_error, "The hosted UI refused the sign-in."),
        )
    if not state_data:
        logger.info("hosted UI callback refused: unknown or reused state")
        raise HostedSignInError(
            "state_mismatch", "This sign-in link is not valid any more (or was not started here); please start again."
        )
    code = params.get("code") or ""
    if not code:
        raise HostedSignInError("code_missing", "The hosted UI did not send a sign-in code; please start again.")
    try:
        token = client.fetch_access_token(
            redirect_uri=state_data.get("redirect_uri"), code=code, code_verifier=state_data.get("code_verifier")
        )
    except OAuthError as error:
        logger.info("hosted UI token exchange refused: %s", error.error)
        raise HostedSignInError(
            "code_rejected", "The sign-in code was refused (already used or expired); please start again."
        ) from error
    except (requests.RequestException, ValueError) as error:
        logger.warning("hosted UI token endpoint unreachable: %s", type(error).__name__)
        raise HostedSignInError("unavailable", "The hosted UI cannot be reached; try again later.", 503) from error
    verified = _verify(dict(token), str(state_data.get("nonce") or ""))
    user = authenticate(request, cognito_token=verified.tokens.id_token)
    if user is None:
        raise HostedSignInError("forbidden", "This account cannot sign in here.", 403)
    next_url = _next_url_from(request, str(state_data.get("next") or ""))
    login(request, user, backend="cognito_backend.backends.CognitoBackend")  # rotates the session key
    try:
        token_store.store(request, verified.tokens, client_id=client_id())
    except (exc.CognitoError, ValueError) as error:  # no half sign-in: without its tokens the session ends
        logout(request)
        logger.warning(
            "hosted UI sign-in of sub=%s: tokens could not be stored (%s)", verified.identity.sub, type(error).__name__
        )
        raise HostedSignInError("unavailable", "The sign-in could not be completed; try again later.", 503) from error
    request.session[SESSION_USED] = True
    logger.info("hosted UI sign-in of sub=%s", verified.identity.sub)
    return next_url


def _next_url_from(request: HttpRequest, target: str) -> str:
    """``next`` as saved at the start, checked again (this site only)."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/dashboard/"


def revoke(refresh_token: str) -> None:
    """Revoke ``refresh_token`` of the hosted UI's app client (Cognito RevokeToken)."""
    params: dict[str, Any] = {"Token": refresh_token, "ClientId": client_id()}
    secret = str(hosted_settings()["CLIENT_SECRET"] or "")
    if secret:
        params["ClientSecret"] = secret
    idp.call("revoke_token", **params)


def sign_out(request: HttpRequest) -> str | None:
    """Before ``logout()``: revoke the session's refresh token (every session that holds tokens, with the app
    client that received it) and refuse its tokens here at once; the hosted UI's ``/logout`` URL when it was used."""
    used = bool(request.session.get(SESSION_USED))
    stored = token_store.tokens_for(request)
    if stored is not None and stored.refresh_token:
        try:
            claims: Any = verify_token(stored.access_token, token_use=["access"], groups=(), scopes=())
        except exc.CognitoError:
            claims = {}
        try:
            if used:
                revoke(stored.refresh_token)
            else:
                idp.revoke_token(stored.refresh_token)
        except exc.CognitoError as error:
            logger.warning("sign-out: the refresh token could not be revoked (%s)", error.code)
        origin_jti = str(claims.get("origin_jti") or "")
        if origin_jti:
            revocation.revoke_token_family(origin_jti, sub=str(claims.get("sub") or ""), reason="sign_out")
    if not used or not enabled() or not hosted_settings()["LOGOUT_THROUGH_HOSTED_UI"]:
        return None
    logout_uri = str(hosted_settings()["LOGOUT_URL"] or request.build_absolute_uri("/"))
    return f"{domain()}/logout?{urlencode({'client_id': client_id(), 'logout_uri': logout_uri})}"


# --- the views ------------------------------------------------------------------------------------------------


def error_page(request: HttpRequest, error: HostedSignInError) -> HttpResponse:
    context = {"message": error.message, "code": error.code}
    return render(request, "accounts/hosted_error.html", context, status=error.status)


class HostedSignInPage(View):
    """``GET /accounts/hosted/``: off to the hosted UI."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            return error_page(request, HostedSignInError("not_configured", "The hosted UI is not set up here.", 404))
        return begin(request)


class CallbackPage(View):
    """``GET /accounts/callback/``: the hosted UI's redirect back."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            return error_page(request, HostedSignInError("not_configured", "The hosted UI is not set up here.", 404))
        try:
            next_url = complete(request)
        except HostedSignInError as error:
            return error_page(request, error)
        messages.success(request, f"Signed in as {request.user.get_username()}.")
        return HttpResponseRedirect(next_url)
