"""``manage.py localaws up|down|status``: the local AWS stand-ins, started and filled by the project itself."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from localaws import stack


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # it is what makes the Cognito settings valid
    help = "Start (up), stop (down) or show (status) the local AWS stand-ins and the demo user pool."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["up", "down", "status"])
        parser.add_argument("--port", type=int, default=None, help="moto server port (default 5000)")
        parser.add_argument("--region", default=os.environ.get("COGNITO_REGION", "us-east-1"))
        parser.add_argument(
            "--cognito-local",
            action="store_true",
            help="also start cognito-local (npm) for the hosted UI, real confirmation codes and triggers",
        )
        parser.add_argument(
            "--hosted-ui",
            action="store_true",
            help="also start cognito-local and its nonce front with a hosted-UI app client and the demo user "
            "(the sign-in page then offers 'Sign in with the hosted UI')",
        )

    def handle(self, *args: Any, action: str, port: int | None, region: str, **options: Any) -> None:
        moto = stack.moto_process(port)
        runtime = stack.lambda_runtime_process(moto.url)
        cognito_local = stack.cognito_local_process()
        if action == "up":
            self.up(moto, runtime, region)
            if options["cognito_local"] or options["hosted_ui"]:
                triggers = self.up_migration_trigger(moto, runtime, region)
                cognito_local = stack.cognito_local_process(lambda_endpoint=runtime.url, triggers=triggers)
                self.up_cognito_local(cognito_local)
            if options["hosted_ui"]:
                self.up_hosted_ui(cognito_local, region)
        elif action == "down":
            for process in (runtime, moto, cognito_local, stack.oauth_front_process(cognito_local.url)):
                stopped = process.stop()
                self.stdout.write(f"{process.name} {'stopped' if stopped else 'was not running'}.")
        else:
            self.status(moto)
            self.status_of(runtime)
            self.status_of(cognito_local)
            self.status_of(stack.oauth_front_process(cognito_local.url))

    def up_cognito_local(self, process: stack.ManagedProcess) -> None:
        try:
            started = process.start()
        except stack.LocalAwsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"cognito-local {'started' if started else 'already running'} at {process.url}")

    def up_migration_trigger(
        self, moto: stack.ManagedProcess, runtime: stack.ManagedProcess, region: str
    ) -> dict[str, str]:
        """cognito-local's triggers: the user-migration trigger on the Lambda runtime when the site has a secret."""
        secret = str((getattr(settings, "COGNITO_MIGRATION", None) or {}).get("TRIGGER_SECRET") or "")
        if not secret:
            self.stdout.write("  migration trigger off in cognito-local (set COGNITO_MIGRATION_TRIGGER_SECRET)")
            return {}
        site = os.environ.get("LOCALAWS_SITE_URL", "http://127.0.0.1:8000")
        changed = stack.provision_migration_trigger(moto.url, runtime.url, site, secret, region)
        state = "created or updated" if changed else "in place"
        self.stdout.write(f"  migration trigger {stack.MIGRATION_TRIGGER} {state}, calling {site}")
        return {"UserMigration": stack.MIGRATION_TRIGGER}

    def up_hosted_ui(self, cognito_local: stack.ManagedProcess, region: str) -> None:
        front = stack.oauth_front_process(cognito_local.url)
        try:
            started = front.start()
        except stack.LocalAwsError as exc:
            raise CommandError(str(exc)) from exc
        env = stack.provision_hosted_ui(cognito_local.url, front.url, region)
        changed = stack.write_dotenv(env)
        self.stdout.write(f"hosted UI front {'started' if started else 'already running'} at {front.url}")
        self.stdout.write(f"  hosted-UI client {env['COGNITO_HOSTED_UI_CLIENT_ID']} (demo user in cognito-local)")
        self.stdout.write(f".env {'updated' if changed else 'unchanged'}: {stack.DOTENV}")

    def status_of(self, process: stack.ManagedProcess) -> None:
        pid = process.pid()
        if pid and process.answers():
            self.stdout.write(f"{process.name}: running (pid {pid}) at {process.url}")
        else:
            self.stdout.write(f"{process.name}: stopped")

    def up(self, moto: stack.ManagedProcess, runtime: stack.ManagedProcess, region: str) -> None:
        try:
            started = moto.start()
            runtime_started = runtime.start()
        except stack.LocalAwsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"moto server {'started' if started else 'already running'} at {moto.url} (log: {moto.log_file})"
        )
        self.stdout.write(
            f"Lambda runtime {'started' if runtime_started else 'already running'} at {runtime.url} "
            f"(log: {runtime.log_file}; functions' output in {stack.STATE_DIR / 'lambda-runtime' / 'logs'})"
        )
        result = stack.provision(moto.url, region, lambda_endpoint=runtime.url)
        changed = stack.write_dotenv(result.env())
        for item in result.created:
            self.stdout.write(f"  created {item}")
        if not result.created:
            self.stdout.write("  everything already in place; nothing created")
        self.stdout.write(f"  user pool      {result.user_pool_id}")
        self.stdout.write(f"  app client     {result.app_client_id}")
        self.stdout.write(f"  identity pool  {result.identity_pool_id}")
        self.stdout.write(f"  functions      {', '.join(sorted(result.functions))}")
        self.stdout.write(f"  demo user      {stack.DEMO_USERNAME} (password: see README)")
        self.stdout.write(f".env {'updated' if changed else 'unchanged'}: {stack.DOTENV}")

    def status(self, moto: stack.ManagedProcess) -> None:
        pid = moto.pid()
        if pid and moto.answers():
            self.stdout.write(f"moto server: running (pid {pid}) at {moto.url}")
        elif stack.port_in_use(moto.port):
            self.stdout.write(f"moto server: not ours; port {moto.port} is taken by another process")
        else:
            self.stdout.write("moto server: stopped")
        env = stack.read_dotenv()
        keys = ("COGNITO_USER_POOL_ID", "COGNITO_APP_CLIENT_ID", "COGNITO_IDENTITY_POOL_ID", "AWS_ENDPOINT_URL")
        for key in (*keys, "AWS_ENDPOINT_URL_LAMBDA"):
            self.stdout.write(f"  {key}={env.get(key, '(not set)')}")
