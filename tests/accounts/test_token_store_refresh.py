"""The refresh of stored tokens: with the app client that issued them, retried with backoff and jitter while
Cognito throttles or cannot be reached (the old tokens serve meanwhile), and a refusal ends the session with the
reason recorded (``EndedSession``, read-only in the admin, purged with the books).

moto throttles nothing and is never unreachable: those faults are injected at botocore's ``before-send`` hook
of the client the refresh uses (``max_attempts=1``: our retries are the only ones), which also captures what the
refresh sends. moto does check the SECRET_HASH of a refresh, so a refresh with the wrong client's hash fails.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.exceptions import EndpointConnectionError
from django.contrib.auth import get_user_model
from django.test import Client

from accounts import token_store
from accounts.models import EndedSession, TokenSet
from accounts.tasks import purge_ended_sessions, refresh_token_sets
from cognito_backend import exceptions as exc
from cognito_backend.clients import get_client
from cognito_backend.tokens import verify_token
from tests.conftest import CognitoFactory, CognitoUser, UserPool, secret_hash

pytestmark = pytest.mark.django_db

EVENT = "before-send.cognito-identity-provider.InitiateAuth"


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.data


def throttled() -> AWSResponse:
    """Cognito's answer over the quota (TooManyRequestsException, Retry-After: 1)."""
    headers = HeadersDict(
        {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "TooManyRequestsException"}
    )
    headers["Retry-After"] = "1"
    body = json.dumps({"__type": "TooManyRequestsException", "message": "Rate exceeded"}).encode()
    return AWSResponse("https://cognito-idp.invalid/", 400, headers, _Raw(body))


class Refreshes:
    """The REFRESH_TOKEN_AUTH calls the refresh sends (their parameters), the first ``faults`` of them failed."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.faults: list[Callable[[], AWSResponse | None]] = []
        self.clients: list[Any] = []

    def attach(self) -> None:
        """Listen on the client the refresh goes through (a settings change builds a new one)."""
        client = get_client("cognito-idp", max_attempts=1)
        client.meta.events.register(EVENT, self)
        self.clients.append(client)

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        body = json.loads(request.body or b"{}")
        if body.get("AuthFlow") != "REFRESH_TOKEN_AUTH":
            return None
        self.sent.append(body)
        if len(self.sent) <= len(self.faults):
            return self.faults[len(self.sent) - 1]()
        return None


def disabled() -> AWSResponse:
    """Cognito's answer to a refresh of a disabled user (moto refreshes a disabled user's tokens regardless)."""
    headers = HeadersDict({"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "NotAuthorizedException"})
    body = json.dumps({"__type": "NotAuthorizedException", "message": "User is disabled."}).encode()
    return AWSResponse("https://cognito-idp.invalid/", 400, headers, _Raw(body))


def unreachable() -> AWSResponse | None:
    raise EndpointConnectionError(endpoint_url="https://cognito-idp.invalid/")


@pytest.fixture
def refreshes(settings: Any, cognito_user: CognitoUser) -> Iterator[Refreshes]:
    settings.TOKEN_REFRESH_BACKOFF = 0.05
    recorder = Refreshes()
    recorder.attach()
    yield recorder
    for client in recorder.clients:
        client.meta.events.unregister(EVENT, recorder)


def stored(user: Any, cognito_user: CognitoUser, *, expires_in: float, client_id: str = "") -> TokenSet:
    tokens = cognito_user.tokens
    return TokenSet.objects.create(
        user=user,
        sub=cognito_user.sub,
        username=cognito_user.username,
        client_id=client_id,
        ciphertext=token_store._encrypt(tokens.id_token, tokens.access_token, tokens.refresh_token),
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )


def local_user() -> Any:
    return get_user_model().objects.create(username="alice")


# --- the app client that issued the tokens --------------------------------------------------------------------


def test_a_refresh_goes_to_the_app_client_that_issued_the_tokens_with_its_secret_hash(
    settings: Any, cognito: CognitoFactory, user_pool: UserPool, cognito_user: CognitoUser, refreshes: Refreshes
) -> None:
    """The hosted UI's own app client (with a secret) beside the site's (without one): moto checks the hash."""
    hosted_id, hosted_secret = cognito.create_client(user_pool.pool_id, secret=True, name="hosted")
    settings.COGNITO = {**settings.COGNITO, "APP_CLIENT_IDS": [hosted_id]}
    settings.COGNITO_HOSTED_UI = {"CLIENT_ID": hosted_id, "CLIENT_SECRET": hosted_secret}
    refreshes.attach()
    hosted_pool = UserPool(user_pool.pool_id, hosted_id, user_pool.endpoint, hosted_secret)
    cognito_user.tokens = cognito.sign_in(hosted_pool, cognito_user.username, cognito_user.password)
    row = stored(local_user(), cognito_user, expires_in=60, client_id=hosted_id)

    fresh = token_store.refresh_if_needed(row)

    (sent,) = refreshes.sent
    assert sent["ClientId"] == hosted_id
    expected_hash = secret_hash(cognito_user.username, hosted_id, hosted_secret)
    assert sent["AuthParameters"]["SECRET_HASH"] == expected_hash
    assert TokenSet.objects.get().version == 2
    assert verify_token(fresh.id_token, token_use=["id"]).get("aud") == hosted_id


def test_a_token_set_of_the_site_s_own_client_refreshes_with_it(
    user_pool: UserPool, cognito_user: CognitoUser, refreshes: Refreshes
) -> None:
    token_store.refresh_if_needed(stored(local_user(), cognito_user, expires_in=60))
    assert [sent["ClientId"] for sent in refreshes.sent] == [user_pool.client_id]
    assert "SECRET_HASH" not in refreshes.sent[0]["AuthParameters"]


def test_a_refresh_writes_the_row_twice_taking_the_lease_and_storing_the_tokens_with_its_release(
    cognito_user: CognitoUser, refreshes: Refreshes
) -> None:
    """SQLite has one writer: each write a refresh saves is time the other workers do not wait (bench_refresh)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    row = stored(local_user(), cognito_user, expires_in=60)
    with CaptureQueriesContext(connection) as queries:
        token_store.refresh_if_needed(row)
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]
    assert len(writes) == 2
    row.refresh_from_db()
    assert row.version == 2 and row.lease_until is None and row.lease_owner == ""


