"""The Cloud Connect login (three steps), its page, its renewal and the Python client, on the moto stand-in.

moto runs no Lambda code: AuthLambda's answer is queued as a canned result (its documented shape, with a real id
token of the pool), a refusal is injected as the function error AuthLambda answers. moto gives every identity
the same keys, so the identity pool's answers are marked at botocore's ``after-call`` event: keys asked for with
Logins become ``PRIVILEGED...``, without ``ANONYMOUS...``; the Lambda requests' signatures then show which keys
signed each Invoke. The same flow against real handler code is in ``test_cloudconnect_runtime.py``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from dashboard import cloudconnect
from dashboard.cloudconnect_client import CloudConnectClient
from dashboard.models import CloudConnectLogin, Invocation, LambdaFunction

pytestmark = pytest.mark.django_db

PASSWORD = "Cloud-Passw0rd-9"


@dataclasses.dataclass
class IdentityCalls:
    calls: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)

    def operations(self) -> list[str]:
        return [f"{name}{'+logins' if params.get('Logins') else ''}" for name, params in self.calls]


@pytest.fixture
def identity_calls(identity_pool: str) -> Iterator[IdentityCalls]:
    """Records the identity pool calls of the seam's client and marks the keys it hands out (see above)."""
    from cognito_backend.clients import get_client

    client = get_client("cognito-identity")
    recorded = IdentityCalls()

    def before(model: Any, params: Any, **kwargs: Any) -> None:
        recorded.calls.append((model.name, json.loads(params["body"] or b"{}")))

    def after(model: Any, parsed: Any, **kwargs: Any) -> None:
        if model.name == "GetCredentialsForIdentity" and "Credentials" in parsed:
            kind = "PRIVILEGED" if recorded.calls[-1][1].get("Logins") else "ANONYMOUS"
            parsed["Credentials"]["AccessKeyId"] = f"{kind}{len(recorded.calls)}"

    client.meta.events.register("before-call.cognito-identity.*", before)
    client.meta.events.register("after-call.cognito-identity.*", after)
    yield recorded
    client.meta.events.unregister("before-call.cognito-identity.*", before)
    client.meta.events.unregister("after-call.cognito-identity.*", after)


def signer(request: Any) -> str:
    """The access key id that signed a Lambda request."""
    authorization = request.headers["Authorization"]
    authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
    return str(authorization.split("Credential=")[1].split("/")[0])


def auth_answer(user: Any, region: str = "us-east-1") -> dict[str, Any]:
    """AuthLambda's answer as lambdas/auth_lambda.py documents it."""
    return {
        "account": {
            "username": user.username,
            "sub": user.sub,
            "email": user.email,
            "groups": user.groups,
            "credentials": {
                "token": user.tokens.id_token,
                "provider": f"cognito-idp.{region}.amazonaws.com/{user.pool_id}",
                "expiresIn": 3600,
            },
        }
    }


@pytest.fixture
def site_user(db: Any) -> Any:
    return get_user_model().objects.create_user("pat", password="x-Passw0rd-1")


@pytest.fixture
def page(site_user: Any) -> Client:
    client = Client()
    client.force_login(site_user)
    return client


@pytest.fixture
def connect_thing(sample_functions: Any, make_function: Any) -> LambdaFunction:
    function: LambdaFunction = make_function(
        "thing", "ThingLambda", credentials=LambdaFunction.Credentials.CLOUD_CONNECT
    )
    return function


def connect(page: Client, username: str = "alice", password: str = PASSWORD) -> Any:
    return page.post("/dashboard/cloud-connect/", {"username": username, "password": password})


