"""``manage.py cognito_migration_status``: where the migration stands (users by state, reasons, recent runs)."""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from migrations_tools.models import MigrationRun, UserMigration
from migrations_tools.services import status_counts


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(run: MigrationRun) -> str:
    if run.status == MigrationRun.Status.RUNNING and not _alive(run.pid):
        return "interrupted (process gone)"
    return str(run.status)


class Command(BaseCommand):
    help = "Show how far the migration of users into Cognito has got."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--runs", type=int, default=5, help="how many recent runs to show")

    def handle(self, *args: Any, **opts: Any) -> None:
        counts = status_counts()
        reasons = [
            {"state": state, "code": code, "users": n}
            for state, code, n in UserMigration.objects.filter(
                state__in=[UserMigration.State.SKIPPED, UserMigration.State.FAILED]
            )
            .values_list("state", "error_code")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .values_list("state", "error_code", "n")
        ]
        runs = [
            {
                "id": run.pk,
                "started": run.started.isoformat(),
                "finished": run.finished.isoformat() if run.finished else None,
                "status": run_status(run),
                "counts": run.counts,
            }
            for run in MigrationRun.objects.order_by("-started")[: opts["runs"]]
        ]
        if opts["json"]:
            self.stdout.write(json.dumps({"users": counts, "reasons": reasons, "runs": runs}, indent=2))
            return
        total = counts["total"] or 1
        self.stdout.write(
            f"{counts['done']} of {counts['total']} users migrated ({100 * counts['done'] / total:.1f}%); "
            f"{counts['pending']} pending, {counts['failed']} failed, {counts['skipped']} skipped, "
            f"{counts['not_started']} not started."
        )
        self.stdout.write(
            f"Linked to Cognito: {counts['linked']}; passwords held by Cognito: {counts['password_migrated']}; "
            f"local hashes cleared: {counts['hash_cleared']}."
        )
        for reason in reasons:
            self.stdout.write(f"  {reason['state']:8} {reason['code'] or '-':24} {reason['users']}")
        for run in runs:
            summary = ", ".join(f"{k} {v}" for k, v in sorted(run["counts"].items()) if v) or "nothing recorded"
            self.stdout.write(f"run {run['id']}: {run['status']}, started {run['started']}: {summary}")
