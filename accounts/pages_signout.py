"""``POST /accounts/sign-out/everywhere/``: sign the user out of every session and device.

The same service as ``POST /api/auth/sign-out/global/`` (``signout.sign_out_everywhere``): every session and
stored token set of the user here ends at once, their tokens are refused here, and Cognito's GlobalSignOut
invalidates every refresh token (retried by a task when Cognito cannot answer now). Then the hosted UI's
``/logout`` when this session used it, like the plain sign-out.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from cognito_backend import exceptions as exc

from . import services
from .page_helpers import SignedInPage

logger = logging.getLogger(__name__)


def _hosted_logout(request: HttpRequest) -> str | None:
    from . import hosted

    if not request.session.get(hosted.SESSION_USED) or not hosted.enabled():
        return None
    if not hosted.hosted_settings()["LOGOUT_THROUGH_HOSTED_UI"]:
        return None
    logout_uri = str(hosted.hosted_settings()["LOGOUT_URL"] or request.build_absolute_uri("/"))
    return f"{hosted.domain()}/logout?{urlencode({'client_id': hosted.client_id(), 'logout_uri': logout_uri})}"


class SignOutEverywherePage(SignedInPage):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        hosted_logout = _hosted_logout(request)
        try:
            services.global_sign_out(self.access_token, self.claims)
        except exc.CognitoError as error:
            logger.warning("page sign-out everywhere failed: %s", error.code)
            messages.error(request, f"{error.detail} You are still signed in; try again.")
            return HttpResponseRedirect("/")
        logout(request)
        messages.info(request, "Signed out everywhere: every session and device must sign in again.")
        return HttpResponseRedirect(hosted_logout or "/")
