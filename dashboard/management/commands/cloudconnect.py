"""``manage.py cloudconnect invoke <FunctionName> '<json payload>'``: log in with Cloud Connect, invoke, print.

The login comes from ``CLOUD_CONNECT_USERNAME`` and ``CLOUD_CONNECT_PASSWORD``, else it is asked for (the
password without echo). There is no password option: a password on the command line would be in the shell's
history and in every process listing.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.cloudconnect_client import CloudConnectClient
from dashboard.exceptions import DashboardError


class Command(BaseCommand):
    help = "Log in with Cloud Connect (three steps) and invoke a Lambda function with the privileged credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        login = sub.add_parser("login", help="Only log in; prints the account (never the token).")
        login.add_argument("--username", help="default: $CLOUD_CONNECT_USERNAME, else asked")
        invoke = sub.add_parser("invoke", help="Log in, then invoke FUNCTION with PAYLOAD (JSON).")
        invoke.add_argument("function", help="the AWS function name (or a registry name), e.g. ThingLambda")
        invoke.add_argument("payload", nargs="?", default="{}", help="JSON payload (default {})")
        invoke.add_argument("--username", help="default: $CLOUD_CONNECT_USERNAME, else asked")

    def handle(self, *args: Any, **options: Any) -> None:
        payload: Any = None
        if options["verb"] == "invoke":
            try:
                payload = json.loads(options["payload"])
            except ValueError as exc:
                raise CommandError(f"The payload is not JSON: {exc}") from None
        username = options.get("username") or os.environ.get("CLOUD_CONNECT_USERNAME") or ""
        if not username:
            username = _ask("Cloud Connect username: ", input, "pass --username or set CLOUD_CONNECT_USERNAME").strip()
        password = os.environ.get("CLOUD_CONNECT_PASSWORD") or ""
        if not password:
            password = _ask("Cloud Connect password: ", getpass.getpass, "set CLOUD_CONNECT_PASSWORD")
        client = CloudConnectClient()
        try:
            account = client.login(username, password)
            del password
            if options["verb"] == "login":
                self.stdout.write(
                    json.dumps(
                        {"identity_id": client.connection.identity_id if client.connection else "", "account": account},
                        indent=2,
                    )
                )
                return
            result = client.invoke(options["function"], payload)
        except DashboardError as error:
            raise CommandError(f"{error.code}: {error.detail}") from None
        self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))


def _ask(prompt: str, read: Any, otherwise: str) -> str:
    """What the person at the terminal answers; without a terminal (or at end of input) a clear error instead."""
    if not sys.stdin.isatty():
        raise CommandError(f"No terminal to ask in: {otherwise}.")
    try:
        return str(read(prompt))
    except (EOFError, KeyboardInterrupt):
        raise CommandError(f"Nothing was typed: {otherwise}.") from None
