"""Sessions honour revocation: a session opened on the sign-in page is checked on every request against the
revocation service (``cognito_backend.middleware.SessionRevocationMiddleware``), with the answers a bearer token
gets. A global sign-out through the REST API, an administrator's revocation made by another process, and a
deactivated user each end it at once: the API answers 401, a browser is sent to the sign-in page with a message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import TokenSet
from cognito_backend import sessions
from tests.conftest import ROOT, CognitoFactory, UserPool, free_port, wait_for_port

PASSWORD = "Str0ng-Passw0rd!"
HTML = {"Accept": "text/html,application/xhtml+xml"}


def page_sign_in(client: Client, cognito: CognitoFactory, pool: UserPool, username: str = "carol") -> Any:
    user = cognito.create_user(pool, username, sign_in=False)
    response = client.post("/accounts/sign-in/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return user


@pytest.mark.django_db
def test_the_session_records_its_tokens_identity_and_no_token(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    user = page_sign_in(client, cognito, user_pool)
    issuer, sub, started, _origin, username, _groups, token_use = client.session[sessions.IDENTITY_KEY]
    assert (issuer, sub, username, token_use) == (user_pool.issuer, user.sub, "carol", "id")
    assert abs(started - time.time()) < 120
    me = client.get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json()["sub"] == user.sub


@pytest.mark.django_db
def test_global_sign_out_through_the_rest_api_ends_an_open_session(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    page_sign_in(client, cognito, user_pool)
    assert client.get("/api/auth/me/").status_code == 200
    assert client.get("/dashboard/", headers=HTML).status_code == 200
    other_device = cognito.sign_in(user_pool, "carol", PASSWORD)  # the app, signed in elsewhere
    answer = Client().post("/api/auth/sign-out/global/", HTTP_AUTHORIZATION=f"Bearer {other_device.access_token}")
    assert answer.status_code in {200, 204}, answer.content

    page = client.get("/dashboard/", headers=HTML)
    assert page.status_code == 302
    assert page["Location"] == "/accounts/sign-in/?next=/dashboard/"
    assert "Your session has ended; please sign in again." in client.get(page["Location"]).content.decode()
    assert client.get("/api/auth/me/").status_code == 401
    assert not TokenSet.objects.exists()  # the session's stored tokens went with it


@pytest.mark.django_db
def test_a_revoked_session_sends_the_browser_to_the_sign_in_page_with_a_message(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    from cognito_backend import revocation

    user = page_sign_in(client, cognito, user_pool)
    assert client.get("/dashboard/", headers=HTML).status_code == 200
    revocation.revoke_user_tokens(user.sub, reason="admin")  # the record only: the session row stays
    page = client.get("/dashboard/", headers=HTML)
    assert page.status_code == 302
    assert page["Location"] == "/accounts/sign-in/?next=/dashboard/"
    assert "Your session has ended; please sign in again." in client.get(page["Location"]).content.decode()
    assert not TokenSet.objects.exists()


@pytest.mark.django_db
def test_an_api_request_of_a_revoked_session_is_401_not_a_redirect(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    from cognito_backend import revocation

    user = page_sign_in(client, cognito, user_pool)
    revocation.revoke_user_tokens(user.sub, reason="admin")
    response = client.get("/api/auth/me/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert sessions.IDENTITY_KEY not in client.session


@pytest.mark.django_db
def test_a_deactivated_user_loses_the_session_at_once(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    page_sign_in(client, cognito, user_pool)
    assert client.get("/api/auth/me/").status_code == 200
    get_user_model().objects.filter(username="carol").update(is_active=False)
    local = get_user_model().objects.get(username="carol")
    local.save()  # a save, as the admin makes it: the user's cached copies are dropped
    page = client.get("/dashboard/", headers=HTML)
    assert page.status_code == 302 and page["Location"].startswith("/accounts/sign-in/")
    assert client.get("/api/auth/me/").status_code == 401


@pytest.mark.django_db
def test_a_cognito_session_without_a_recorded_identity_is_ended(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    page_sign_in(client, cognito, user_pool)
    session = client.session
    del session[sessions.IDENTITY_KEY]  # a session from before identities were recorded: it cannot be checked
    session.save()
    assert client.get("/api/auth/me/").status_code == 401


@pytest.mark.django_db
def test_the_online_check_ends_a_session_signed_out_straight_at_cognito_once_per_interval(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sign-out the site never hears of (another app's GlobalSignOut, the console): with ONLINE_CHECK the session's
    stored access token is confirmed with Cognito (GetUser) once per interval, and the first request after the
    interval following the sign-out ends the session. moto refuses GetUser with the old token afterwards."""
    from cognito_backend import revocation

    interval = 1.0
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True, "ONLINE_CHECK_INTERVAL": interval}
    asked: list[float] = []
    ask_cognito = revocation._ask_cognito

    def counted(token: Any) -> Any:
        asked.append(time.monotonic())
        return ask_cognito(token)

    monkeypatch.setattr(revocation, "_ask_cognito", counted)
    page_sign_in(client, cognito, user_pool)
    started = time.monotonic()
    for _ in range(10):
        assert client.get("/api/auth/me/").status_code == 200
    assert 1 <= len(asked) <= 1 + (time.monotonic() - started) / interval  # not on every request

    cognito.idp.admin_user_global_sign_out(UserPoolId=user_pool.pool_id, Username="carol")  # straight at moto
    signed_out = time.monotonic()
    status = 200
    while status == 200 and time.monotonic() - signed_out < 30:  # generous: once the interval passes, it ends
        time.sleep(0.05)
        status = client.get("/api/auth/me/").status_code
    assert status == 401
    assert len(asked) <= 2 + (time.monotonic() - started) / interval
    page = client.get("/dashboard/", headers=HTML)
    assert page.status_code == 302 and page["Location"].startswith("/accounts/sign-in/")
    assert not TokenSet.objects.exists()


