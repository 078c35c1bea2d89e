"""Bulk migration: every selected local user created in (or linked to) the user pool, resumably.

The main thread streams users from the database by primary key, a page at a time (memory does not grow with
the number of users), and hands them to a fixed set of worker threads through a bounded queue. Each worker
validates and maps the user, paces its Cognito calls through the token buckets (``ratelimit.py``) and records
the outcome in ``UserMigration`` as it goes, so a run killed at any moment picks up where it stopped:

- before the first call that could create a user, the row is marked ``pending`` with ``attempts`` raised;
- a user with earlier attempts is looked up in the pool first, and linked if the killed run had created them;
- AdminCreateUser refusing with UsernameExists is answered the same way (look up, check it is ours, link);
- every user created is put in the ``MARKER_GROUP``: only an administrator can add a user to a group, so the
  mark tells this migration's users from a same-named user someone signed up (``Migrator.owns``);
- the ``CognitoIdentity`` link and the ``done`` state are written in one transaction.

``--dry-run`` only reads: the database is not written and the pool is only asked whether each user exists.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import string
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, close_old_connections, connection, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from cognito_backend import exceptions as exc
from cognito_backend import idp_admin
from cognito_backend.conf import cognito_settings
from cognito_backend.models import CognitoIdentity

from .conf import migration_settings
from .mapping import InvalidRow, MappedUser, cognito_username, map_user
from .models import MigrationRun, UserMigration
from .ratelimit import Backoff, TokenBucket, paced
from .reporting import Result

logger = logging.getLogger(__name__)

State = UserMigration.State


class SelectionError(ValueError):
    """The selection cannot be applied to this user model (a missing field, an unreadable file)."""


@dataclass
class Selection:
    active_only: bool = False
    include_inactive: bool = False
    id_from: Any = None
    id_to: Any = None
    usernames_file: Path | None = None
    since: datetime | None = None


@dataclass
class RunOptions:
    selection: Selection = field(default_factory=Selection)
    dry_run: bool = False
    rate: float | None = None
    read_rate: float | None = None
    update_rate: float | None = None
    workers: int | None = None
    pool_id: str = ""
    # Ask the pool (AdminGetUser) before every AdminCreateUser, not only for users an earlier run attempted.
    lookup_first: bool = False

    def resolved(self) -> RunOptions:
        return RunOptions(
            selection=self.selection,
            dry_run=self.dry_run,
            rate=float(self.rate or migration_settings.RATE),
            read_rate=float(self.read_rate or migration_settings.READ_RATE),
            update_rate=float(self.update_rate or migration_settings.UPDATE_RATE),
            workers=max(1, int(self.workers or migration_settings.WORKERS)),
            pool_id=self.pool_id or str(cognito_settings.USER_POOL_ID or ""),
            lookup_first=self.lookup_first,
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["selection"] = {k: (str(v) if v is not None else None) for k, v in asdict(self.selection).items()}
        return data


def temporary_password() -> str:
    """A random password nobody is told: the user stays in FORCE_CHANGE_PASSWORD until theirs is set."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(24))
    return f"{core}aA1!"


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _forget_queries() -> None:
    """With DEBUG on, Django keeps each connection's last 9,000 queries; a long run must not grow by them."""
    if connection.queries_logged:
        connection.queries_log.clear()


