"""Identity pool credentials for the signed-in user (moto: GetId and GetCredentialsForIdentity; it does not
validate the Logins map, so the id token is checked by us first)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import Faults, bearer
from tests.conftest import CognitoFactory, CognitoUser, UserPool

URL = "/api/auth/credentials/"


def test_a_signed_in_user_gets_temporary_aws_credentials(
    api: APIClient, cognito_user: CognitoUser, identity_pool: str
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(URL, {"id_token": cognito_user.tokens.id_token}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["identity_id"].startswith("us-east-1:")
    assert body["access_key_id"] and body["secret_key"] and body["session_token"]
    assert body["expiration"]


def test_another_users_id_token_is_refused(
    api: APIClient, cognito: CognitoFactory, cognito_user: CognitoUser, user_pool: UserPool, identity_pool: str
) -> None:
    other = cognito.create_user(user_pool, "mallory")
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(URL, {"id_token": other.tokens.id_token}, format="json")
    assert response.status_code == 400
    assert "id_token" in response.json()["fields"]


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c"], ids=["word", "dots"])
def test_an_invalid_id_token_is_a_400(
    api: APIClient, cognito_user: CognitoUser, identity_pool: str, token: str
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(URL, {"id_token": token}, format="json")
    assert response.status_code == 400
    assert "id_token" in response.json()["fields"]


def test_an_access_token_in_place_of_the_id_token_is_a_400(
    api: APIClient, cognito_user: CognitoUser, identity_pool: str
) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(URL, {"id_token": cognito_user.tokens.access_token}, format="json")
    assert response.status_code == 400


def test_without_an_identity_pool_the_answer_is_502_not_supported(api: APIClient, cognito_user: CognitoUser) -> None:
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(URL, {"id_token": cognito_user.tokens.id_token}, format="json")
    assert response.status_code == 502
    assert response.json()["code"] == "not_supported"


def test_identity_pool_throttling_is_a_429(
    api: APIClient, cognito_user: CognitoUser, identity_pool: str, faults: Faults
) -> None:
    # Injected at before-send on the cognito-identity client: its TooManyRequestsException.
    faults.inject("GetId", "throttled", service="cognito-identity")
    bearer(api, cognito_user.tokens.access_token)
    response = api.post(URL, {"id_token": cognito_user.tokens.id_token}, format="json")
    assert response.status_code == 429
