"""``manage.py cognito_sign_out_users --group NAME | --all``: an incident's mass sign-out.

Every user of a Cognito group (ListUsersInGroup) or of the whole pool (ListUsers) is signed out everywhere: the
local part page by page (revocation, stored tokens, sessions), then AdminUserGlobalSignOut paced at ``--rate``
calls per second (default ``SIGN_OUT_RATE``, below Cognito's quota) over a few threads. Each user gets a
``GlobalSignOut`` row of the run; ``--resume RUN`` starts the run again and skips users already done. A call
Cognito cannot answer is retried with backoff a few times, then left pending to the Celery task.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import signout
from accounts.models import GlobalSignOut
from cognito_backend import exceptions as exc
from cognito_backend.conf import cognito_settings
from cognito_backend.idp import call

PAGE = 60  # ListUsers / ListUsersInGroup maximum
ATTEMPTS = 4


class Pacer:
    """Hands out call times ``1/rate`` apart to any number of threads."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            at = max(self.next_at, now)
            self.next_at = at + self.interval
        if at > now:
            time.sleep(at - now)


class Command(BaseCommand):
    help = "Sign out every user of a Cognito group, or every user, everywhere (incident response)."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--group", help="the Cognito group whose members are signed out")
        target.add_argument("--all", action="store_true", help="every user of the pool")
        parser.add_argument("--rate", type=float, default=None, help="AdminUserGlobalSignOut calls per second")
        parser.add_argument("--resume", default="", help="the run to resume (printed when a run starts)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")

    def handle(self, *args: Any, **options: Any) -> None:
        group = options["group"] or ""
        if options["resume"]:
            first = GlobalSignOut.objects.filter(run=options["resume"]).order_by("pk").first()
            if first is None:
                raise CommandError(f"no run {options['resume']!r} to resume")
            run = options["resume"]
            scope = first.trigger.removeprefix("incident:")
            group = group or ("" if scope == "all" else scope)
        elif not group and not options["all"]:
            raise CommandError("name --group NAME or --all")
        else:
            run = signout.new_run_id()
        rate = float(options["rate"] or getattr(settings, "SIGN_OUT_RATE", 25.0))
        if rate <= 0:
            raise CommandError("--rate must be above 0")
        trigger = f"incident:{group}" if group else "incident:all"
        done = set(GlobalSignOut.objects.filter(run=run, status="done").values_list("sub", flat=True))
        self.stdout.write(f"run {run}: signing out {'group ' + group if group else 'every user'} at {rate:g}/s")
        self.stdout.write(f"(resume with: manage.py cognito_sign_out_users --resume {run})")
        progress = self.progress(enabled=not options["no_progress"] and sys.stderr.isatty(), total=self.total(group))
        counts: Counter[str] = Counter()
        pacer = Pacer(rate)
        started = time.monotonic()
        in_flight: list[tuple[GlobalSignOut, Future[str]]] = []

        def finish() -> None:
            """Wait for the Cognito part of the page in flight; record its outcomes."""
            jobs = [job for job, _ in in_flight]
            outcomes = [future.result() for _, future in in_flight]
            _save(jobs)
            for job, outcome in zip(jobs, outcomes, strict=True):
                counts[outcome] += 1
                if outcome == "pending":
                    signout.enqueue(job)
            in_flight.clear()
            progress(sum(counts.values()))

        with ThreadPoolExecutor(max_workers=max(1, min(16, int(rate)))) as pool:
            # Pipelined: the next page is listed and signed out locally while the paced Cognito calls of the page
            # before run in the threads, so the calls keep to the rate instead of pausing for each local part.
            for page in self.pages(group):
                todo = [(user["Username"], self.sub_of(user)) for user in page]
                counts["skipped"] += sum(1 for _, sub in todo if sub in done)
                todo = [(name, sub) for name, sub in todo if sub not in done]
                jobs = self.local_part(todo, trigger=trigger[:32], run=run)
                if in_flight:
                    finish()
                in_flight.extend((job, pool.submit(self.cognito_part, job, pacer)) for job in jobs)
            if in_flight:
                finish()
        progress(None)
        elapsed = time.monotonic() - started
        attempted = counts["done"] + counts["failed"] + counts["pending"]
        self.stdout.write(
            f"run {run}: {counts['done']} signed out, {counts['failed']} failed, {counts['pending']} left to the "
            f"task (Cognito unreachable), {counts['skipped']} already done; {elapsed:.1f} s, "
            f"{attempted / elapsed if elapsed else 0:.1f}/s"
        )
        for job in GlobalSignOut.objects.filter(run=run, status="failed")[:20]:
            self.stdout.write(f"  failed: {job.username}: {job.reason}")

    # --- the users ---------------------------------------------------------------------------------------------

    @staticmethod
    def sub_of(user: dict[str, Any]) -> str:
        for attribute in user.get("Attributes") or []:
            if attribute.get("Name") == "sub":
                return str(attribute.get("Value") or "")
        return str(user.get("Username") or "")

    def total(self, group: str) -> int | None:
        if group:
            return None
        try:
            answer = call("describe_user_pool", UserPoolId=str(cognito_settings.USER_POOL_ID))
        except exc.CognitoError:
            return None
        return int(answer.get("UserPool", {}).get("EstimatedNumberOfUsers") or 0) or None

    def pages(self, group: str) -> Iterator[list[dict[str, Any]]]:
        pool_id = str(cognito_settings.USER_POOL_ID)
        token = ""
        while True:
            params: dict[str, Any] = {"UserPoolId": pool_id, "Limit": PAGE}
            if group:
                if token:
                    params["NextToken"] = token
                answer = self.with_retries(lambda p=params: call("list_users_in_group", GroupName=group, **p))
                token = str(answer.get("NextToken") or "")
            else:
                if token:
                    params["PaginationToken"] = token
                answer = self.with_retries(lambda p=params: call("list_users", **p))
                token = str(answer.get("PaginationToken") or "")
            yield list(answer.get("Users") or [])
            if not token:
                return

    @staticmethod
    def with_retries(run: Any) -> dict[str, Any]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return dict(run())
            except signout.TRANSIENT:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(signout.backoff(attempt, base=1.0, cap=20.0))
        raise AssertionError("unreachable")

    # --- one page ----------------------------------------------------------------------------------------------

    @staticmethod
    def local_part(todo: list[tuple[str, str]], *, trigger: str, run: str) -> list[GlobalSignOut]:
        users = signout.local_users_by_sub(sub for _, sub in todo)
        signout.sign_out_locally([(users.get(sub), sub) for _, sub in todo], reason=trigger)
        return GlobalSignOut.objects.bulk_create(
            [GlobalSignOut(user=users.get(sub), sub=sub, username=name, trigger=trigger, run=run) for name, sub in todo]
        )

    @staticmethod
    def cognito_part(job: GlobalSignOut, pacer: Pacer) -> str:
        """AdminUserGlobalSignOut for one user; the outcome (no database work here: threads)."""
        for attempt in range(1, ATTEMPTS + 1):
            pacer.wait()
            try:
                signout.admin_global_sign_out(job.username)
            except signout.TRANSIENT as error:
                job.reason = f"retrying: {error.code}"
                if attempt < ATTEMPTS:
                    time.sleep(signout.backoff(attempt, base=1.0, cap=20.0))
                continue
            except exc.CognitoError as error:
                job.status, job.reason = GlobalSignOut.Status.FAILED, f"{error.code}: {error.detail}"[:255]
                break
            job.status, job.reason = GlobalSignOut.Status.DONE, ""
            break
        job.attempts = attempt
        return str(job.status)

    # --- output ------------------------------------------------------------------------------------------------

    def progress(self, *, enabled: bool, total: int | None) -> Any:
        last = [0.0]

        def show(count: int | None) -> None:
            if not enabled:
                return
            if count is None:
                sys.stderr.write("\n")
                return
            now = time.monotonic()
            if now - last[0] < 0.2:
                return
            last[0] = now
            if total:
                filled = int(30 * min(count, total) / total)
                sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {count}/{total}")
            else:
                sys.stderr.write(f"\r{count} users")
            sys.stderr.flush()

        return show


def _save(jobs: list[GlobalSignOut]) -> None:
    now = datetime.now(UTC)
    for job in jobs:
        if job.status != GlobalSignOut.Status.PENDING:
            job.completed = now
    GlobalSignOut.objects.bulk_update(jobs, ["status", "reason", "attempts", "completed"])
