"""The dashboard page for signed-in (session) users. It renders the registry and the user's recent
invocations; the browser invokes through the REST API (``/api/lambdas/<name>/invoke/``) with the session."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from . import selectors


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
        )
        return context
