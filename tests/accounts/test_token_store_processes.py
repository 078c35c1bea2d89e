"""The refresh lease holds across processes: two separate Django processes that find the same token set due at
the same moment renew it once, with the default setup (a per-process cache, a SQLite file shared by both).

A rotated refresh token must never be used twice, so this is about processes and is tested with processes: the
session is opened on a gunicorn worker, then two ``manage.py shell`` processes race ``refresh_if_needed``. Each
counts the REFRESH_TOKEN_AUTH requests it sends (a botocore hook that also holds the call for a second, so the
race cannot be won by luck) into a file both append to.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from textwrap import dedent

from tests.accounts.test_session_revocation import browser_sign_in, site  # noqa: F401 - the fixture
from tests.conftest import ROOT, CognitoFactory, UserPool

RACE = dedent(
    """
    import os, time
    from accounts import token_store
    from accounts.models import TokenSet
    from cognito_backend.clients import get_client

    def count(params, **kwargs):
        if params.get("AuthFlow") == "REFRESH_TOKEN_AUTH":
            with open({count!r}, "a") as out:
                out.write(f"{{os.getpid()}}\\n")
            time.sleep(1.0)

    events = get_client("cognito-idp", max_attempts=1).meta.events  # the refresh's own client
    events.register("provide-client-params.cognito-idp.InitiateAuth", count)
    row = TokenSet.objects.get()
    while time.time() < {start!r}:
        time.sleep(0.002)
    fresh = token_store.refresh_if_needed(row)
    print("version", TokenSet.objects.get().version, "expires", int(fresh.expires_at))
    """
)


def test_two_processes_finding_one_token_set_due_refresh_it_once(
    site: tuple[str, dict[str, str]],  # noqa: F811 - the fixture imported above
    cognito: CognitoFactory,
    user_pool: UserPool,
    tmp_path: Path,
) -> None:
    url, env = site
    cognito.create_user(user_pool, "carol", sign_in=False)
    browser_sign_in(url)
    # moto's tokens last an hour: the row is made due (inside the 300 s margin) by a third process.
    due = (
        "from datetime import UTC, datetime, timedelta; from accounts.models import TokenSet; "
        "soon = datetime.now(UTC) + timedelta(seconds=30); "
        "assert TokenSet.objects.filter(lease_until=None).update(expires_at=soon) == 1"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", due], env=env, cwd=ROOT, check=True)

    count = tmp_path / "refresh-calls"
    script = RACE.format(count=str(count), start=time.time() + 4.0)
    racers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", script],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], [err[-2000:] for _, err in outputs]
    assert len(count.read_text().splitlines()) == 1
    # Both answered with the one renewed set: version 2, the same expiry.
    answers = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(answers) == 1 and next(iter(answers)).startswith("version 2 ")
