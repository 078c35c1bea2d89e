"""The Cloud Connect login against the local AWS with the local Lambda runtime: real handler code throughout.

``stack.provision`` creates the demo pool, identity pool, demo user and the sample functions through the runtime
(as ``localaws up`` does), so AuthLambda really signs the demo user in (InitiateAuth) and answers its token,
ThingLambda and ObservationLambda answer from their bundled data. Nothing is canned or injected here.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from dashboard.demo import SAMPLES
from dashboard.models import CloudConnectLogin, Invocation, LambdaFunction
from localaws import stack
from tests.localaws.conftest import Deployer, iam_client, lambda_client

EXAMPLES = {sample["name"]: sample for sample in SAMPLES}


@pytest.fixture
def local_aws(aws: str, lambda_runtime: str, settings: Any) -> stack.Provisioned:
    provisioned = stack.provision(aws, lambda_endpoint=lambda_runtime)
    settings.COGNITO = {
        **settings.COGNITO,
        "REGION": provisioned.region,
        "USER_POOL_ID": provisioned.user_pool_id,
        "APP_CLIENT_ID": provisioned.app_client_id,
        "IDENTITY_POOL_ID": provisioned.identity_pool_id,
        "ISSUER": "",
        "JWKS_URL": f"{aws}/{provisioned.user_pool_id}/.well-known/jwks.json",
    }
    return provisioned


@pytest.fixture
def connected_functions(local_aws: stack.Provisioned, make_function: Any) -> dict[str, LambdaFunction]:
    """ThingLambda and ObservationLambda registered to run with the caller's Cloud Connect login."""
    return {
        name: make_function(
            name,
            EXAMPLES[name]["function_name"],
            display_name=EXAMPLES[name]["display_name"],
            example_payload=EXAMPLES[name]["example_payload"],
            payload_schema=EXAMPLES[name]["payload_schema"],
            credentials=LambdaFunction.Credentials.CLOUD_CONNECT,
        )
        for name in ("thing", "observation")
    }


def site_client(username: str = "pat") -> tuple[Any, Client]:
    user = get_user_model().objects.create_user(username, password="x-Passw0rd-1")
    client = Client()
    client.force_login(user)
    return user, client


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_page_connects_the_demo_user_and_invokes_thing_and_observation_with_real_results(
    live_server: Any, browser_page: Any, connected_functions: dict[str, LambdaFunction]
) -> None:
    _, client = site_client()
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    browser_page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )

    browser_page.goto(live_server.url + "/dashboard/")
    browser_page.click("#cloud-connect-link")
    browser_page.fill("#id_username", stack.DEMO_USERNAME)
    browser_page.fill("#id_password", stack.DEMO_PASSWORD)
    browser_page.click("#connect")
    browser_page.wait_for_selector("#connected")
    assert [browser_page.get_attribute(f"#step-{n}", "data-status") for n in (1, 2, 3)] == ["done"] * 3
    assert stack.DEMO_PASSWORD not in browser_page.content()

    results = {}
    for name in ("thing", "observation"):
        browser_page.goto(f"{live_server.url}/dashboard/?function={name}")
        assert "Runs with your Cloud Connect login (demo)" in browser_page.inner_text("#cloud-connect-note")
        browser_page.click("#invoke")
        browser_page.wait_for_function("document.querySelector('#outcome').textContent.startsWith('succeeded')")
        results[name] = json.loads(browser_page.inner_text("#result"))

    assert results["thing"]["count"] == len(results["thing"]["things"]) > 0
    assert results["observation"]["hits"]["hits"][0]["_source"]["type"] == "temperature"
    assert results["observation"]["aggregations"]["by_station"]["buckets"]
    assert set(Invocation.objects.filter(credentials="cloud_connect").values_list("function_key", "status")) == {
        ("cloud-connect-login", "succeeded"),
        ("thing", "succeeded"),
        ("observation", "succeeded"),
    }