# --- sessions remembered per process, by version ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_repeated_session_request_costs_no_query(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, django_assert_num_queries: Any
) -> None:
    page_sign_in(client, cognito, user_pool)
    assert client.cookies[sessions.version_cookie_name()].value  # the sign-in's write was stamped
    assert client.get("/api/auth/me/").status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/api/auth/me/").status_code == 200
    client.post("/accounts/sign-out/")
    assert client.cookies[sessions.version_cookie_name()].value == ""  # the emptied session loses its version


@pytest.mark.django_db
def test_a_remembered_session_serves_only_the_version_the_browser_presents(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, django_assert_num_queries: Any
) -> None:
    """Another process's copy of a session written since (here: a copy put back as it was) is not used: the
    browser presents the new version, so the session is read from the database."""
    page_sign_in(client, cognito, user_pool)
    key = client.cookies["sessionid"].value
    assert client.get("/api/auth/me/").status_code == 200
    stale = sessions._versioned[key]
    session = client.session
    session["written_elsewhere"] = True
    session[sessions.VERSION_KEY] = "v2"
    session.stamped = True  # type: ignore[attr-defined] # as the writing request's response would stamp it
    session.save()
    sessions._versioned[key] = stale  # what the other process still remembers
    client.cookies[sessions.version_cookie_name()] = "v2"
    with django_assert_num_queries(1):
        assert client.get("/api/auth/me/").status_code == 200
    assert sessions._versioned[key][3]["written_elsewhere"] is True


def test_session_writes_in_two_worker_processes_are_never_lost(
    tmp_path: Path, user_pool: UserPool, moto_server: str, cognito: CognitoFactory
) -> None:
    """Two gunicorn workers, SQLite, no shared cache: each remembers sessions, and a counter kept in the session
    goes up by one at every request whichever worker answers (a remembered copy from before the other worker's
    write would count twice)."""
    env = site_env(tmp_path, user_pool, moto_server, REVOCATION_MEMO_SECONDS=60.0)
    cognito.create_user(user_pool, "carol", sign_in=False)
    with gunicorn(env, workers=2) as url:
        browser = browser_sign_in(url)
        counts: list[int] = []
        pids: set[int] = set()
        while len(counts) < 200 and (len(counts) < 30 or len(pids) < 2):
            answer = browser.post(f"{url}/bench/session-count/", timeout=30).json()
            counts.append(answer["count"])
            pids.add(answer["pid"])
        assert len(pids) == 2  # both workers answered
        assert counts == list(range(1, len(counts) + 1))
        assert browser.get(f"{url}/api/auth/me/", timeout=30).status_code == 200


# --- across processes: a gunicorn worker serves the session, another process revokes -------------------------