# --- throttling and outages: retried with backoff and jitter ----------------------------------------------------


@pytest.mark.parametrize("fault", [throttled, unreachable], ids=["throttled", "unreachable"])
def test_a_throttled_or_unreachable_refresh_is_retried_with_backoff_until_it_succeeds(
    cognito_user: CognitoUser, refreshes: Refreshes, caplog: pytest.LogCaptureFixture, fault: Any
) -> None:
    caplog.set_level(logging.INFO, logger="accounts.token_store")
    refreshes.faults = [fault, fault]
    row = stored(local_user(), cognito_user, expires_in=60)

    token_store.refresh_if_needed(row)

    assert len(refreshes.sent) == 3  # two faults, then the answer; no retry underneath ours
    assert TokenSet.objects.get().version == 2
    waits = [float(w) for w in re.findall(r"again in ([0-9.]+) s", caplog.text)]
    assert len(waits) == 2
    if fault is throttled:
        assert all(wait >= 1.0 for wait in waits)  # never sooner than Cognito's Retry-After
    else:
        assert 0 <= waits[0] <= 0.05 and 0 <= waits[1] <= 0.1  # full jitter under the doubling bound


def test_a_refresh_that_keeps_failing_keeps_the_valid_old_tokens_after_the_configured_attempts(
    settings: Any, cognito_user: CognitoUser, refreshes: Refreshes
) -> None:
    settings.TOKEN_REFRESH_ATTEMPTS = 4
    refreshes.faults = [unreachable] * 10
    row = stored(local_user(), cognito_user, expires_in=60)

    tokens = token_store.refresh_if_needed(row)

    assert len(refreshes.sent) == 4
    assert tokens.access_token == cognito_user.tokens.access_token
    row.refresh_from_db()
    assert row.version == 1 and row.lease_until is None
    assert not EndedSession.objects.exists()


def test_a_refresh_that_keeps_failing_with_expired_tokens_raises(
    cognito_user: CognitoUser, refreshes: Refreshes
) -> None:
    refreshes.faults = [unreachable] * 10
    row = stored(local_user(), cognito_user, expires_in=-5)
    with pytest.raises(exc.ServiceUnavailable):
        token_store.refresh_if_needed(row)
    assert TokenSet.objects.filter(pk=row.pk).exists()  # kept for the next try; nothing ended


