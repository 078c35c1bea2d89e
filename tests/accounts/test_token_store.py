"""Tokens held server-side: a page sign-in keeps the id, access and refresh tokens in one ``TokenSet`` row,
encrypted (MultiFernet of ``TOKEN_ENCRYPTION_KEY``); nothing token-like is in the row, the session, the cookies or
the page; the keys rotate; the inline refresh asks Cognito once however many requests need it."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from accounts import services, token_store
from accounts.models import TokenSet
from cognito_backend.clients import get_client
from tests.conftest import CognitoFactory, UserPool, has_jwt

PASSWORD = "Str0ng-Passw0rd!"
OLD_KEY = "tL0cQZbQm5N8yqC3bGzJxq2n6x0c7hW3lJ0nq3y8V2c="  # the test settings' key


def sign_in(client: Client, cognito: CognitoFactory, pool: UserPool, username: str = "carol") -> Any:
    cognito.create_user(pool, username, sign_in=False)
    response = client.post("/accounts/sign-in/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return response


def token_fragments(tokens: token_store.StoredTokens) -> list[str]:
    """Every token and every segment of each JWT: none may be found outside the encrypted row."""
    fragments = [tokens.id_token, tokens.access_token, tokens.refresh_token]
    for jwt in (tokens.id_token, tokens.access_token):
        fragments += [part for part in jwt.split(".") if len(part) > 8]
    return fragments


@pytest.mark.django_db
def test_sign_in_keeps_the_tokens_encrypted_server_side_and_none_reaches_the_browser(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    response = sign_in(client, cognito, user_pool)
    page = client.get("/dashboard/")
    (row,) = TokenSet.objects.all()
    tokens = token_store.read(row)
    assert tokens.id_token.count(".") == 2 and tokens.refresh_token
    assert str(row.pk) == client.session[token_store.SESSION_KEY]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_tokenset")
        stored = " ".join(str(value) for value in cursor.fetchone())
    session_data = " ".join(Session.objects.values_list("session_data", flat=True))
    decoded_session = str(dict(client.session.items()))
    browser = " ".join(
        [response.content.decode(), page.content.decode(), *(m.value for m in client.cookies.values())]
        + [f"{k}: {v}" for k, v in list(response.items()) + list(page.items())]
    )
    for fragment in token_fragments(tokens):
        assert fragment not in stored
        assert fragment not in session_data
        assert fragment not in decoded_session
        assert fragment not in browser
    # Decrypting with the configured key gives the tokens back: Fernet, not an encoding.
    assert Fernet(OLD_KEY).decrypt(row.ciphertext.encode())
    assert not has_jwt(base64.urlsafe_b64decode(row.ciphertext.encode() + b"==").decode("latin-1"))


@pytest.mark.django_db
def test_sign_out_deletes_the_sessions_tokens(client: Client, cognito: CognitoFactory, user_pool: UserPool) -> None:
    sign_in(client, cognito, user_pool)
    assert TokenSet.objects.count() == 1
    client.post("/accounts/sign-out/")
    assert TokenSet.objects.count() == 0


@pytest.mark.django_db
def test_key_rotation_reencrypts_every_row_under_the_newest_key(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, settings: Any
) -> None:
    sign_in(client, cognito, user_pool, "carol")
    sign_in(Client(), cognito, user_pool, "dave")
    before = {row.pk: token_store.read(row) for row in TokenSet.objects.all()}
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEY = new_key
    with pytest.raises(token_store.TokenSetUnreadable):  # the new key alone opens nothing yet
        token_store.read(TokenSet.objects.first())  # type: ignore[arg-type]

    settings.TOKEN_ENCRYPTION_KEY = f"{new_key},{OLD_KEY}"
    call_command("rotate_token_encryption_key")

    settings.TOKEN_ENCRYPTION_KEY = new_key  # the old key dropped: every row still opens
    for row in TokenSet.objects.all():
        assert token_store.read(row) == before[row.pk]
        with pytest.raises(InvalidToken):
            Fernet(OLD_KEY).decrypt(row.ciphertext.encode())


@pytest.mark.django_db
def test_key_rotation_names_rows_no_key_opens_and_fails(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, settings: Any, capsys: Any
) -> None:
    sign_in(client, cognito, user_pool)
    row = TokenSet.objects.get()
    settings.TOKEN_ENCRYPTION_KEY = Fernet.generate_key().decode()  # the old key forgotten
    with pytest.raises(CommandError):
        call_command("rotate_token_encryption_key")
    err = capsys.readouterr().err
    assert str(row.pk) in err
    assert row.ciphertext not in err


@pytest.mark.django_db(transaction=True)
def test_tokens_about_to_expire_are_refreshed_once_for_concurrent_callers(
    client: Client, cognito: CognitoFactory, user_pool: UserPool
) -> None:
    sign_in(client, cognito, user_pool)
    row = TokenSet.objects.get()
    old = token_store.read(row)
    # moto's tokens all last an hour: the row is made to expire in 10 s, inside the 300 s refresh margin.
    TokenSet.objects.filter(pk=row.pk).update(expires_at=datetime.now(UTC) + timedelta(seconds=10))
    row.refresh_from_db()
    calls: list[str] = []

    def count(params: Any, **kwargs: Any) -> None:
        if params.get("AuthFlow") == "REFRESH_TOKEN_AUTH":
            calls.append("refresh")

    events = get_client("cognito-idp", max_attempts=1).meta.events  # the refresh's client: no retry underneath
    events.register("provide-client-params.cognito-idp.InitiateAuth", count)
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(token_store.refresh_if_needed(TokenSet.objects.get(pk=row.pk)))
        finally:
            from django.db import connection as thread_connection

            thread_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        events.unregister("provide-client-params.cognito-idp.InitiateAuth", count)
    assert calls == ["refresh"]
    assert len(results) == 4
    assert len({r.id_token for r in results}) == 1
    fresh = TokenSet.objects.get(pk=row.pk)
    assert fresh.version == 2 and fresh.expires_at > datetime.now(UTC) + timedelta(minutes=30)
    assert results[0].refresh_token == old.refresh_token  # moto does not rotate refresh tokens


@pytest.mark.django_db
def test_an_error_report_from_the_token_store_shows_no_token(
    client: Client, cognito: CognitoFactory, user_pool: UserPool, monkeypatch: Any
) -> None:
    from django.views.debug import ExceptionReporter

    sign_in(client, cognito, user_pool)
    row = TokenSet.objects.get()
    tokens = token_store.read(row)
    TokenSet.objects.filter(pk=row.pk).update(expires_at=datetime.now(UTC) + timedelta(seconds=10))

    def broken(refresh_token: str, username: str = "", **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the refresh")  # injected: an unexpected failure while tokens are in hand

    monkeypatch.setattr(services, "refresh", broken)
    with pytest.raises(RuntimeError) as failure:
        token_store.refresh_if_needed(TokenSet.objects.get(pk=row.pk))
    report = ExceptionReporter(None, failure.type, failure.value, failure.tb).get_traceback_html()  # the DEBUG page
    assert "refresh_if_needed" in report
    for fragment in token_fragments(tokens):
        assert fragment not in report
