"""Sign-in through the hosted UI (authorization code + PKCE S256, state, nonce) against the real cognito-local.

cognito-local serves ``/oauth2/authorize`` (a login form) and ``/oauth2/token`` (it checks the PKCE verifier and
consumes each code once). It never writes the ``nonce`` (nor an ``at_hash``) into the id token, so the site,
which checks both, is pointed at ``localaws.oauth_front``: a small front that passes everything through and puts
the authorize request's nonce and the access token's ``at_hash`` into the id token, re-signed with cognito-local's
own published key. Tests that need a wrong nonce or a forged token go around the front or sign with that key.
cognito-local has no ``/logout``: sign-out is tested up to the redirect there (its URL and parameters); the
refresh token's revocation is tested for real (RevokeToken, then the refresh grant is refused).

Failure cases use Django's test client (the browser is not what they test); the happy path and an error page
run in Debian's Chromium, with screenshots under ``test-artefacts/hosted-ui/`` (git-ignored).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from accounts.models import TokenSet
from localaws import oauth_front
from tests.accounts.conftest import CognitoLocal, LocalPool
from tests.conftest import DEFAULT_PASSWORD, ROOT, has_jwt

pytestmark = pytest.mark.cognito_local

ARTEFACTS = ROOT / "test-artefacts" / "hosted-ui"
TESTSERVER_CALLBACK = "http://testserver/accounts/callback/"


@pytest.fixture(scope="module")
def front(cognito_local: CognitoLocal) -> Iterator[str]:
    server, _ = oauth_front.start(cognito_local.url)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def configure(settings: Any, local_pool: LocalPool, front_url: str, callbacks: list[str]) -> str:
    """A hosted-UI app client in the pool, trusted by the site; COGNITO_DOMAIN points at the front."""
    client_id = str(
        local_pool.idp.create_user_pool_client(
            UserPoolId=local_pool.pool_id,
            ClientName="hosted",
            CallbackURLs=callbacks,
            LogoutURLs=["http://testserver/"],
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            AllowedOAuthFlowsUserPoolClient=True,
        )["UserPoolClient"]["ClientId"]
    )
    settings.COGNITO = {**settings.COGNITO, "DOMAIN": front_url, "APP_CLIENT_IDS": [client_id]}
    settings.COGNITO_HOSTED_UI = {"CLIENT_ID": client_id}
    return client_id


@pytest.fixture
def hosted(settings: Any, local_pool: LocalPool, front: str) -> dict[str, str]:
    local_pool.create_user("hana")
    client_id = configure(settings, local_pool, front, [TESTSERVER_CALLBACK])
    return {"client_id": client_id, "front": front}


def start(client: Client, next_url: str = "/dashboard/") -> str:
    response = client.get("/accounts/hosted/", {"next": next_url})
    assert response.status_code == 302
    return str(response["Location"])


def authorize(
    authorize_url: str, username: str = "hana", password: str = DEFAULT_PASSWORD, expect: str = TESTSERVER_CALLBACK
) -> dict[str, str]:
    """What the browser does at the hosted UI: load the form, post it; returns the callback's query."""
    form_page = requests.get(authorize_url, timeout=10)
    assert form_page.status_code == 200, form_page.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    base = authorize_url.split("/oauth2/")[0]
    fields = {
        k: query.get(k, "")
        for k in (
            "client_id",
            "redirect_uri",
            "response_type",
            "code_challenge",
            "code_challenge_method",
            "scope",
            "state",
        )
    }
    answer = requests.post(
        f"{base}/oauth2/authorize",
        data={**fields, "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["Location"]
    assert location.startswith(expect)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def assert_refused(response: Any, code: str, status: int = 400) -> None:
    assert response.status_code == status
    body = response.content.decode()
    assert f'data-code="{code}"' in body
    assert 'href="/accounts/sign-in/"' in body  # a way back
    assert not has_jwt(body)


# --- the happy path -------------------------------------------------------------------------------------------


def test_authorize_request_carries_pkce_s256_state_and_nonce(client: Client, hosted: dict[str, str]) -> None:
    url = start(client)
    assert url.startswith(f"{hosted['front']}/oauth2/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [hosted["client_id"]]
    assert query["redirect_uri"] == [TESTSERVER_CALLBACK]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url SHA-256, not the verifier itself
    assert query["state"][0] and query["nonce"][0]
    assert "openid" in query["scope"][0].split()


def test_callback_signs_in_rotates_the_session_and_keeps_tokens_server_side(
    client: Client, hosted: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = start(client, "/dashboard/?x=1")
    before = client.session.session_key
    state = parse_qs(urlsplit(url).query)["state"][0]
    verifier = client.session[f"_state_cognito_{state}"]["data"]["code_verifier"]  # authlib's, server-side
    assert verifier not in url
    callback = authorize(url)
    response = client.get("/accounts/callback/", callback)
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/?x=1"
    assert signed_in(client)
    assert client.session.session_key != before
    token_set = TokenSet.objects.get()
    assert token_set.username == "hana"
    assert client.session["accounts.token_set"] == str(token_set.pk)
    assert not has_jwt(str(dict(client.session)))  # only the row's id
    secrets = (verifier, callback["code"])
    assert not any(marker in record.getMessage() for record in caplog.records for marker in secrets)
    assert not any(has_jwt(record.getMessage()) for record in caplog.records)
    assert not any(has_jwt(c.value) for c in response.cookies.values())


@pytest.mark.parametrize(
    "hostile", ["https://evil.example/steal", "//evil.example/", "/\\evil.example/", "javascript:alert(1)"]
)
def test_next_to_another_site_goes_to_the_default(client: Client, hosted: dict[str, str], hostile: str) -> None:
    callback = authorize(start(client, hostile))
    response = client.get("/accounts/callback/", callback)
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_two_sign_ins_started_in_parallel_keep_their_own_next(client: Client, hosted: dict[str, str]) -> None:
    first, second = start(client, "/first/"), start(client, "/second/")
    callback = authorize(first)
    assert client.get("/accounts/callback/", callback)["Location"] == "/first/"
    client.post("/accounts/sign-out/")
    callback = authorize(second)
    assert_refused(client.get("/accounts/callback/", callback), "state_mismatch")  # sign-out ended that session


def test_keys_that_cannot_be_fetched_are_a_503_page_and_nothing_signed_in(
    client: Client, hosted: dict[str, str], settings: Any
) -> None:
    from tests.conftest import free_port

    closed = f"http://127.0.0.1:{free_port()}/jwks.json"  # nothing listens there
    settings.COGNITO = {**settings.COGNITO, "JWKS_URL": closed}
    callback = authorize(start(client))
    assert_refused(client.get("/accounts/callback/", callback), "unavailable", 503)
    assert not signed_in(client)


def test_a_token_endpoint_that_never_answers_is_a_503_page(
    client: Client, hosted: dict[str, str], settings: Any
) -> None:
    """A listener that accepts and never answers (injected fault: no stand-in hangs on purpose)."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        settings.COGNITO = {**settings.COGNITO, "DOMAIN": f"http://127.0.0.1:{silent.getsockname()[1]}"}
        settings.COGNITO_HOSTED_UI = {**settings.COGNITO_HOSTED_UI, "TIMEOUT": 0.5}
        state = parse_qs(urlsplit(start(client)).query)["state"][0]
        assert_refused(client.get("/accounts/callback/", {"code": "a-code", "state": state}), "unavailable", 503)
        assert not signed_in(client)
    finally:
        silent.close()


def test_tokens_that_cannot_be_stored_leave_nothing_signed_in(
    client: Client, hosted: dict[str, str], settings: Any
) -> None:
    settings.TOKEN_ENCRYPTION_KEY = "not-a-fernet-key"
    callback = authorize(start(client))
    assert_refused(client.get("/accounts/callback/", callback), "unavailable", 503)
    assert not signed_in(client)
    assert not TokenSet.objects.exists()


def test_sign_in_page_links_to_the_hosted_ui_only_when_a_domain_is_set(
    client: Client, hosted: dict[str, str], settings: Any
) -> None:
    assert "Sign in with the hosted UI" in client.get("/accounts/sign-in/").content.decode()
    settings.COGNITO = {**settings.COGNITO, "DOMAIN": ""}
    assert "Sign in with the hosted UI" not in client.get("/accounts/sign-in/").content.decode()


# --- refusals: a page with a message and a way back, 400-class, nothing signed in --------------------------------


def test_forged_state_is_refused(client: Client, hosted: dict[str, str]) -> None:
    callback = authorize(start(client))
    response = client.get("/accounts/callback/", {**callback, "state": "forged-state"})
    assert_refused(response, "state_mismatch")
    assert not signed_in(client)


def test_reused_state_is_refused(client: Client, hosted: dict[str, str]) -> None:
    callback = authorize(start(client))
    assert client.get("/accounts/callback/", callback).status_code == 302
    again = client.get("/accounts/callback/", callback)  # same browser, same session: the state was used up
    assert_refused(again, "state_mismatch")
    client.post("/accounts/sign-out/")
    assert not signed_in(client)
    assert_refused(client.get("/accounts/callback/", callback), "state_mismatch")
    assert not signed_in(client)


def test_state_of_another_browser_is_refused(client: Client, hosted: dict[str, str]) -> None:
    callback = authorize(start(client))
    other = Client()
    assert_refused(other.get("/accounts/callback/", callback), "state_mismatch")
    assert not signed_in(other)


def test_missing_code_is_refused(client: Client, hosted: dict[str, str]) -> None:
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    assert_refused(client.get("/accounts/callback/", {"state": state}), "code_missing")
    assert not signed_in(client)


def test_code_already_used_is_refused(client: Client, hosted: dict[str, str]) -> None:
    # The same code with a new state of this session: cognito-local consumed it at the first exchange.
    first = authorize(start(client))
    assert client.get("/accounts/callback/", first).status_code == 302
    client.post("/accounts/sign-out/")
    assert not signed_in(client)
    second_state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get("/accounts/callback/", {"code": first["code"], "state": second_state})
    assert_refused(response, "code_rejected")
    assert not signed_in(client)


@pytest.mark.parametrize(
    ("error", "code"), [("access_denied", "provider_access_denied"), ("<b>x</b>", "provider_error")]
)
def test_an_error_from_the_provider_is_shown_and_nothing_signed_in(
    client: Client, hosted: dict[str, str], error: str, code: str
) -> None:
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get("/accounts/callback/", {"error": error, "error_description": "eyJ-no", "state": state})
    assert_refused(response, code)
    assert "<b>x</b>" not in response.content.decode()
    assert not signed_in(client)


def _resign(token: str, **changes: Any) -> str:
    from authlib.jose import jwt

    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    pem = json.loads(oauth_front.KEY_FILE.read_text())["pem"]
    return bytes(jwt.encode({"alg": "RS256", "kid": oauth_front.KID}, claims, pem)).decode()


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("nonce", "nonce_mismatch"),
        ("at_hash", "at_hash_mismatch"),
        ("no_nonce_front", "nonce_mismatch"),
        ("signature", "token_invalid"),
        ("expired", "token_invalid"),
        ("other_client", "token_invalid"),
    ],
)
def test_a_token_failing_verification_is_refused(
    client: Client, hosted: dict[str, str], monkeypatch: pytest.MonkeyPatch, tamper: str, code: str
) -> None:
    """The token endpoint's answer is altered on its way back (the front's re-signing, with the stand-in's key)."""
    original = oauth_front.NonceFront.resign

    def altered(self: oauth_front.NonceFront, id_token: str, access_token: str, nonce: str) -> str:
        good = original(self, id_token, access_token, nonce)
        if tamper == "nonce":
            return _resign(good, nonce="another-nonce")
        if tamper == "at_hash":
            return _resign(good, at_hash=oauth_front.half_hash("another access token"))
        if tamper == "no_nonce_front":
            return id_token  # what cognito-local itself returns: no nonce at all
        if tamper == "other_client":  # another client the site trusts, but not the hosted UI's
            from django.conf import settings

            return _resign(good, aud=settings.COGNITO["APP_CLIENT_ID"])
        if tamper == "signature":
            head, body, sig = good.split(".")
            tail = "BBBB" if sig.endswith("AAAA") else "AAAA"  # always a change
            return f"{head}.{body}.{sig[:-4]}{tail}"
        return _resign(good, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)

    monkeypatch.setattr(oauth_front.NonceFront, "resign", altered)
    callback = authorize(start(client))
    assert_refused(client.get("/accounts/callback/", callback), code)
    assert not signed_in(client)
    assert not TokenSet.objects.exists()


def test_hosted_pages_without_a_domain_are_a_404_page(client: Client, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "DOMAIN": ""}
    assert_refused(client.get("/accounts/hosted/"), "not_configured", 404)
    assert_refused(client.get("/accounts/callback/", {"code": "x", "state": "y"}), "not_configured", 404)


# --- sign-out -------------------------------------------------------------------------------------------------


def test_sign_out_revokes_the_refresh_token_and_goes_through_the_hosted_logout(
    client: Client, hosted: dict[str, str]
) -> None:
    from accounts import token_store

    callback = authorize(start(client))
    assert client.get("/accounts/callback/", callback).status_code == 302
    refresh_token = token_store.read(TokenSet.objects.get()).refresh_token
    refresh = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": hosted["client_id"]}
    assert requests.post(f"{hosted['front']}/oauth2/token", data=refresh, timeout=10).status_code == 200

    response = client.post("/accounts/sign-out/")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{hosted['front']}/logout"
    assert parse_qs(location.query) == {"client_id": [hosted["client_id"]], "logout_uri": ["http://testserver/"]}
    assert not signed_in(client)
    assert not TokenSet.objects.exists()
    # cognito-local has no /logout (the redirect is as far as it can be tested); RevokeToken it has:
    assert requests.post(f"{hosted['front']}/oauth2/token", data=refresh, timeout=10).status_code == 400


def test_sign_out_of_a_password_session_revokes_its_refresh_token(
    client: Client, hosted: dict[str, str], local_pool: LocalPool
) -> None:
    from accounts import token_store

    assert client.post("/accounts/sign-in/", {"username": "hana", "password": DEFAULT_PASSWORD}).status_code == 302
    refresh_token = token_store.read(TokenSet.objects.get()).refresh_token
    client.post("/accounts/sign-out/")
    with pytest.raises(local_pool.idp.exceptions.NotAuthorizedException):
        local_pool.idp.initiate_auth(
            ClientId=local_pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )


def test_after_sign_out_the_session_s_access_token_is_refused_here_at_once(client: Client, cognito_user: Any) -> None:
    """moto's tokens carry origin_jti (cognito-local's do not): the sign-out refuses that token family at once.
    moto has no RevokeToken (HTTP 500): the page still signs out, and says nothing of it."""
    from rest_framework.test import APIClient

    from accounts import token_store

    response = client.post("/accounts/sign-in/", {"username": cognito_user.username, "password": cognito_user.password})
    assert response.status_code == 302
    access_token = token_store.read(TokenSet.objects.get()).access_token
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert api.get("/api/auth/me/").status_code == 200
    assert client.post("/accounts/sign-out/").status_code == 302
    assert not signed_in(client)
    assert api.get("/api/auth/me/").status_code == 401


def test_sign_out_of_a_password_session_does_not_go_to_the_hosted_ui(client: Client, hosted: dict[str, str]) -> None:
    response = client.post("/accounts/sign-in/", {"username": "hana", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302 and signed_in(client)
    response = client.post("/accounts/sign-out/")
    assert response["Location"] == "/"


# --- end to end in Chromium -----------------------------------------------------------------------------------


def shot(page: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_hosted_ui_sign_in_and_out_in_chromium(
    live_server: Any, browser_page: Any, settings: Any, local_pool: LocalPool, front: str
) -> None:
    local_pool.create_user("hana")
    client_id = configure(settings, local_pool, front, [f"{live_server.url}/accounts/callback/"])
    page = browser_page
    page.goto(f"{live_server.url}/accounts/sign-in/?next=/accounts/sign-in/%3Fdone%3D1")
    shot(page, "1-sign-in-page")
    page.click("#hosted-ui")
    page.wait_for_url(f"{front}/oauth2/authorize?**")
    shot(page, "2-hosted-ui-form")
    page.fill("input[name=username]", "hana")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/accounts/sign-in/?done=1")
    shot(page, "3-signed-in")
    assert "Signed in as hana" in page.content()
    token_set = TokenSet.objects.get()
    assert token_set.username == "hana"
    cookies = page.context.cookies()
    assert not any(has_jwt(c["value"]) for c in cookies)
    assert not has_jwt(page.content())
    # Sign out with the page's button: the session ends, the refresh token is revoked and the browser goes to
    # the hosted UI's /logout (cognito-local has none: its 404 page is where the browser lands).
    page.click("text=Sign out")
    page.wait_for_url(f"{front}/logout?**")
    shot(page, "4-hosted-logout-redirect")
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"client_id": [client_id], "logout_uri": [f"{live_server.url}/"]}
    assert not TokenSet.objects.exists()
    page.goto(f"{live_server.url}/dashboard/")
    assert page.url.startswith(f"{live_server.url}/accounts/sign-in/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_error_page_in_chromium_has_a_way_back(
    live_server: Any, browser_page: Any, settings: Any, local_pool: LocalPool, front: str
) -> None:
    configure(settings, local_pool, front, [f"{live_server.url}/accounts/callback/"])
    page = browser_page
    page.goto(f"{live_server.url}/accounts/callback/?error=access_denied&state=forged")
    shot(page, "5-error-page")
    assert "cancelled or refused" in page.locator("#hosted-error").inner_text()
    page.click("#back")
    page.wait_for_url(f"{live_server.url}/accounts/sign-in/")


def test_artefacts_dir_is_git_ignored() -> None:
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "test-artefacts/" in ignore
    assert Path(ARTEFACTS).is_relative_to(ROOT / "test-artefacts")


# --- the local AWS: `localaws up --hosted-ui` -----------------------------------------------------------------


def test_localaws_hosted_ui_setup_lets_the_demo_user_sign_in(
    client: Client, settings: Any, cognito_local: CognitoLocal, front: str, aws: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from localaws import stack

    env = stack.provision_hosted_ui(cognito_local.url, front)
    assert stack.provision_hosted_ui(cognito_local.url, front) == env  # twice: the same pool and client
    assert env["COGNITO_DOMAIN"] == front
    assert env["COGNITO_HOSTED_UI_LOGOUT"] == "false"  # cognito-local has no /logout
    # The .env it writes passes `manage.py check` (the cognito-local pool in COGNITO_POOLS is accepted).
    dotenv = tmp_path / ".env"
    main_pool = {
        "COGNITO_USER_POOL_ID": "us-east-1_Demo1",
        "COGNITO_APP_CLIENT_ID": "web",
        "COGNITO_REGION": "us-east-1",
    }
    stack.write_dotenv({**main_pool, **env}, dotenv)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COGNITO_", "DJANGO_"))}
    check = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DOTENV_FILE": str(dotenv)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # And the site configured from it signs the demo user in through the hosted UI (callback as registered).
    settings.COGNITO_AWS = {**settings.COGNITO_AWS, "ENDPOINT_URLS": {"cognito-idp": cognito_local.url}}
    settings.COGNITO = {**settings.COGNITO, "DOMAIN": env["COGNITO_DOMAIN"], "POOLS": json.loads(env["COGNITO_POOLS"])}
    settings.COGNITO_HOSTED_UI = {"CLIENT_ID": env["COGNITO_HOSTED_UI_CLIENT_ID"], "LOGOUT_THROUGH_HOSTED_UI": False}
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    url = client.get("/accounts/hosted/", SERVER_NAME="127.0.0.1", SERVER_PORT="8000")["Location"]
    callback = authorize(
        url, stack.DEMO_USERNAME, stack.DEMO_PASSWORD, expect="http://127.0.0.1:8000/accounts/callback/"
    )
    response = client.get("/accounts/callback/", callback, SERVER_NAME="127.0.0.1", SERVER_PORT="8000")
    assert response.status_code == 302, response.content.decode()
    assert signed_in(client)
    assert client.post("/accounts/sign-out/", SERVER_NAME="127.0.0.1", SERVER_PORT="8000")["Location"] == "/"


def test_localaws_up_hosted_ui_starts_cognito_local_and_the_front_and_writes_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cognito_local: CognitoLocal
) -> None:
    """The command a newcomer runs (bin/run passes --hosted-ui when cognito-local is installed), real processes."""
    from io import StringIO

    from django.core.management import call_command

    from localaws import stack
    from tests.conftest import free_port

    monkeypatch.setattr(stack, "STATE_DIR", tmp_path)
    monkeypatch.setattr(stack, "DOTENV", tmp_path / ".env")
    write = stack.write_dotenv  # its default path was bound at import: the repository's .env must stay as it is
    monkeypatch.setattr(stack, "write_dotenv", lambda updates, path=tmp_path / ".env": write(updates, path))
    monkeypatch.setenv("LOCALAWS_COGNITO_LOCAL_PORT", str(free_port()))
    monkeypatch.setenv("LOCALAWS_OAUTH_FRONT_PORT", str(free_port()))
    out = StringIO()
    try:
        call_command("localaws", "up", "--hosted-ui", "--port", str(free_port()), stdout=out)
        written = stack.read_dotenv(tmp_path / ".env")
        front = stack.oauth_front_process(stack.cognito_local_process().url)
        assert front.running()
        assert written["COGNITO_DOMAIN"] == front.url
        assert written["COGNITO_HOSTED_UI_CLIENT_ID"]
        assert json.loads(written["COGNITO_POOLS"])[0]["USER_POOL_ID"].startswith("local_")
        form = requests.get(
            f"{front.url}/oauth2/authorize",
            params={
                "client_id": written["COGNITO_HOSTED_UI_CLIENT_ID"],
                "redirect_uri": stack.CALLBACK_URLS[0],
                "response_type": "code",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
            timeout=10,
        )
        assert form.status_code == 200 and 'name="password"' in form.text
    finally:
        call_command("localaws", "down", stdout=out)
    assert "oauth-front stopped" in out.getvalue()


def test_request_lines_in_the_logs_carry_no_code_or_state() -> None:
    """The development server logs each request line, query included: the console handler blanks OAuth values."""
    import io

    handler = next(h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler)
    stream = io.StringIO()
    original = handler.setStream(stream)
    try:
        logging.getLogger("django.server").warning(
            '"%s" %s %s', "GET /accounts/callback/?code=c0de-value&state=st4te-value HTTP/1.1", "302", "0"
        )
    finally:
        handler.setStream(original)
    line = stream.getvalue()
    assert "/accounts/callback/?code=[redacted]&state=[redacted]" in line
    assert "c0de-value" not in line and "st4te-value" not in line


# --- the refresh of a hosted-UI session -------------------------------------------------------------------------


def test_a_hosted_ui_session_is_refreshed_with_the_hosted_ui_s_app_client(
    client: Client, hosted: dict[str, str], local_pool: LocalPool
) -> None:
    """The hosted UI's app client is not COGNITO["APP_CLIENT_ID"]: its refresh token is refreshed with its own
    client id (captured at botocore's ``before-send`` of the client the refresh uses) and cognito-local answers."""
    from datetime import UTC, datetime, timedelta

    from accounts import token_store
    from cognito_backend.clients import get_client

    assert hosted["client_id"] != local_pool.client_id
    assert client.get("/accounts/callback/", authorize(start(client))).status_code == 302
    row = TokenSet.objects.get()
    assert row.client_id == hosted["client_id"]
    TokenSet.objects.filter(pk=row.pk).update(expires_at=datetime.now(UTC) + timedelta(seconds=30))
    sent: list[dict[str, Any]] = []

    def capture(request: Any, **kwargs: Any) -> None:
        body = json.loads(request.body or b"{}")
        if body.get("AuthFlow") == "REFRESH_TOKEN_AUTH":
            sent.append(body)

    event = "before-send.cognito-identity-provider.InitiateAuth"
    events = get_client("cognito-idp", max_attempts=1).meta.events
    events.register(event, capture)
    try:
        page = client.get("/accounts/profile/")
    finally:
        events.unregister(event, capture)

    assert page.status_code == 200 and signed_in(client)
    assert [body["ClientId"] for body in sent] == [hosted["client_id"]]
    fresh = TokenSet.objects.get()
    assert fresh.version == 2 and fresh.expires_at > datetime.now(UTC) + timedelta(minutes=30)
    assert token_store.read(fresh).access_token != token_store.read(row).access_token
