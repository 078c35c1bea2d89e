"""``manage.py cognito_clear_password_hashes``: retire the local hashes of users whose password Cognito holds.

Only users marked ``password_migrated_at`` (lazy migration or the migration trigger) lose their hash; users the
bulk run created but who have not signed in since still need theirs for the lazy migration.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from migrations_tools.conf import migration_settings
from migrations_tools.models import UserMigration


class Command(BaseCommand):
    help = "Make the local password unusable for every user whose password has moved to Cognito."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count the users; change nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        rows = UserMigration.objects.filter(password_migrated_at__isnull=False, hash_cleared_at__isnull=True)
        if opts["dry_run"]:
            self.stdout.write(f"{rows.count()} local password hashes would be cleared.")
            return
        user_model = get_user_model()
        chunk = int(migration_settings.CHUNK_SIZE)
        cleared = 0
        last = 0
        while True:
            batch = list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", "user_id")[:chunk])
            if not batch:
                break
            last = batch[-1][0]
            user_ids = [user_id for _, user_id in batch]
            with transaction.atomic():
                # The same unusable marker set_unusable_password() writes, for the whole chunk in one statement.
                user_model._default_manager.filter(pk__in=user_ids).update(password=make_password(None))
                UserMigration.objects.filter(pk__in=[pk for pk, _ in batch]).update(hash_cleared_at=timezone.now())
            cleared += len(batch)
        self.stdout.write(f"Cleared {cleared} local password hashes.")
