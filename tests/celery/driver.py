"""Run inside the site's environment by the Celery process tests (``python tests/celery/driver.py CMD ...``).

The workers, beat and this driver share one SQLite file, one Redis and the stand-in; the test process only
starts processes and reads this driver's JSON answers.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(command: str, *args: str) -> object:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from accounts import signout, token_store
    from accounts.models import GlobalSignOut, TokenSet
    from accounts.tasks import refresh_token_sets
    from cognito_backend.idp import initiate_auth
    from cognito_backend.models import CognitoIdentity
    from cognito_backend.tokens import verify_token

    if command == "seed":  # seed COUNT USERNAME PASSWORD: token sets due within a minute
        count, username, password = int(args[0]), args[1], args[2]
        user, _ = get_user_model().objects.get_or_create(username=username)
        ids = []
        for _ in range(count):
            result = initiate_auth(username, password)["AuthenticationResult"]
            sub = verify_token(result["IdToken"], token_use=["id"]).sub
            CognitoIdentity.objects.get_or_create(user=user, defaults={"sub": sub, "username": username})
            row = TokenSet.objects.create(
                user=user,
                sub=sub,
                username=username,
                ciphertext=token_store._encrypt(result["IdToken"], result["AccessToken"], result["RefreshToken"]),
                expires_at=datetime.now(UTC) + timedelta(seconds=60),
            )
            ids.append(str(row.pk))
        return ids
    if command == "state":
        return {
            "token_sets": {str(row.pk): row.version for row in TokenSet.objects.all()},
            "sign_outs": [[row.status, row.reason, row.attempts] for row in GlobalSignOut.objects.order_by("pk")],
        }
    if command == "refresh":  # refresh TIMES ID...: the same batch task queued TIMES times at once
        for _ in range(int(args[0])):
            refresh_token_sets.delay(list(args[1:]))
        return "queued"
    if command == "refresh-due":  # what beat runs: fan the due token sets out in batches
        from accounts.tasks import refresh_due_token_sets

        return refresh_due_token_sets()
    if command == "sign-in":  # sign-in USERNAME PASSWORD SECONDS: through the page, tokens made due in SECONDS
        from django.conf import settings
        from django.test import Client

        browser = Client()
        response = browser.post("/accounts/sign-in/", {"username": args[0], "password": args[1]})
        assert response.status_code == 302, response.status_code
        row = TokenSet.objects.get(pk=browser.session[token_store.SESSION_KEY])
        TokenSet.objects.filter(pk=row.pk).update(expires_at=datetime.now(UTC) + timedelta(seconds=float(args[2])))
        return {
            "cookie": browser.cookies[settings.SESSION_COOKIE_NAME].value,
            "fingerprint": fingerprint(token_store.read(row).access_token),  # a digest, never the token
        }
    if command == "page":  # page COOKIE PATH: the page with that session, and the session's stored access token
        from django.conf import settings
        from django.test import Client

        browser = Client()
        browser.cookies[settings.SESSION_COOKIE_NAME] = args[0]
        response = browser.get(args[1])
        row = TokenSet.objects.get(pk=browser.session[token_store.SESSION_KEY])
        return {
            "status": response.status_code,
            "body": response.content.decode()[:20000],
            "fingerprint": fingerprint(token_store.read(row).access_token),
        }
    if command == "sign-out":  # sign-out USERNAME
        user = get_user_model().objects.get(username=args[0])
        return signout.sign_out_everywhere(user, trigger="admin").pk
    raise SystemExit(f"unknown command {command}")


def fingerprint(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()[:16]


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], *sys.argv[2:])))
