"""A session signed in on the page invokes caller-credential functions with its stored id token (no bearer token
needed); a stored row that cannot be decrypted signs the session out, logged without its content, never a 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from accounts.models import TokenSet
from dashboard.models import Invocation
from tests.conftest import CognitoFactory, UserPool

pytestmark = pytest.mark.django_db

PASSWORD = "Str0ng-Passw0rd!"


@pytest.fixture
def session(client: Client, cognito: CognitoFactory, user_pool: UserPool) -> Client:
    cognito.create_user(user_pool, "carol", sign_in=False)
    response = client.post("/accounts/sign-in/", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 302
    return client


def invoke(client: Client, name: str, body: str = "{}") -> Any:
    return client.post(f"/api/lambdas/{name}/invoke/", body, content_type="application/json")


def test_a_signed_in_session_invokes_a_caller_credential_function_with_its_stored_id_token(
    session: Client, registry: dict[str, Any], identity_pool: str, lambda_faults: Any
) -> None:
    registry["auth"].credentials = "caller"
    registry["auth"].save()
    lambda_faults.inject_caller(None)  # records the signed request; the stand-in still answers
    response = invoke(session, "auth")
    assert response.status_code == 200, response.content
    row = Invocation.objects.get()
    assert row.credentials == "caller" and row.identity_id.startswith("us-east-1:")
    (request,) = lambda_faults.requests
    assert request.headers["X-Amz-Security-Token"]  # signed with the identity pool's keys for this user


def test_a_corrupted_token_row_signs_the_session_out_without_a_500(
    session: Client, registry: dict[str, Any], identity_pool: str, caplog: Any
) -> None:
    registry["auth"].credentials = "caller"
    registry["auth"].save()
    row = TokenSet.objects.get()
    garbage = row.ciphertext[:40] + ("A" if row.ciphertext[40] != "A" else "B") + row.ciphertext[41:]
    TokenSet.objects.filter(pk=row.pk).update(ciphertext=garbage)
    with caplog.at_level(logging.INFO):
        response = invoke(session, "auth")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert garbage not in response.content.decode()
    assert not TokenSet.objects.exists()
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "cannot be decrypted" in logged
    assert garbage[:60] not in logged and garbage[-60:] not in logged
    assert session.get("/api/auth/me/").status_code == 401  # signed out
    page = session.get("/dashboard/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/sign-in/")


def test_server_credential_functions_still_work_for_the_session(session: Client, registry: dict[str, Any]) -> None:
    assert invoke(session, "thing", '{"action": "LIST"}').status_code == 200


def test_server_credential_functions_do_not_read_the_stored_tokens(session: Client, registry: dict[str, Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert invoke(session, "thing", '{"action": "LIST"}').status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "accounts_tokenset" in q["sql"]]


def test_an_ended_session_calling_a_caller_function_is_audited_as_denied(
    session: Client, registry: dict[str, Any], identity_pool: str
) -> None:
    registry["auth"].credentials = "caller"
    registry["auth"].save()
    TokenSet.objects.update(ciphertext="not-a-fernet-token")
    response = invoke(session, "auth")
    assert response.status_code == 401
    assert response["WWW-Authenticate"]
    row = Invocation.objects.get()
    assert (row.status, row.error_code) == ("denied", "not_authenticated")
