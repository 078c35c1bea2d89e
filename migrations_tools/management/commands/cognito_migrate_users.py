"""``manage.py cognito_migrate_users``: create every selected local user in the user pool, resumably.

Run it again after an interruption (Ctrl-C, a crash, ``kill -9``): users already done are not read again, users
caught mid-way are looked up in the pool and linked, never created twice.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from cognito_backend.exceptions import CognitoError
from migrations_tools.reporting import OUTCOMES, REPORTED, Progress, ReportWriter, Result, format_duration
from migrations_tools.services import Migrator, RunOptions, Selection, SelectionError


def _since(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r} is not a date (YYYY-MM-DD) or an ISO datetime")
        parsed = datetime(day.year, day.month, day.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Create the site's users in the Cognito user pool (resumable; --dry-run to preview)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report what would happen; change nothing")
        parser.add_argument("--active-only", action="store_true", help="select only active users")
        parser.add_argument(
            "--include-inactive",
            action="store_true",
            help="migrate inactive users too, disabled in Cognito (by default they are reported as skipped)",
        )
        parser.add_argument("--from-id", help="lowest primary key to select (inclusive)")
        parser.add_argument("--to-id", help="highest primary key to select (inclusive)")
        parser.add_argument("--usernames-file", type=Path, help="select the usernames listed in this file, one a line")
        parser.add_argument("--since", type=_since, help="select users whose SINCE_FIELD (date_joined) is at or after")
        parser.add_argument("--rate", type=float, help="AdminCreateUser calls per second (default: setting RATE)")
        parser.add_argument("--workers", type=int, help="concurrent workers (default: setting WORKERS)")
        parser.add_argument("--pool-id", default="", help="user pool id (default: COGNITO_USER_POOL_ID)")
        parser.add_argument(
            "--lookup-first",
            action="store_true",
            help="AdminGetUser before every AdminCreateUser (default: only for users an earlier run attempted; "
            "AdminCreateUser itself refuses an existing username, which is then linked)",
        )
        parser.add_argument("--report", type=Path, help="report file of skipped and failed users (.csv or .json)")
        parser.add_argument("--report-format", choices=["csv", "json"], help="report format (default: by extension)")
        parser.add_argument("--progress-interval", type=float, default=10.0, help="seconds between plain lines")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["rate"] is not None and opts["rate"] <= 0:
            raise CommandError("--rate must be positive")
        if opts["workers"] is not None and opts["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        selection = Selection(
            active_only=opts["active_only"],
            include_inactive=opts["include_inactive"],
            id_from=opts["from_id"],
            id_to=opts["to_id"],
            usernames_file=opts["usernames_file"],
            since=opts["since"],
        )
        options = RunOptions(
            selection=selection,
            dry_run=opts["dry_run"],
            rate=opts["rate"],
            workers=opts["workers"],
            pool_id=opts["pool_id"],
            lookup_first=opts["lookup_first"],
        )
        stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S")
        report_path: Path = opts["report"] or Path(
            f"cognito-migration-{'dry-run-' if options.dry_run else ''}{stamp}.{opts['report_format'] or 'csv'}"
        )
        out = getattr(self.stdout, "_out", sys.stdout)
        try:
            report = ReportWriter(report_path, opts["report_format"])
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot write the report {report_path}: {error}") from error
        progress: Progress | None = None
        migrator: Migrator | None = None
        last_saved = [time.monotonic()]

        def on_result(result: Result, counts: dict[str, int]) -> None:
            if result.outcome in REPORTED:
                report.write(result)
            if progress is not None:
                progress.update({k: counts.get(k, 0) for k in OUTCOMES})
            if migrator is not None and time.monotonic() - last_saved[0] > 5:
                last_saved[0] = time.monotonic()
                migrator.save_progress()

        # SIGTERM stops the run like Ctrl-C (in-flight users finish, the run is marked interrupted).
        on_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_interrupt) if on_main_thread else None
        started = time.monotonic()
        interrupted = False
        try:
            migrator = Migrator(options, on_result=on_result)
            total = None if selection.usernames_file else migrator.pending_queryset().count()
            mode = "DRY RUN: nothing will be changed. " if options.dry_run else ""
            opts_resolved = migrator.options
            self.stdout.write(
                f"{mode}Migrating {total if total is not None else 'the listed'} users into {migrator.pool_id} "
                f"at {opts_resolved.rate:g}/s with {opts_resolved.workers} workers."
            )
            progress = Progress(total, out, interval=opts["progress_interval"])
            migrator.run()
        except KeyboardInterrupt:
            interrupted = True
        except SelectionError as error:
            raise CommandError(str(error)) from error
        except CognitoError as error:
            raise CommandError(f"cannot start: {error.code}: {error.detail}") from error
        finally:
            if on_main_thread:
                signal.signal(signal.SIGTERM, previous)
            if progress is not None:
                progress.close()
            report.close()
        elapsed = time.monotonic() - started
        self._summary(migrator, elapsed, report, interrupted, options.dry_run)
        if interrupted:
            raise CommandError("interrupted; run the command again to continue where it stopped")

    def _summary(
        self, migrator: Migrator | None, elapsed: float, report: ReportWriter, interrupted: bool, dry_run: bool
    ) -> None:
        counts = dict(migrator.counts) if migrator else {}
        keys = ("would_create", "would_link") if dry_run else ("created", "linked")
        parts = [f"{k.replace('_', ' ')}: {counts.get(k, 0)}" for k in (*keys, "skipped", "failed", "already_done")]
        head = "Interrupted" if interrupted else ("Dry run finished" if dry_run else "Finished")
        self.stdout.write(f"{head} in {format_duration(elapsed)}. " + ", ".join(parts) + ".")
        if migrator is not None:
            created = counts.get("created", 0) + counts.get("would_create", 0)
            self.stdout.write(
                f"Creation rate {created / max(elapsed, 1e-9):.1f}/s (configured {migrator.options.rate:g}/s); "
                f"throttled {migrator.throttles} times."
            )
        self.stdout.write(f"Report of {report.count} skipped or failed users: {report.path}")
        taken = migrator.codes.get("username_taken", 0) if migrator is not None else 0
        if taken:
            self.stdout.write(
                f"{taken} users are username_taken: the pool has a user with their username that is not provably "
                "theirs (no verified equal email, not created by this migration); neither was changed. Check each "
                "pool user: verify its email (or add it to the marker group) if it is the same person, else delete "
                "it; then run the command again."
            )
