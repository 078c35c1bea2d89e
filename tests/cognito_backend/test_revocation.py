"""Revocation: recorded revocations are honoured at once; the online mode catches sign-outs done at Cognito.

Faults Cognito cannot be made to produce (an outage during the online check) are injected on botocore's event
system (``before-send``), as ../shared/LOCAL_AWS.md describes; GetUser calls are counted the same way.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from django.core.cache import cache
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from cognito_backend import revocation
from cognito_backend.authentication import CognitoAuthentication
from cognito_backend.clients import get_client
from cognito_backend.conf import cognito_settings
from cognito_backend.models import RevokedTokenFamily, UserRevocation
from tests.conftest import CognitoFactory, CognitoUser, UserPool

pytestmark = pytest.mark.django_db

ME = "/api/auth/me/"


def me(token: str) -> Any:
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")


def next_second() -> None:
    """Cognito's times are whole seconds; a sign-in in the second of a revocation is refused by design."""
    time.sleep(1.05 - (time.time() % 1))


def online_client() -> Any:
    """The very client the online check uses (same settings key in the one boto3 seam)."""
    return get_client(
        "cognito-idp", read_timeout=float(cognito_settings.ONLINE_CHECK_TIMEOUT), max_attempts=1, region="us-east-1"
    )


def count_get_user() -> list[int]:
    calls = [0]

    def handler(**kwargs: Any) -> None:
        calls[0] += 1

    online_client().meta.events.register("before-call.cognito-idp.GetUser", handler)
    return calls


def test_revoking_a_user_refuses_their_current_tokens(cognito_user: CognitoUser) -> None:
    assert me(cognito_user.tokens.access_token).status_code == 200
    revocation.revoke_user_tokens(cognito_user.sub, reason="global_sign_out")
    for token in (cognito_user.tokens.access_token, cognito_user.tokens.id_token):
        response = me(token)
        assert response.status_code == 401
        assert response.json()["code"] == "token_revoked"


def test_revoking_by_local_user_works_too(cognito_user: CognitoUser) -> None:
    from django.contrib.auth import get_user_model

    me(cognito_user.tokens.access_token)
    revocation.revoke_user_tokens(get_user_model().objects.get(username="alice"), reason="password_change")
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"
    assert UserRevocation.objects.get().reason == "password_change"


def test_tokens_of_a_later_sign_in_pass(
    cognito: CognitoFactory, user_pool: UserPool, cognito_user: CognitoUser
) -> None:
    revocation.revoke_user_tokens(cognito_user.sub)
    next_second()
    fresh = cognito.sign_in(user_pool, "alice", cognito_user.password)
    assert me(fresh.access_token).status_code == 200
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"


def test_an_older_revocation_does_not_move_not_valid_before_back(cognito_user: CognitoUser) -> None:
    revocation.revoke_user_tokens(cognito_user.sub)
    revocation.revoke_user_tokens(cognito_user.sub, at=datetime(2000, 1, 1, tzinfo=UTC))
    assert UserRevocation.objects.get().not_valid_before.year > 2000


def test_revoking_a_token_family_refuses_only_that_family(
    cognito: CognitoFactory, user_pool: UserPool, cognito_user: CognitoUser
) -> None:
    other_device = cognito.sign_in(user_pool, "alice", cognito_user.password)
    from cognito_backend.tokens import verify_token

    origin_jti = verify_token(cognito_user.tokens.access_token).origin_jti
    revocation.revoke_token_family(origin_jti, sub=cognito_user.sub, reason="sign_out")
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"
    assert me(cognito_user.tokens.id_token).json()["code"] == "token_revoked"
    assert me(other_device.access_token).status_code == 200


