"""Keeping the books (beat's purges) and what the refresh task does with a token set Cognito refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from accounts import token_store
from accounts.models import EndedSession, TokenSet
from accounts.tasks import refresh_token_sets
from cognito_backend.idp import call
from cognito_backend.models import RevokedTokenFamily, UserRevocation
from config.tasks import purge_invocations, purge_revocations, purge_token_sets
from dashboard.models import Invocation
from tests.conftest import CognitoUser

pytestmark = pytest.mark.django_db

LONG_AGO = datetime.now(UTC) - timedelta(days=400)


def token_set(user: Any, cognito_user: CognitoUser, *, expires_in: float) -> TokenSet:
    tokens = cognito_user.tokens
    return TokenSet.objects.create(
        user=user,
        sub=cognito_user.sub,
        username=cognito_user.username,
        ciphertext=token_store._encrypt(tokens.id_token, tokens.access_token, tokens.refresh_token),
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )


def test_purges_delete_only_rows_past_their_lifetime(cognito_user: CognitoUser, settings: Any) -> None:
    settings.INVOCATION_RETENTION_DAYS = 30
    user = get_user_model().objects.create(username="alice")
    UserRevocation.objects.create(sub="old", not_valid_before=LONG_AGO)
    UserRevocation.objects.create(sub="recent", not_valid_before=datetime.now(UTC))
    RevokedTokenFamily.objects.create(origin_jti="gone", expires_at=LONG_AGO)
    RevokedTokenFamily.objects.create(origin_jti="live", expires_at=datetime.now(UTC) + timedelta(days=1))
    old_set = token_set(user, cognito_user, expires_in=-400 * 86400)
    TokenSet.objects.filter(pk=old_set.pk).update(created=LONG_AGO)
    live_set = token_set(user, cognito_user, expires_in=3600)
    old_call = Invocation.objects.create(function_key="f", status="succeeded")
    Invocation.objects.filter(pk=old_call.pk).update(created_at=LONG_AGO)
    recent_call = Invocation.objects.create(function_key="f", status="succeeded")

    assert purge_revocations() == 2
    assert purge_token_sets() == 1
    assert purge_invocations() == 1
    assert list(UserRevocation.objects.values_list("sub", flat=True)) == ["recent"]
    assert list(RevokedTokenFamily.objects.values_list("origin_jti", flat=True)) == ["live"]
    assert list(TokenSet.objects.values_list("pk", flat=True)) == [live_set.pk]
    assert list(Invocation.objects.values_list("pk", flat=True)) == [recent_call.pk]


def test_a_refresh_cognito_refuses_ends_that_session_and_deletes_its_tokens(
    cognito_user: CognitoUser, settings: Any
) -> None:
    user = get_user_model().objects.create(username="alice")
    refused = token_set(user, cognito_user, expires_in=60)
    browser = Client()
    browser.force_login(user)
    session = browser.session
    session[token_store.SESSION_KEY] = str(refused.pk)
    session.save()
    other = Client()
    other.force_login(user)  # a session of the same user without this token set stays
    call("admin_user_global_sign_out", UserPoolId=cognito_user.pool_id, Username=cognito_user.username)

    assert refresh_token_sets([str(refused.pk)]) == {"refreshed": 0, "current": 0, "ended": 1, "failed": 0}
    assert not TokenSet.objects.exists()
    assert list(Session.objects.values_list("session_key", flat=True)) == [other.session.session_key]
    ended = EndedSession.objects.get()  # the reason, durably: who, why, when, where it was met
    assert (ended.user_id, ended.sub, ended.reason, ended.source) == (
        user.pk,
        cognito_user.sub,
        "refresh_refused",
        "worker",
    )
    assert ended.token_set == str(refused.pk)


def test_a_due_token_set_is_refreshed_and_verified_and_a_current_one_left(
    cognito_user: CognitoUser, settings: Any
) -> None:
    user = get_user_model().objects.create(username="alice")
    due = token_set(user, cognito_user, expires_in=60)
    current = token_set(user, cognito_user, expires_in=3000)
    counts = refresh_token_sets([str(due.pk), str(current.pk)])
    assert counts == {"refreshed": 1, "current": 1, "ended": 0, "failed": 0}
    due.refresh_from_db()
    assert due.version == 2 and due.expires_at > datetime.now(UTC) + timedelta(seconds=3000)
