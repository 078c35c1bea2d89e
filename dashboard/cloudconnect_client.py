"""A small Python client with the two verbs of the original Cloud Connect client, over the dashboard's services.

    client = CloudConnectClient()
    client.login("demo", password)                      # the three steps (dashboard.cloudconnect)
    client.invoke("ThingLambda", {"action": "LIST"})    # -> AuthLambda's / ThingLambda's parsed answer

The login lives in this object's memory only (the password is not kept at all) and is renewed before its
credentials expire, as the server renews a stored one. ``invoke`` goes through ``services.invoke_function``: the
same payload checks, error mapping and audit row as the REST endpoint, with the function's registry entry when
one has that function or URL name (its schema applies), else the function by its AWS name.
"""

from __future__ import annotations

import json
from typing import Any

from django.views.decorators.debug import sensitive_variables

from . import cloudconnect, selectors, services
from .models import LambdaFunction


class NotLoggedIn(RuntimeError):
    """``invoke`` before a successful ``login``."""


class CloudConnectClient:
    def __init__(self, user: Any = None) -> None:
        """``user``: the Django user the audit log names (optional)."""
        self.user = user
        self._login: cloudconnect.MemoryLogin | None = None

    @property
    def connection(self) -> cloudconnect.Connection | None:
        return self._login.connection if self._login is not None else None

    @sensitive_variables("password")
    def login(self, username: str, password: str) -> dict[str, Any]:
        """The three-step login; returns the account AuthLambda answered (without its credentials)."""
        connection = cloudconnect.login(username, password, user=self.user)
        self._login = cloudconnect.MemoryLogin(connection)
        return connection.account

    def invoke(self, function_name: str, payload: Any) -> Any:
        """Invoke ``function_name`` with the login's credentials; the parsed result (raises ``DashboardError``)."""
        if self._login is None:
            raise NotLoggedIn("Log in with Cloud Connect first: client.login(username, password).")
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        caller = selectors.Caller(user=self.user, cloud_connect=self._login)
        outcome = services.invoke_function(caller, _function(function_name), services.RawPayload.of(data))
        return outcome.result


def _function(function_name: str) -> LambdaFunction:
    """The registry's entry for this AWS or URL name, made to run with the Cloud Connect login; else a bare one."""
    registered = (
        selectors.enabled_functions().filter(function_name=function_name).first()
        or selectors.enabled_functions().filter(name=function_name).first()
    )
    if registered is not None:
        registered.credentials = LambdaFunction.Credentials.CLOUD_CONNECT
        return registered
    return LambdaFunction(
        name=function_name[:64],
        display_name=function_name,
        function_name=function_name,
        credentials=LambdaFunction.Credentials.CLOUD_CONNECT,
    )
