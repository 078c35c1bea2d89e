"""The dashboard pages for signed-in (session) users. The index renders the registry and the user's recent
invocations; the browser invokes through the REST API (``/api/lambdas/<name>/invoke/``) with the session.
"Connect with Cloud Connect" carries out the three-step login for the user and keeps its credentials."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import TemplateView

from . import cloudconnect, selectors
from .exceptions import DashboardError


class DashboardPage(LoginRequiredMixin, TemplateView):
    template_name = "dashboard/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        functions = selectors.functions_for(selectors.caller_for(self.request.user))
        chosen = self.request.GET.get("function", "")
        selected = next((f for f in functions if f.name == chosen), functions[0] if functions else None)
        context.update(
            functions=functions,
            selected=selected,
            examples={f.name: f.example_payload for f in functions},
            recent=selectors.recent_invocations(self.request.user),
            cloud_connect=cloudconnect.stored_login(self.request.user),
        )
        return context


class CloudConnectForm(forms.Form):
    username = forms.CharField(label="Cloud Connect username", max_length=128)
    password = forms.CharField(label="Password", max_length=256, strip=False, widget=forms.PasswordInput)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class CloudConnectPage(LoginRequiredMixin, View):
    """GET: the form and the current login; POST: the three steps (or ``disconnect``), their progress shown."""

    template_name = "dashboard/cloud_connect.html"

    def render(self, request: HttpRequest, form: CloudConnectForm, **context: Any) -> HttpResponse:
        context.setdefault("steps", cloudconnect.new_steps())
        context.setdefault("status", 200)
        status = context.pop("status")
        return render(
            request,
            self.template_name,
            {"form": form, "login": cloudconnect.stored_login(request.user), **context},
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, CloudConnectForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if "disconnect" in request.POST:
            cloudconnect.disconnect(request.user)
            return redirect("dashboard-page:cloud-connect")
        form = CloudConnectForm(request.POST)
        if not form.is_valid():
            return self.render(request, form, status=400)
        steps = cloudconnect.new_steps()
        try:
            connection = cloudconnect.connect(
                request.user, form.cleaned_data["username"], form.cleaned_data["password"], steps=steps
            )
        except DashboardError as error:
            # A new, empty form: the password is never sent back.
            form = CloudConnectForm(initial={"username": form.cleaned_data["username"]})
            return self.render(request, form, steps=steps, error=error, status=error.status_code)
        return self.render(
            request,
            CloudConnectForm(initial={"username": connection.cloud_username}),
            steps=steps,
            connected=connection,
        )