def test_page_takes_the_three_steps_and_later_invocations_use_the_privileged_credentials(
    page: Client,
    site_user: Any,
    cognito: Any,
    user_pool: Any,
    identity_calls: IdentityCalls,
    connect_thing: LambdaFunction,
    canned: Any,
    lambda_faults: Any,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD, groups=["users"])
    canned(auth_answer(alice), {"things": [{"id": "t-1"}]})
    lambda_faults.inject_caller(None)  # only records the Lambda requests

    response = connect(page)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="connected"' in html
    assert html.count('data-status="done">') == 3
    assert PASSWORD not in html
    assert identity_calls.operations() == ["GetId", "GetCredentialsForIdentity", "GetCredentialsForIdentity+logins"]
    anonymous_identity = identity_calls.calls[0][1]
    assert "Logins" not in anonymous_identity
    logins = identity_calls.calls[2][1]["Logins"]
    assert logins == {f"cognito-idp.us-east-1.amazonaws.com/{user_pool.pool_id}": alice.tokens.id_token}
    [auth_request] = lambda_faults.requests
    assert "/functions/AuthLambda/" in auth_request.url
    assert signer(auth_request).startswith("ANONYMOUS")
    assert json.loads(auth_request.body) == {"username": "alice", "password": PASSWORD}

    row = CloudConnectLogin.objects.get(user=site_user)
    assert row.cloud_username == "alice"
    assert PASSWORD not in row.secret and alice.tokens.id_token not in row.secret  # encrypted

    answer = page.post("/api/lambdas/thing/invoke/", {"action": "LIST"}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["result"] == {"things": [{"id": "t-1"}]}
    assert signer(lambda_faults.requests[-1]).startswith("PRIVILEGED")
    invocation = Invocation.objects.get(pk=answer.json()["invocation"])
    assert invocation.credentials == "cloud_connect"
    assert invocation.identity_id == row.identity_id
    login_audit = Invocation.objects.get(function_key="cloud-connect-login")
    assert login_audit.status == "succeeded" and login_audit.payload is None and login_audit.payload_sha256 == ""


def test_wrong_password_shows_authlambdas_error_and_invokes_nothing(
    page: Client,
    site_user: Any,
    identity_calls: IdentityCalls,
    connect_thing: LambdaFunction,
    lambda_faults: Any,
    caplog: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    refusal = {"errorType": "NotAuthorized", "errorMessage": "Incorrect username or password."}

    def refuse(request: Any) -> Any:
        from tests.dashboard.conftest import lambda_response

        return lambda_response(200, refusal, {"X-Amz-Function-Error": "Unhandled"})

    lambda_faults.inject_caller(refuse)

    response = connect(page, password="wrong-Passw0rd")

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-code="cloud_connect_login_refused"' in html
    assert "Incorrect username or password." in html
    assert '<li id="step-1" data-status="done">' in html
    assert '<li id="step-2" data-status="failed">' in html
    assert '<li id="step-3" data-status="pending">' in html
    assert "wrong-Passw0rd" not in html
    assert len(lambda_faults.requests) == 1  # AuthLambda only
    assert identity_calls.operations() == ["GetId", "GetCredentialsForIdentity"]  # no step 3
    assert not CloudConnectLogin.objects.exists()
    assert "wrong-Passw0rd" not in caplog.text
    assert Invocation.objects.get().error_code == "cloud_connect_login_refused"

    # Nothing to invoke with: the function asks for a Cloud Connect login first.
    answer = page.post("/api/lambdas/thing/invoke/", {"action": "LIST"}, content_type="application/json")
    assert answer.status_code == 403
    assert answer.json()["code"] == "cloud_connect_login_required"
    assert len(lambda_faults.requests) == 1


def test_authlambda_answer_without_a_token_is_a_refusal_with_its_message(
    page: Client, identity_calls: IdentityCalls, canned: Any
) -> None:
    canned({"error": {"message": "Account locked."}})
    response = connect(page)
    assert response.status_code == 400
    assert "Account locked." in response.content.decode()
    assert not CloudConnectLogin.objects.exists()


def expire_credentials(user: Any) -> None:
    """Makes the stored credentials due for renewal (as if their hour were nearly over)."""
    row = CloudConnectLogin.objects.get(user=user)
    connection = cloudconnect._open(row)
    assert connection is not None
    past = time.time() - 1
    credentials = dataclasses.replace(connection.credentials, refresh_at=past, expires_at=past)
    cloudconnect.store(user, dataclasses.replace(connection, credentials=credentials))


def test_expired_credentials_are_renewed_without_the_user_noticing(
    page: Client,
    site_user: Any,
    cognito: Any,
    user_pool: Any,
    identity_calls: IdentityCalls,
    connect_thing: LambdaFunction,
    canned: Any,
    lambda_faults: Any,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD)
    canned(auth_answer(alice), {"things": []})
    assert connect(page).status_code == 200
    expire_credentials(site_user)
    before = CloudConnectLogin.objects.get(user=site_user).expires_at
    lambda_faults.inject_caller(None)

    answer = page.post("/api/lambdas/thing/invoke/", {"action": "LIST"}, content_type="application/json")

    assert answer.status_code == 200, answer.content
    # Step 3 again with the stored token, no new AuthLambda call (no password needed).
    assert identity_calls.operations()[-1] == "GetCredentialsForIdentity+logins"
    assert [r.url.split("/functions/")[1].split("/")[0] for r in lambda_faults.requests] == ["ThingLambda"]
    assert signer(lambda_faults.requests[0]) == f"PRIVILEGED{len(identity_calls.calls)}"
    assert CloudConnectLogin.objects.get(user=site_user).expires_at > before


def test_expired_login_token_asks_to_connect_again(
    page: Client,
    site_user: Any,
    cognito: Any,
    user_pool: Any,
    identity_calls: IdentityCalls,
    connect_thing: LambdaFunction,
    canned: Any,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD)
    canned(auth_answer(alice))
    assert connect(page).status_code == 200
    row = CloudConnectLogin.objects.get(user=site_user)
    connection = cloudconnect._open(row)
    assert connection is not None
    cloudconnect.store(site_user, dataclasses.replace(connection, token_expires_at=time.time() - 1))
    expire_credentials(site_user)

    answer = page.post("/api/lambdas/thing/invoke/", {"action": "LIST"}, content_type="application/json")

    assert answer.status_code == 403
    assert answer.json()["code"] == "cloud_connect_login_required"
    assert not CloudConnectLogin.objects.exists()


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("function_error", 502, "function_error"),
        ("read_timeout", 504, "lambda_timeout"),
        ("throttled", 429, "throttled"),
    ],
)
def test_cloud_connect_invocation_failures_get_the_documented_answers(
    page: Client,
    cognito: Any,
    user_pool: Any,
    identity_calls: IdentityCalls,
    connect_thing: LambdaFunction,
    canned: Any,
    lambda_faults: Any,
    fault: str,
    status: int,
    code: str,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD)
    canned(auth_answer(alice))
    assert connect(page).status_code == 200
    lambda_faults.inject_caller(fault)
    answer = page.post("/api/lambdas/thing/invoke/", {"action": "LIST"}, content_type="application/json")
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert len(lambda_faults.requests) == 1  # sent once