def test_purge_removes_only_expired_families() -> None:
    revocation.revoke_token_family("old", expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    revocation.revoke_token_family("current")
    assert revocation.purge_expired() == 1
    assert list(RevokedTokenFamily.objects.values_list("origin_jti", flat=True)) == ["current"]


def wait_for_refusal(token: str, within: float) -> float:
    """Seconds until ``token`` is refused; fails after ``within`` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if me(token).status_code == 401:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"still accepted after {within}s")


def test_revocation_written_by_another_process_is_honoured_within_the_memo_ttl(
    cognito_user: CognitoUser, settings: Any
) -> None:
    """Another process writes the database: nothing here is told; the memo's answer expires."""
    settings.COGNITO = {**settings.COGNITO, "REVOCATION_MEMO_SECONDS": 1.0}
    assert me(cognito_user.tokens.access_token).status_code == 200
    assert me(cognito_user.tokens.access_token).status_code == 200  # remembered now
    UserRevocation.objects.create(sub=cognito_user.sub, not_valid_before=datetime.now(UTC))
    assert wait_for_refusal(cognito_user.tokens.access_token, within=5) <= 1.0 + 1.0  # TTL + a slow request
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"


def test_default_setup_answers_from_memory_within_the_ttl(cognito_user: CognitoUser, settings: Any) -> None:
    """The per-process default (locmem, no bus): repeated requests cost no query at all (revocation state and,
    under the memo's user version, the user come from memory)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.COGNITO = {**settings.COGNITO, "REVOCATION_MEMO_SECONDS": 60}  # no expiry on a slow machine
    me(cognito_user.tokens.access_token)
    me(cognito_user.tokens.access_token)
    with CaptureQueriesContext(connection) as queries:
        assert me(cognito_user.tokens.access_token).status_code == 200
    assert [q["sql"] for q in queries.captured_queries] == []


def test_revocation_through_a_shared_cache_is_honoured_within_the_memo_ttl(
    cognito_user: CognitoUser, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "SHARED_CACHE": True, "REVOCATION_MEMO_SECONDS": 1.0}
    assert me(cognito_user.tokens.access_token).status_code == 200
    assert me(cognito_user.tokens.access_token).status_code == 200  # now answered from the caches
    # What revoke_user_tokens in another process leaves behind: the row and the cache entry.
    UserRevocation.objects.create(sub=cognito_user.sub, not_valid_before=datetime.now(UTC))
    cache.set(revocation.SUB_PREFIX + cognito_user.sub, time.time())
    assert wait_for_refusal(cognito_user.tokens.access_token, within=5) <= 1.0 + 1.0  # TTL + a slow request


def test_user_disabled_and_revoked_by_the_site_is_refused(cognito: CognitoFactory, cognito_user: CognitoUser) -> None:
    cognito.idp.admin_disable_user(UserPoolId=cognito_user.pool_id, Username="alice")
    revocation.revoke_user_tokens(cognito_user.sub, reason="disabled")
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"


# --- online mode -----------------------------------------------------------------------------------------------


def test_offline_mode_cannot_see_a_sign_out_done_at_cognito(cognito: CognitoFactory, cognito_user: CognitoUser) -> None:
    """The limitation the online mode exists for: the default trusts the signature until ``exp``."""
    cognito.idp.global_sign_out(AccessToken=cognito_user.tokens.access_token)
    assert me(cognito_user.tokens.access_token).status_code == 200


def test_online_mode_refuses_a_token_signed_out_at_cognito(
    cognito: CognitoFactory, cognito_user: CognitoUser, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True}
    assert me(cognito_user.tokens.access_token).status_code == 200
    cache.clear()
    revocation._online_memo.clear()
    cognito.idp.global_sign_out(AccessToken=cognito_user.tokens.access_token)
    response = me(cognito_user.tokens.access_token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    # Recorded: the user's id token (which GetUser cannot check) is refused offline from now on.
    assert UserRevocation.objects.filter(sub=cognito_user.sub).exists()
    assert me(cognito_user.tokens.id_token).json()["code"] == "token_revoked"


def test_online_mode_refuses_a_user_disabled_at_cognito(
    cognito: CognitoFactory, cognito_user: CognitoUser, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True}
    cognito.idp.admin_disable_user(UserPoolId=cognito_user.pool_id, Username="alice")
    assert me(cognito_user.tokens.access_token).json()["code"] == "token_revoked"


def test_online_check_asks_cognito_at_most_once_per_interval(cognito_user: CognitoUser, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True}
    calls = count_get_user()
    for _ in range(5):
        assert me(cognito_user.tokens.access_token).status_code == 200
    assert calls[0] == 1


def test_online_answer_is_shared_through_the_django_cache(cognito_user: CognitoUser, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True}
    calls = count_get_user()
    me(cognito_user.tokens.access_token)
    revocation._online_memo.clear()  # a second process: its own memory empty, the shared cache filled
    me(cognito_user.tokens.access_token)
    assert calls[0] == 1


def test_online_check_asks_again_after_the_interval(cognito_user: CognitoUser, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True, "ONLINE_CHECK_INTERVAL": 0}
    calls = count_get_user()
    me(cognito_user.tokens.access_token)
    me(cognito_user.tokens.access_token)
    assert calls[0] == 2


def inject_outage() -> None:
    """Fault injection: GetUser never reaches Cognito (connection refused)."""

    def fail(**kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    online_client().meta.events.register("before-send.cognito-idp.GetUser", fail)


def test_online_mode_fails_open_when_cognito_is_unreachable(
    cognito_user: CognitoUser, settings: Any, caplog: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True, "ONLINE_CHECK_FAIL_OPEN": True}
    inject_outage()
    assert me(cognito_user.tokens.access_token).status_code == 200
    assert "failing open" in caplog.text


def test_online_mode_fails_closed_with_a_503_when_configured(
    cognito_user: CognitoUser, settings: Any, caplog: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "ONLINE_CHECK": True, "ONLINE_CHECK_FAIL_OPEN": False}
    inject_outage()
    response = me(cognito_user.tokens.access_token)
    assert response.status_code == 503
    assert response.json()["code"] == "revocation_check_unavailable"
    assert "failing closed" in caplog.text


class OnlineView(APIView):
    authentication_classes = [CognitoAuthentication]
    cognito_online_check = True

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


def test_a_view_can_ask_for_the_online_check(cognito: CognitoFactory, cognito_user: CognitoUser) -> None:
    cognito.idp.global_sign_out(AccessToken=cognito_user.tokens.access_token)
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {cognito_user.tokens.access_token}")
    response = OnlineView.as_view()(request)
    assert response.status_code == 401
    assert response.data["code"] == "token_revoked"
