"""The sample functions as ``localaws up`` deploys them, run by the local Lambda runtime, and the dashboard on it.

``stack.provision`` creates the functions through the runtime (which keeps their code) with AuthLambda's pool and
app client in its environment; the handlers then run for real: no echo, no canned result, no injected fault.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from dashboard.demo import SAMPLES
from localaws import stack
from tests.localaws.conftest import Deployer, iam_client, lambda_client

EXAMPLES = {sample["function_name"]: sample["example_payload"] for sample in SAMPLES}


@pytest.fixture
def provisioned(aws: str, lambda_runtime: str) -> stack.Provisioned:
    return stack.provision(aws, lambda_endpoint=lambda_runtime)


@pytest.fixture
def sample_functions(aws: str, lambda_runtime: str) -> dict[str, str]:
    """Only the functions (no pool), created through the runtime as ``provision`` creates them."""
    created: list[str] = []
    role = stack.ensure_lambda_role(iam_client(aws), created)
    return stack.ensure_functions(lambda_client(lambda_runtime), role, created)


def invoke(endpoint: str, name: str, payload: Any) -> tuple[dict[str, Any], Any]:
    response = lambda_client(endpoint).invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return response, json.loads(response["Payload"].read())


def test_provision_points_the_lambda_endpoint_at_the_runtime_and_twice_changes_nothing(
    provisioned: stack.Provisioned, aws: str, lambda_runtime: str
) -> None:
    again = stack.provision(aws, lambda_endpoint=lambda_runtime)

    assert provisioned.env()["AWS_ENDPOINT_URL_LAMBDA"] == lambda_runtime
    assert again.created == []


def test_thing_and_observation_examples_answer_real_results(
    sample_functions: dict[str, str], lambda_runtime: str
) -> None:
    _, things = invoke(lambda_runtime, "ThingLambda", EXAMPLES["ThingLambda"])
    _, observations = invoke(lambda_runtime, "ObservationLambda", EXAMPLES["ObservationLambda"])

    assert things["count"] == len(things["things"]) > 0
    assert observations["hits"]["total"]["value"] > 0
    assert observations["hits"]["hits"][0]["_source"]["type"] == "temperature"
    assert observations["aggregations"]["by_station"]["buckets"]


def test_a_query_outside_the_subset_is_a_function_error_naming_it(
    sample_functions: dict[str, str], lambda_runtime: str
) -> None:
    response, error = invoke(lambda_runtime, "ObservationLambda", {"action": "FIND", "query": {"from": 5}})

    assert response["FunctionError"] == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == (
        "QueryError",
        "query.from: not supported; this function takes size, query, aggs, aggregations here.",
    )


def test_auth_lambda_signs_the_demo_user_in_and_its_token_opens_the_identity_pool(
    provisioned: stack.Provisioned, lambda_runtime: str
) -> None:
    from cognito_backend.clients import get_client

    response, answer = invoke(
        lambda_runtime, "AuthLambda", {"username": stack.DEMO_USERNAME, "password": stack.DEMO_PASSWORD}
    )

    assert "FunctionError" not in response
    account = answer["account"]
    assert (account["username"], account["email"]) == (stack.DEMO_USERNAME, stack.DEMO_EMAIL)
    provider = f"cognito-idp.{provisioned.region}.amazonaws.com/{provisioned.user_pool_id}"
    assert account["credentials"]["provider"] == provider
    identity = get_client("cognito-identity")
    logins = {provider: account["credentials"]["token"]}
    identity_id = identity.get_id(IdentityPoolId=provisioned.identity_pool_id, Logins=logins)["IdentityId"]
    credentials = identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
    assert credentials["AccessKeyId"]


def test_auth_lambda_answers_a_wrong_password_with_an_error_to_show(
    provisioned: stack.Provisioned, lambda_runtime: str
) -> None:
    response, error = invoke(lambda_runtime, "AuthLambda", {"username": stack.DEMO_USERNAME, "password": "Wrong-1a"})

    assert response["FunctionError"] == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("NotAuthorized", "Incorrect username or password.")
    assert "Wrong-1a" not in json.dumps(error)


# --- the dashboard's API on the runtime -------------------------------------------------------------------------

SLOW = "import time\ndef handler(event, context):\n    time.sleep(60)\n"


@pytest.fixture
def api(cognito_user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {cognito_user.tokens.access_token}")
    return client


def register(name: str, function_name: str, timeout: int = 10) -> None:
    from dashboard.models import LambdaFunction

    LambdaFunction.objects.create(name=name, display_name=name, function_name=function_name, timeout=timeout)


def post(api: APIClient, name: str, payload: bytes) -> Any:
    return api.generic("POST", f"/api/lambdas/{name}/invoke/", payload, content_type="application/json")  # type: ignore[arg-type]


@pytest.mark.django_db
def test_the_dashboard_shows_thing_lambdas_real_result(sample_functions: dict[str, str], api: APIClient) -> None:
    register("thing", "ThingLambda")

    response = post(api, "thing", json.dumps(EXAMPLES["ThingLambda"]).encode())

    assert response.status_code == 200, response.content
    assert response.json()["result"]["count"] > 0


@pytest.mark.django_db
def test_the_dashboard_answers_a_handler_that_raises_with_502_function_error(
    sample_functions: dict[str, str], api: APIClient
) -> None:
    register("thing", "ThingLambda")

    response = post(api, "thing", b'{"action": "GET", "id": "nothing-here"}')

    assert response.status_code == 502
    body = response.json()
    assert (body["code"], body["error_type"]) == ("function_error", "NotFound")
    assert body["error_message"] == "No thing has the id 'nothing-here'."


@pytest.mark.django_db
def test_the_dashboard_answers_a_handler_past_its_timeout_as_lambda_does(
    deploy: Deployer, api: APIClient, lambda_runtime: str
) -> None:
    deploy("Slow", SLOW, timeout=1)
    register("slow", "Slow", timeout=1)

    response = post(api, "slow", b"{}")

    # Lambda answers a timed-out function as its error Sandbox.Timedout (not a read timeout of the client).
    assert response.status_code == 502, response.content
    body = response.json()
    assert (body["code"], body["error_type"]) == ("function_error", "Sandbox.Timedout")


@pytest.mark.django_db
def test_the_dashboard_answers_lambdas_413_for_a_payload_over_its_limit(
    sample_functions: dict[str, str], api: APIClient, settings: Any
) -> None:
    from localaws.lambda_runtime import MAX_SYNC_PAYLOAD

    # The dashboard's own limit raised above Lambda's, so that Lambda (the runtime) is the one refusing.
    settings.DASHBOARD = {**getattr(settings, "DASHBOARD", {}), "MAX_SYNC_PAYLOAD": 2 * MAX_SYNC_PAYLOAD}
    register("thing", "ThingLambda")

    response = post(api, "thing", json.dumps({"action": "LIST", "pad": "x" * MAX_SYNC_PAYLOAD}).encode())

    assert response.status_code == 413, response.content
    assert response.json()["code"] == "payload_too_large"
