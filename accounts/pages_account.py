"""``/accounts/account/delete/``: delete the signed-in user's Cognito account, after an explicit confirmation.

The same service as ``DELETE /api/auth/account/``: the Cognito user is deleted, their tokens are refused here,
and the local user is deactivated (or deleted, per ``COGNITO["DELETE_LOCAL_USER"]``); then the session ends.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from cognito_backend import exceptions as exc

from . import services
from .page_helpers import SignedInPage, add_error, status_of

logger = logging.getLogger(__name__)


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand that my account and its data are deleted for good.",
        error_messages={"required": "Tick the box to confirm that the account is to be deleted."},
    )


class DeleteAccountPage(SignedInPage):
    template_name = "accounts/account_delete.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": DeleteAccountForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = DeleteAccountForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        sub = str(self.claims.get("sub") or "") or None
        try:
            services.delete_account(self.access_token, sub)
        except exc.CognitoError as error:
            logger.info("page account deletion refused: %s", error.code)
            add_error(form, error)
            return render(request, self.template_name, {"form": form}, status=status_of(error))
        logout(request)
        messages.info(request, "Your account was deleted. You can sign up again at any time.")
        return HttpResponseRedirect("/")
