"""App clients that rotate refresh tokens: the refresh is GetTokensFromRefreshToken (moto lacks it: answered by an
injected response, the request captured) and the new refresh token replaces the stored one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from accounts import token_store
from accounts.models import TokenSet
from accounts.tasks import refresh_token_sets
from tests.accounts.conftest import Faults, aws_response
from tests.conftest import CognitoFactory, CognitoUser, UserPool

pytestmark = pytest.mark.django_db


def test_a_rotating_client_refreshes_with_get_tokens_from_refresh_token_and_keeps_the_new_refresh_token(
    cognito: CognitoFactory, user_pool: UserPool, cognito_user: CognitoUser, faults: Faults, settings: Any
) -> None:
    settings.ACCOUNTS = {**settings.ACCOUNTS, "REFRESH_TOKEN_ROTATION": True}
    fresh = cognito.sign_in(user_pool, cognito_user.username, cognito_user.password)
    sent: list[dict[str, Any]] = []

    def answer(request: Any) -> Any:
        sent.append(json.loads(request.body))
        result = {"IdToken": fresh.id_token, "AccessToken": fresh.access_token, "RefreshToken": "rotated-token"}
        return aws_response(200, {"AuthenticationResult": {**result, "ExpiresIn": 3600, "TokenType": "Bearer"}})

    faults.inject("GetTokensFromRefreshToken", answer)
    tokens = cognito_user.tokens
    row = TokenSet.objects.create(
        user=get_user_model().objects.create(username="alice"),
        sub=cognito_user.sub,
        username=cognito_user.username,
        ciphertext=token_store._encrypt(tokens.id_token, tokens.access_token, tokens.refresh_token),
        expires_at=datetime.now(UTC) + timedelta(seconds=60),
    )
    assert refresh_token_sets([str(row.pk)])["refreshed"] == 1
    assert sent == [{"RefreshToken": tokens.refresh_token, "ClientId": user_pool.client_id}]
    row.refresh_from_db()
    stored = token_store.read(row)
    assert stored.refresh_token == "rotated-token"
    assert stored.access_token == fresh.access_token