class _Conflict(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Migrator:
    """One run. ``run()`` does the whole selection; ``process(user)`` migrates a single user (lazy migration)."""

    def __init__(
        self,
        options: RunOptions | None = None,
        *,
        on_result: Callable[[Result, dict[str, int]], None] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.options = (options or RunOptions()).resolved()
        self.selection = self.options.selection
        self.pool_id = self.options.pool_id
        self.on_result = on_result
        self.backoff = backoff or Backoff()
        self.create_bucket = TokenBucket(float(self.options.rate or 1))
        self.read_bucket = TokenBucket(float(self.options.read_rate or 1))
        self.update_bucket = TokenBucket(float(self.options.update_rate or 1))
        self.counts: Counter[str] = Counter()
        # Refusal codes of skipped and failed users (``username_taken`` ...), for the summary.
        self.codes: Counter[str] = Counter()
        self.throttles = 0
        self.run_record: MigrationRun | None = None
        self._lock = threading.Lock()
        self._groups: set[str] = set()
        self._groups_lock = threading.Lock()
        self._duplicates: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._fatal: Exception | None = None
        self.user_model = get_user_model()
        # SQLite has one writer at a time and its shared-cache test databases refuse (rather than wait for) a
        # concurrent writer: the workers take turns at the database there, which costs nothing SQLite would give.
        self._db: AbstractContextManager[Any] = threading.Lock() if connection.vendor == "sqlite" else nullcontext()

    # --- selection -------------------------------------------------------------------------------------------

    def queryset(self) -> models.QuerySet[Any]:
        """The selected users that are not done yet."""
        qs = self.user_model._default_manager.all()
        sel = self.selection
        if sel.active_only and _has_field(self.user_model, "is_active"):
            qs = qs.filter(is_active=True)
        if sel.id_from is not None:
            qs = qs.filter(pk__gte=sel.id_from)
        if sel.id_to is not None:
            qs = qs.filter(pk__lte=sel.id_to)
        if sel.since is not None:
            since_field = str(migration_settings.SINCE_FIELD)
            if not _has_field(self.user_model, since_field):
                raise SelectionError(f"--since needs the field {since_field!r} on {self.user_model.__name__}")
            qs = qs.filter(**{f"{since_field}__gte": sel.since})
        return qs

    def pending_queryset(self) -> models.QuerySet[Any]:
        return self.queryset().exclude(cognito_migration__state=State.DONE)

    def _page(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        if migration_settings.GROUPS and _has_field(self.user_model, "groups"):
            qs = qs.prefetch_related("groups")
        return qs.order_by("pk")

    def iter_users(self) -> Iterator[Any]:
        """Selected users not yet done, by primary key, ``CHUNK_SIZE`` rows per query (keyset pagination)."""
        if self.selection.usernames_file is not None:
            yield from self._iter_usernames(self.selection.usernames_file)
            return
        chunk = int(migration_settings.CHUNK_SIZE)
        last: Any = None
        base = self._page(self.pending_queryset())
        while not self._stop.is_set():
            page = base if last is None else base.filter(pk__gt=last)
            with self._db:
                users = list(page[:chunk])
            _forget_queries()
            if not users:
                return
            yield from users
            last = users[-1].pk

    def _iter_usernames(self, path: Path) -> Iterator[Any]:
        field_name = str(migration_settings.USERNAME_FIELD or self.user_model.USERNAME_FIELD)
        chunk = int(migration_settings.CHUNK_SIZE)
        try:
            handle = path.open(encoding="utf-8")
        except OSError as error:
            raise SelectionError(f"cannot read {path}: {error.strerror}") from error
        with handle:
            batch: list[str] = []
            for line in handle:
                if self._stop.is_set():
                    return
                name = line.strip()
                if name and not name.startswith("#"):
                    batch.append(name)
                if len(batch) >= chunk:
                    yield from self._usernames_batch(field_name, batch)
                    batch = []
            if batch:
                yield from self._usernames_batch(field_name, batch)

    def _usernames_batch(self, field_name: str, names: list[str]) -> Iterator[Any]:
        found = self._page(self.queryset().filter(**{f"{field_name}__in": names}))
        seen: set[str] = set()
        done = set(
            UserMigration.objects.filter(user__in=found.values("pk"), state=State.DONE).values_list(
                "user_id", flat=True
            )
        )
        for user in found:
            seen.add(str(getattr(user, field_name)))
            if user.pk in done:
                with self._lock:
                    self.counts["already_done"] += 1
                continue
            yield user
        for name in dict.fromkeys(names):
            if name not in seen:
                self._emit(Result(None, name, "skipped", "not_found", "no such local user in the selection"))

    def duplicates(self) -> dict[str, Any]:
        """Lower-cased email -> the lowest user id having it, for emails more than one user has.

        Only duplicates are held in memory. The lowest id keeps the email; the others are skipped.
        """
        if self._duplicates is None:
            source = str(dict(migration_settings.ATTRIBUTES).get("email", ""))
            if not source or ":" in source or "." in source or not _has_field(self.user_model, source):
                self._duplicates = {}
            else:
                rows = (
                    self.user_model._default_manager.exclude(**{source: ""})
                    .annotate(_email=Lower(source))
                    .values("_email")
                    .annotate(_n=models.Count("pk"), _first=models.Min("pk"))
                    .filter(_n__gt=1)
                    .values_list("_email", "_first")
                )
                self._duplicates = {str(email): first for email, first in rows.iterator()}
        return self._duplicates

    def email_owner(self, email: str) -> Any:
        """The lowest user id having ``email`` when more than one user has it, else None."""
        if self._duplicates is not None:
            return self._duplicates.get(email.lower())
        source = str(dict(migration_settings.ATTRIBUTES).get("email", ""))
        if not _has_field(self.user_model, source):
            return None
        with self._db:
            owners = list(
                self.user_model._default_manager.filter(**{f"{source}__iexact": email})
                .order_by("pk")[:2]
                .values_list("pk", flat=True)
            )
        return owners[0] if len(owners) > 1 else None

    # --- the run ----------------------------------------------------------------------------------------------

    def run(self) -> Counter[str]:
        """Migrate the whole selection with ``workers`` threads; returns the counts by outcome."""
        if not self.pool_id:
            raise exc.ConfigurationError("COGNITO_USER_POOL_ID is not set.")
        self.counts["already_done"] += self.queryset().filter(cognito_migration__state=State.DONE).count()
        self.duplicates()
        if not self.options.dry_run:
            self.run_record = MigrationRun.objects.create(
                pid=os.getpid(), pool_id=self.pool_id, options=self.options.as_json()
            )
        self._load_groups()
        workers = int(self.options.workers or 1)
        work: queue.Queue[Any] = queue.Queue(maxsize=workers * 2)
        sentinel = object()
        threads = [threading.Thread(target=self._worker, args=(work, sentinel), daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        interrupted = False
        try:
            for user in self.iter_users():
                work.put(user)
        except KeyboardInterrupt:
            interrupted = True
            self._stop.set()
        finally:
            for _ in threads:
                work.put(sentinel)
            for thread in threads:
                thread.join()
        self._finish(interrupted or self._fatal is not None)
        if self._fatal is not None:
            raise self._fatal
        if interrupted:
            raise KeyboardInterrupt
        return self.counts

    def stop(self) -> None:
        self._stop.set()

    def _worker(self, work: queue.Queue[Any], sentinel: object) -> None:
        try:
            while True:
                user = work.get()
                if user is sentinel:
                    return
                if self._stop.is_set():
                    continue  # keep draining so the reader never blocks on a full queue
                try:
                    self._emit(self._process_safely(user))
                    # A prefetched queryset refers back to its user (a reference cycle only the full garbage
                    # collection would free): break it so each user is freed as soon as it is done.
                    user.__dict__.pop("_prefetched_objects_cache", None)
                except Exception as error:  # the report or the database failed: stop the run, say why
                    logger.exception("the migration run cannot go on")
                    self._fatal = self._fatal or error
                    self._stop.set()
                _forget_queries()
        finally:
            connection.close()

    def _process_safely(self, user: Any) -> Result:
        try:
            return self.process(user)
        except Exception as error:  # one user's surprise must not stop the run; it is recorded
            logger.exception("migrating user %s failed unexpectedly", user.pk)
            close_old_connections()
            code = getattr(error, "code", "") or "unexpected_error"
            return self._fail(user, "", str(code), type(error).__name__)

    def _emit(self, result: Result) -> None:
        with self._lock:
            self.counts[result.outcome] += 1
            if result.code:
                self.codes[result.code] += 1
            if self.on_result is not None:
                self.on_result(result, dict(self.counts))

    def _finish(self, interrupted: bool) -> None:
        if self.run_record is None:
            return
        self.run_record.counts = {**dict(self.counts), "throttled": self.throttles}
        self.run_record.status = MigrationRun.Status.INTERRUPTED if interrupted else MigrationRun.Status.FINISHED
        self.run_record.finished = timezone.now()
        self.run_record.save(update_fields=["counts", "status", "finished"])

    def save_progress(self) -> None:
        """Write the counts so far on the run (``cognito_migration_status`` shows them while it runs)."""
        if self.run_record is not None:
            with self._db:
                MigrationRun.objects.filter(pk=self.run_record.pk).update(
                    counts={**dict(self.counts), "throttled": self.throttles}
                )

    # --- one user ---------------------------------------------------------------------------------------------

    def process(self, user: Any) -> Result:
        """Validate, create or link one user, and record the outcome (nothing is recorded on a dry run)."""
        username = ""
        try:
            username = cognito_username(user)
            mapped = map_user(user)
        except InvalidRow as row:
            return self._skip(user, username, row.code, row.detail)
        if not mapped.is_active and not self.selection.include_inactive:
            return self._skip(user, mapped.username, "inactive", "inactive users are not migrated")
        first = self.email_owner(mapped.email) if mapped.email else None
        if first is not None and first != user.pk:
            return self._skip(user, mapped.username, "duplicate_email", f"user {first} has the same email address")
        if self.options.dry_run:
            return self._dry_run(user, mapped)
        previous_attempts = self._begin(user)
        try:
            look_first = previous_attempts > 0 or self.options.lookup_first
            record, outcome = self._create_or_find(mapped, look_first=look_first, resumed=previous_attempts > 0)
            sub = idp_admin.attributes_to_dict(record.get("Attributes") or record.get("UserAttributes")).get("sub")
            if not sub:
                raise _Conflict("no_sub", "Cognito returned no sub for the user")
            for group in mapped.groups:
                self._ensure_group(group)
                self._add_to_group(mapped.username, group)
            if not mapped.is_active:
                self._update(lambda: idp_admin.admin_disable_user(mapped.username, pool_id=self.pool_id))
            self._link(user, mapped.username, sub, outcome)
        except _Conflict as conflict:
            return self._fail(user, mapped.username, conflict.code, conflict.detail)
        except exc.CognitoError as error:
            return self._fail(user, mapped.username, error.code, str(error.detail)[:500])
        return Result(user.pk, mapped.username, outcome)

    def _create_or_find(self, mapped: MappedUser, *, look_first: bool, resumed: bool) -> tuple[dict[str, Any], str]:
        if look_first:
            existing = self._read(lambda: idp_admin.admin_get_user(mapped.username, pool_id=self.pool_id))
            if existing is not None:
                return self._check_same(mapped, existing, resumed=resumed), UserMigration.Outcome.LINKED
        try:
            created = self._create(mapped)
        except exc.UsernameExists:
            existing = self._read(lambda: idp_admin.admin_get_user(mapped.username, pool_id=self.pool_id))
            if existing is None:
                raise
            return self._check_same(mapped, existing, resumed=resumed), UserMigration.Outcome.LINKED
        self._mark(mapped.username)
        return created, UserMigration.Outcome.CREATED

    def owns(self, mapped: MappedUser, existing: dict[str, Any], *, resumed: bool = False) -> bool:
        """An existing pool user with this username may be linked to (and take the password of) the local user.

        Only if the pool has verified the same email address (case-folded), or the user carries this migration's
        mark (``MARKER_GROUP``), or (``resumed``: an earlier attempt of ours may have created it and been killed
        before marking it) it is in ``FORCE_CHANGE_PASSWORD``, a state only AdminCreateUser produces, with the same
        email. A user who signed up with someone's username and email (unverified) is none of these.
        """
        theirs = idp_admin.attributes_to_dict(existing.get("UserAttributes"))
        email = theirs.get("email", "").casefold()
        same_email = bool(mapped.email) and email == mapped.email.casefold()
        if same_email and theirs.get("email_verified", "").lower() == "true":
            return True
        marker = str(migration_settings.MARKER_GROUP or "")
        if marker and marker in self._read(
            lambda: idp_admin.admin_list_groups_for_user(mapped.username, pool_id=self.pool_id)
        ):
            return True
        if resumed and same_email and existing.get("UserStatus") == "FORCE_CHANGE_PASSWORD":
            if not self.options.dry_run:
                self._mark(mapped.username)
            return True
        return False

    def _check_same(self, mapped: MappedUser, existing: dict[str, Any], *, resumed: bool) -> dict[str, Any]:
        if not self.owns(mapped, existing, resumed=resumed):
            raise _Conflict(
                "username_taken",
                "a Cognito user with this username exists without a verified, equal email or this migration's mark",
            )
        return existing

    def _mark(self, username: str) -> None:
        marker = str(migration_settings.MARKER_GROUP or "")
        if marker:
            self._ensure_group(marker)
            self._add_to_group(username, marker)

    def _create(self, mapped: MappedUser) -> dict[str, Any]:
        return paced(
            self.create_bucket,
            lambda: idp_admin.admin_create_user(
                mapped.username,
                mapped.attributes,
                temporary_password=temporary_password(),
                suppress_message=bool(migration_settings.SUPPRESS_WELCOME),
                pool_id=self.pool_id,
            ),
            backoff=self.backoff,
            on_throttle=self._throttled,
        )

    def _read(self, operation: Callable[[], Any]) -> Any:
        return paced(self.read_bucket, operation, backoff=self.backoff, on_throttle=self._throttled)

    def _update(self, operation: Callable[[], Any]) -> Any:
        return paced(self.update_bucket, operation, backoff=self.backoff, on_throttle=self._throttled)

    def _add_to_group(self, username: str, group: str) -> None:
        self._update(lambda: idp_admin.admin_add_user_to_group(username, group, pool_id=self.pool_id))

    def _throttled(self) -> None:
        with self._lock:
            self.throttles += 1

    def _load_groups(self) -> None:
        if migration_settings.GROUPS:
            names = self._read(lambda: idp_admin.list_groups(pool_id=self.pool_id))
            with self._groups_lock:
                self._groups.update(names)

    def _ensure_group(self, name: str) -> None:
        with self._groups_lock:
            if name in self._groups:
                return
            self._update(lambda: idp_admin.create_group(name, pool_id=self.pool_id))
            self._groups.add(name)

    def _dry_run(self, user: Any, mapped: MappedUser) -> Result:
        try:
            existing = self._read(lambda: idp_admin.admin_get_user(mapped.username, pool_id=self.pool_id))
            if existing is None:
                return Result(user.pk, mapped.username, "would_create")
            resumed = UserMigration.objects.filter(user_id=user.pk, attempts__gt=0).exists()
            self._check_same(mapped, existing, resumed=resumed)
        except _Conflict as conflict:
            return Result(user.pk, mapped.username, "failed", conflict.code, conflict.detail)
        except exc.CognitoError as error:
            return Result(user.pk, mapped.username, "failed", error.code, str(error.detail)[:500])
        return Result(user.pk, mapped.username, "would_link")

    # --- bookkeeping ------------------------------------------------------------------------------------------

    def _begin(self, user: Any) -> int:
        """Mark the user pending and count the attempt *before* any call that could create them."""
        with self._db:
            row, _ = UserMigration.objects.get_or_create(user_id=user.pk)
            UserMigration.objects.filter(pk=row.pk).update(
                state=State.PENDING, attempts=models.F("attempts") + 1, run=self.run_record
            )
        return int(row.attempts)

    def _link(self, user: Any, username: str, sub: str, outcome: str) -> None:
        try:
            with self._db, transaction.atomic():
                identity = CognitoIdentity.objects.select_for_update().filter(user_id=user.pk).first()
                if identity is not None and identity.sub != sub:
                    raise _Conflict("identity_conflict", "the user is already linked to another Cognito user")
                if identity is None:
                    CognitoIdentity.objects.create(user_id=user.pk, sub=sub, pool_id=self.pool_id, username=username)
                UserMigration.objects.filter(user_id=user.pk).update(
                    state=State.DONE,
                    outcome=outcome,
                    error_code="",
                    detail="",
                    sub=sub,
                    cognito_username=username,
                    run=self.run_record,
                )
        except IntegrityError as error:
            raise _Conflict("sub_linked_elsewhere", "this Cognito user is linked to another local user") from error

    def _record(self, user: Any, username: str, state: str, code: str, detail: str) -> None:
        if self.options.dry_run or user is None:
            return
        with self._db:
            UserMigration.objects.update_or_create(
                user_id=user.pk,
                defaults={
                    "state": state,
                    "error_code": code,
                    "detail": detail[:500],
                    "cognito_username": username[:255],
                    "run": self.run_record,
                },
            )

    def _skip(self, user: Any, username: str, code: str, detail: str) -> Result:
        self._record(user, username, State.SKIPPED, code, detail)
        return Result(user.pk, username, "skipped", code, detail)

    def _fail(self, user: Any, username: str, code: str, detail: str) -> Result:
        self._record(user, username, State.FAILED, code, detail)
        return Result(user.pk, username, "failed", code, detail)


def migrate_user(user: Any) -> Result:
    """Create (or link) one user now, outside a bulk run: lazy migration of a user the bulk run has not reached."""
    return Migrator(RunOptions(workers=1)).process(user)


def status_counts() -> dict[str, int]:
    """Users by migration state; ``not_started`` for users without a row."""
    user_model = get_user_model()
    total = user_model._default_manager.count()
    by_state = dict(UserMigration.objects.values_list("state").annotate(n=models.Count("pk")).values_list("state", "n"))
    counts = {state: int(by_state.get(state, 0)) for state in State.values}
    counts["not_started"] = total - sum(counts.values())
    counts["total"] = total
    counts["linked"] = CognitoIdentity.objects.count()
    counts["password_migrated"] = UserMigration.objects.filter(password_migrated_at__isnull=False).count()
    counts["hash_cleared"] = UserMigration.objects.filter(hash_cleared_at__isnull=False).count()
    return counts