def test_a_batch_meeting_an_outage_leaves_the_rest_for_the_next_round_after_one_set_s_retries(
    cognito_user: CognitoUser, refreshes: Refreshes
) -> None:
    refreshes.faults = [unreachable] * 30
    user = local_user()
    rows = [stored(user, cognito_user, expires_in=60) for _ in range(4)]

    counts = refresh_token_sets([str(row.pk) for row in rows])

    assert counts == {"refreshed": 0, "current": 0, "ended": 0, "failed": 4}
    assert len(refreshes.sent) == 3  # one set's attempts, not every set's
    assert set(TokenSet.objects.values_list("version", flat=True)) == {1}  # all kept for the next round


# --- a refusal ends the session, and the reason is recorded ------------------------------------------------------


def sign_in_page(client: Client, cognito_user: CognitoUser) -> TokenSet:
    response = client.post("/accounts/sign-in/", {"username": cognito_user.username, "password": cognito_user.password})
    assert response.status_code == 302, response.content
    return TokenSet.objects.get()


def test_a_page_whose_refresh_cognito_refuses_ends_the_session_and_records_why(
    client: Client, cognito: CognitoFactory, cognito_user: CognitoUser
) -> None:
    row = sign_in_page(client, cognito_user)
    TokenSet.objects.filter(pk=row.pk).update(expires_at=datetime.now(UTC) + timedelta(seconds=30))
    cognito.idp.admin_user_global_sign_out(UserPoolId=cognito_user.pool_id, Username=cognito_user.username)

    response = client.get("/accounts/profile/")

    assert response.status_code == 302 and "/accounts/sign-in/" in response["Location"]
    assert "_auth_user_id" not in client.session
    ended = EndedSession.objects.get()
    assert (ended.reason, ended.source, ended.sub, ended.username) == (
        "refresh_refused",
        "page",
        cognito_user.sub,
        cognito_user.username,
    )
    assert ended.user_id == row.user_id and ended.token_set == str(row.pk)
    assert not TokenSet.objects.exists()


def test_a_disabled_user_s_refresh_is_recorded_as_user_disabled(
    client: Client, cognito_user: CognitoUser, refreshes: Refreshes
) -> None:
    row = sign_in_page(client, cognito_user)
    TokenSet.objects.filter(pk=row.pk).update(expires_at=datetime.now(UTC) + timedelta(seconds=30))
    refreshes.faults = [disabled]

    assert client.get("/accounts/profile/").status_code == 302

    assert list(EndedSession.objects.values_list("reason", flat=True)) == ["user_disabled"]


def test_ended_sessions_are_listed_read_only_in_the_admin(client: Client, cognito_user: CognitoUser) -> None:
    user = local_user()
    ended = token_store.record_ended(
        stored(user, cognito_user, expires_in=60), EndedSession.Reason.REFRESH_REFUSED, source="worker"
    )
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)

    listing = client.get("/admin/accounts/endedsession/")
    assert listing.status_code == 200
    assert cognito_user.sub in listing.content.decode()
    detail = client.get(f"/admin/accounts/endedsession/{ended.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # view only
    assert client.get("/admin/accounts/endedsession/add/").status_code == 403
    assert client.post(f"/admin/accounts/endedsession/{ended.pk}/delete/", {"post": "yes"}).status_code == 403
    assert EndedSession.objects.filter(pk=ended.pk).exists()


def test_records_of_ended_sessions_are_purged_after_the_retention(settings: Any) -> None:
    settings.ENDED_SESSION_RETENTION_DAYS = 30
    old = EndedSession.objects.create(sub="old", reason="refresh_refused", source="worker")
    EndedSession.objects.filter(pk=old.pk).update(ended=datetime.now(UTC) - timedelta(days=31))
    recent = EndedSession.objects.create(sub="recent", reason="refresh_refused", source="worker")

    assert purge_ended_sessions() == 1
    assert purge_ended_sessions() == 0
    assert list(EndedSession.objects.values_list("pk", flat=True)) == [recent.pk]