@pytest.mark.django_db
def test_wrong_password_shows_authlambdas_error_and_invokes_nothing(
    connected_functions: dict[str, LambdaFunction],
) -> None:
    _, client = site_client()
    response = client.post("/dashboard/cloud-connect/", {"username": stack.DEMO_USERNAME, "password": "Wrong-pass-1"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Incorrect username or password." in html  # AuthLambda's own message
    assert '<li id="step-2" data-status="failed">' in html
    assert '<li id="step-3" data-status="pending">' in html
    assert not CloudConnectLogin.objects.exists()
    answer = client.post("/api/lambdas/thing/invoke/", {"action": "LIST"}, content_type="application/json")
    assert answer.json()["code"] == "cloud_connect_login_required"
    # The login's AuthLambda call and the refused invocation; nothing reached ThingLambda.
    assert list(Invocation.objects.order_by("id").values_list("function_key", "error_code")) == [
        ("cloud-connect-login", "cloud_connect_login_refused"),
        ("thing", "cloud_connect_login_required"),
    ]


@pytest.mark.django_db
def test_failing_handlers_answer_the_documented_errors(
    aws: str, lambda_runtime: str, local_aws: stack.Provisioned, make_function: Any, settings: Any
) -> None:
    deploy = Deployer(lambda_client(lambda_runtime), stack.ensure_lambda_role(iam_client(aws), []))
    deploy("Raises", "def handler(event, context):\n    raise ValueError('size must be positive')\n")
    deploy("Sleeps", "import time\ndef handler(event, context):\n    time.sleep(30)\n", timeout=1)
    deploy("Echo", "def handler(event, context):\n    return event\n")
    for name in ("Raises", "Sleeps", "Echo"):
        make_function(name.lower(), name, credentials=LambdaFunction.Credentials.CLOUD_CONNECT, timeout=5)
    _, client = site_client()
    connect = {"username": stack.DEMO_USERNAME, "password": stack.DEMO_PASSWORD}
    assert client.post("/dashboard/cloud-connect/", connect).status_code == 200

    def invoke(name: str, body: Any) -> Any:
        return client.post(f"/api/lambdas/{name}/invoke/", body, content_type="application/json")

    raised = invoke("raises", {})
    assert (raised.status_code, raised.json()["code"]) == (502, "function_error")
    assert (raised.json()["error_type"], raised.json()["error_message"]) == ("ValueError", "size must be positive")

    slept = invoke("sleeps", {})
    assert (slept.status_code, slept.json()["code"], slept.json()["error_type"]) == (
        502,
        "function_error",
        "Sandbox.Timedout",
    )

    # Over Lambda's 6 MB with the site's own check widened: the runtime refuses it, as Lambda does.
    settings.DASHBOARD = {"MAX_SYNC_PAYLOAD": 7 * 1024 * 1024}
    large = invoke("echo", {"blob": "x" * (6 * 1024 * 1024 + 10)})
    assert (large.status_code, large.json()["code"]) == (413, "payload_too_large")
    assert invoke("echo", {"ok": 1}).json()["result"] == {"ok": 1}


@pytest.mark.django_db
def test_management_command_logs_in_and_invokes_with_the_python_client(
    connected_functions: dict[str, LambdaFunction], monkeypatch: Any
) -> None:
    monkeypatch.setenv("CLOUD_CONNECT_USERNAME", stack.DEMO_USERNAME)
    monkeypatch.setenv("CLOUD_CONNECT_PASSWORD", stack.DEMO_PASSWORD)
    out = io.StringIO()

    call_command("cloudconnect", "invoke", "ThingLambda", '{"action": "LIST"}', stdout=out)

    things = json.loads(out.getvalue())
    assert things["count"] == len(things["things"]) > 0
    assert stack.DEMO_PASSWORD not in out.getvalue()

    out = io.StringIO()
    call_command("cloudconnect", "login", stdout=out)
    login = json.loads(out.getvalue())
    assert login["identity_id"].startswith("us-east-1:")
    assert login["account"]["username"] == stack.DEMO_USERNAME
    assert "credentials" not in login["account"] and "token" not in out.getvalue()