def site_env(tmp_path: Path, user_pool: UserPool, moto_server: str, **cognito: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNITO_", "CACHE_URL", "DATABASE_", "AWS_E"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench._bench_settings",
            "DJANGO_READ_DOTENV": "false",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DJANGO_SECRET_KEY": "session-revocation-test-key-not-for-production",
            "BENCH_COGNITO": json.dumps({**user_pool.settings(), **cognito}),
            "AWS_ENDPOINT_URL": moto_server,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PYTHONPATH": str(ROOT),
        }
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], env=env, cwd=ROOT, check=True)
    return env


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 1) -> Iterator[str]:
    port = free_port()
    binary = str(Path(sys.executable).parent / "gunicorn")
    worker = subprocess.Popen(
        [binary, "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "config.wsgi"],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.fixture
def site(tmp_path: Path, user_pool: UserPool, moto_server: str) -> Iterator[tuple[str, dict[str, str]]]:
    """One gunicorn worker of the site on a SQLite file, Cognito in the moto stand-in; no Redis (the revoking
    process and the worker share only the database), so the worker sees it within REVOCATION_MEMO_SECONDS."""
    env = site_env(tmp_path, user_pool, moto_server, REVOCATION_MEMO_SECONDS=1.0)
    with gunicorn(env) as url:
        yield url, env


def browser_sign_in(url: str, username: str = "carol") -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{url}/accounts/sign-in/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf is not None
    signed_in = browser.post(
        f"{url}/accounts/sign-in/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert signed_in.status_code == 302, signed_in.text
    return browser


def test_an_admin_revocation_by_another_process_ends_a_live_session(
    site: tuple[str, dict[str, str]], cognito: CognitoFactory, user_pool: UserPool
) -> None:
    url, env = site
    user = cognito.create_user(user_pool, "carol", sign_in=False)
    browser = browser_sign_in(url)
    assert browser.get(f"{url}/api/auth/me/", timeout=30).json()["sub"] == user.sub

    revoke = f"from cognito_backend import revocation; revocation.revoke_user_tokens({user.sub!r}, reason='admin')"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", revoke], env=env, cwd=ROOT, check=True)

    deadline = time.monotonic() + 30  # generous: REVOCATION_MEMO_SECONDS is 1 s in the worker
    status = 200
    while time.monotonic() < deadline:
        status = browser.get(f"{url}/api/auth/me/", timeout=30).status_code
        if status == 401:
            break
        time.sleep(0.2)
    assert status == 401
    page = browser.get(f"{url}/dashboard/", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30)
    assert page.status_code == 302 and page.headers["Location"].startswith("/accounts/sign-in/")


def test_a_session_deleted_by_another_process_ends_at_once_although_workers_remember_sessions(
    tmp_path: Path, user_pool: UserPool, moto_server: str, cognito: CognitoFactory, redis_url: str
) -> None:
    """With Redis each worker remembers sessions in memory (``cognito_backend.sessions``), here for 30 s
    (REVOCATION_MEMO_SECONDS): a session deleted by another process (no revocation recorded, only the session row
    and its cache entry gone) must end at once, through the bus's message."""
    env = site_env(tmp_path, user_pool, moto_server, REVOCATION_MEMO_SECONDS=30.0)
    env["CACHE_URL"] = redis_url.rsplit("/", 1)[0] + "/5"
    cognito.create_user(user_pool, "carol", sign_in=False)
    with gunicorn(env) as url:
        browser = browser_sign_in(url)
        for _ in range(5):  # read, and remembered, by the worker
            assert browser.get(f"{url}/api/auth/me/", timeout=30).status_code == 200
        key = browser.cookies["sessionid"]
        delete = (
            "import importlib, time; from django.conf import settings;"
            f"importlib.import_module(settings.SESSION_ENGINE).SessionStore(session_key={key!r}).delete();"
            "time.sleep(2)"  # the bus's message leaves from a background thread
        )
        subprocess.run([sys.executable, "manage.py", "shell", "-c", delete], env=env, cwd=ROOT, check=True)
        started = time.monotonic()
        status = browser.get(f"{url}/api/auth/me/", timeout=30).status_code
        while status != 401 and time.monotonic() - started < 20:  # generous; the memo alone: 200 for 30 s
            time.sleep(0.1)
            status = browser.get(f"{url}/api/auth/me/", timeout=30).status_code
        assert status == 401
        assert time.monotonic() - started < 10