def test_payload_over_the_limit_is_413_before_anything_is_invoked(
    page: Client,
    cognito: Any,
    user_pool: Any,
    identity_calls: IdentityCalls,
    connect_thing: LambdaFunction,
    canned: Any,
    lambda_faults: Any,
    settings: Any,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD)
    canned(auth_answer(alice))
    assert connect(page).status_code == 200
    lambda_faults.inject_caller(None)
    settings.DASHBOARD = {"MAX_SYNC_PAYLOAD": 64}
    answer = page.post("/api/lambdas/thing/invoke/", {"blob": "x" * 100}, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"
    assert lambda_faults.requests == []


def test_disconnect_forgets_the_login(
    page: Client, site_user: Any, cognito: Any, user_pool: Any, identity_calls: IdentityCalls, canned: Any
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD)
    canned(auth_answer(alice))
    assert connect(page).status_code == 200
    assert "Connected as" in page.get("/dashboard/cloud-connect/").content.decode()
    assert page.post("/dashboard/cloud-connect/", {"disconnect": "1"}).status_code == 302
    assert not CloudConnectLogin.objects.exists()


def test_signing_out_of_the_site_forgets_the_cloud_connect_login(
    page: Client, site_user: Any, cognito: Any, user_pool: Any, identity_calls: IdentityCalls, canned: Any
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD)
    canned(auth_answer(alice))
    assert connect(page).status_code == 200
    page.logout()
    assert not CloudConnectLogin.objects.exists()


def test_python_client_logs_in_and_invokes(
    cognito: Any,
    user_pool: Any,
    identity_calls: IdentityCalls,
    sample_functions: Any,
    canned: Any,
    lambda_faults: Any,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD, groups=["users"])
    canned(auth_answer(alice), {"things": [{"id": "t-2"}]})
    lambda_faults.inject_caller(None)
    client = CloudConnectClient()

    account = client.login("alice", PASSWORD)
    result = client.invoke("ThingLambda", {"action": "LIST"})

    assert account["username"] == "alice" and "credentials" not in account
    assert result == {"things": [{"id": "t-2"}]}
    assert signer(lambda_faults.requests[-1]).startswith("PRIVILEGED")
    assert Invocation.objects.filter(function_key="ThingLambda", status="succeeded").exists()


def test_management_command_logs_in_from_the_environment_and_prints_the_result(
    cognito: Any,
    user_pool: Any,
    identity_calls: IdentityCalls,
    sample_functions: Any,
    canned: Any,
    monkeypatch: Any,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD)
    canned(auth_answer(alice), {"things": [{"id": "t-3"}]})
    monkeypatch.setenv("CLOUD_CONNECT_USERNAME", "alice")
    monkeypatch.setenv("CLOUD_CONNECT_PASSWORD", PASSWORD)
    out = io.StringIO()

    call_command("cloudconnect", "invoke", "ThingLambda", '{"action": "LIST"}', stdout=out)

    assert json.loads(out.getvalue()) == {"things": [{"id": "t-3"}]}
    assert PASSWORD not in out.getvalue()
    assert identity_calls.operations()[-1] == "GetCredentialsForIdentity+logins"


def test_management_command_reports_a_refused_login(
    identity_calls: IdentityCalls, sample_functions: Any, lambda_faults: Any, monkeypatch: Any
) -> None:
    from tests.dashboard.conftest import lambda_response

    lambda_faults.inject_caller(
        lambda request: lambda_response(
            200,
            {"errorType": "NotAuthorized", "errorMessage": "Incorrect username or password."},
            {"X-Amz-Function-Error": "Unhandled"},
        )
    )
    monkeypatch.setenv("CLOUD_CONNECT_USERNAME", "alice")
    monkeypatch.setenv("CLOUD_CONNECT_PASSWORD", "not-it-1A")
    with pytest.raises(CommandError, match=r"cloud_connect_login_refused: Incorrect username or password\.") as info:
        call_command("cloudconnect", "invoke", "ThingLambda", "{}")
    assert "not-it-1A" not in str(info.value)
    assert len(lambda_faults.requests) == 1


def test_a_login_already_linked_elsewhere_gets_its_own_identity_in_step_3(
    page: Client, site_user: Any, cognito: Any, user_pool: Any, identity_calls: IdentityCalls, canned: Any
) -> None:
    """Cognito refuses to link a login that has an identity already to the new unauthenticated one (injected at
    botocore's before-call: moto links anything); step 3 then asks GetId for the login's identity."""
    from botocore.awsrequest import AWSResponse

    from cognito_backend.clients import get_client

    alice = cognito.create_user(user_pool, "alice", PASSWORD)
    canned(auth_answer(alice))
    refused: list[str] = []

    def refuse_first_link(model: Any, params: Any, **kwargs: Any) -> Any:
        body = json.loads(params["body"] or b"{}")
        if model.name == "GetCredentialsForIdentity" and body.get("Logins") and not refused:
            refused.append(body["IdentityId"])
            error = {"Error": {"Code": "NotAuthorizedException", "Message": "Logins don't match."}}
            return AWSResponse("https://identity.invalid/", 400, {}, None), {
                **error,
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None

    events = get_client("cognito-identity").meta.events
    events.register_first("before-call.cognito-identity.*", refuse_first_link)
    try:
        response = connect(page)
    finally:
        events.unregister("before-call.cognito-identity.*", refuse_first_link)

    assert response.status_code == 200, response.content
    assert identity_calls.operations()[-2:] == ["GetId+logins", "GetCredentialsForIdentity+logins"]
    row = CloudConnectLogin.objects.get(user=site_user)
    assert row.identity_id != refused[0]


def test_the_command_without_a_terminal_or_a_username_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    monkeypatch.delenv("CLOUD_CONNECT_USERNAME", raising=False)
    monkeypatch.delenv("CLOUD_CONNECT_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal
    with pytest.raises(CommandError, match=r"No terminal to ask in: pass --username or set CLOUD_CONNECT_USERNAME"):
        call_command("cloudconnect", "invoke", "ThingLambda", "{}")
    with pytest.raises(CommandError, match=r"No terminal to ask in: set CLOUD_CONNECT_PASSWORD"):
        call_command("cloudconnect", "invoke", "ThingLambda", "{}", username="alice")

    class EndedTerminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", EndedTerminal(""))  # a terminal whose input has ended (Ctrl-D)
    with pytest.raises(CommandError, match=r"Nothing was typed: pass --username"):
        call_command("cloudconnect", "invoke", "ThingLambda", "{}")
    # As a process with nothing on stdin: one line naming what to do, exit 1, no traceback.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUD_CONNECT_")}
    done = subprocess.run(
        [sys.executable, "manage.py", "cloudconnect", "invoke", "ThingLambda", "{}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.test_settings", "DJANGO_READ_DOTENV": "false"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "CLOUD_CONNECT_USERNAME" in done.stderr and "Traceback" not in done.stderr
