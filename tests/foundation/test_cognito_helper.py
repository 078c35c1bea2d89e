"""The test helper returns real tokens issued by the stand-in for a confirmed user."""

from __future__ import annotations

from jose import jwt

from tests.conftest import CognitoFactory, CognitoUser, UserPool


def test_helper_user_has_real_tokens_naming_pool_client_and_groups(
    cognito_user: CognitoUser, user_pool: UserPool
) -> None:
    access = jwt.get_unverified_claims(cognito_user.tokens.access_token)
    identity = jwt.get_unverified_claims(cognito_user.tokens.id_token)
    assert access["token_use"] == "access"
    assert access["client_id"] == user_pool.client_id
    assert access["iss"] == user_pool.issuer
    assert identity["aud"] == user_pool.client_id
    assert identity["sub"] == cognito_user.sub
    assert identity["cognito:groups"] == ["users"]
    assert cognito_user.tokens.refresh_token


def test_stand_in_is_reset_between_tests(cognito: CognitoFactory) -> None:
    assert cognito.idp.list_user_pools(MaxResults=10)["UserPools"] == []


def test_client_with_secret_signs_in_with_secret_hash(cognito: CognitoFactory) -> None:
    pool = cognito.create_pool_with_client(secret=True)
    user = cognito.create_user(pool, "bob")
    assert jwt.get_unverified_claims(user.tokens.id_token)["cognito:username"] == "bob"
