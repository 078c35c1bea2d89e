"""``manage.py rotate_token_encryption_key``: re-encrypt every stored token set under the newest key.

Rotation: put the new key first in ``TOKEN_ENCRYPTION_KEY`` (``new,old``), deploy, run this command, then drop
the old key. Rows no configured key opens are listed by id (never by content) and left alone: they already count
as signed out; the command then exits with status 1 so a forgotten old key is noticed before it is dropped.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import token_store


class Command(BaseCommand):
    help = "Re-encrypt every stored Cognito token set under the newest key of TOKEN_ENCRYPTION_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="rows read per query")

    def handle(self, *args: Any, **options: Any) -> None:
        if not token_store.keys():
            raise CommandError("TOKEN_ENCRYPTION_KEY is not set.")
        result = token_store.rotate_keys(batch_size=max(1, int(options["batch_size"])))
        self.stdout.write(f"re-encrypted {result.rotated} token sets under the newest key")
        if result.unreadable:
            self.stderr.write(
                f"{len(result.unreadable)} token sets open with no configured key (their sessions are signed out): "
                + ", ".join(result.unreadable[:20])
                + (" ..." if len(result.unreadable) > 20 else "")
            )
            raise CommandError("some token sets could not be decrypted", returncode=1)
