"""The registry and history endpoints, credentials per function, and the OpenAPI schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from dashboard import aws as dashboard_aws
from dashboard.models import Invocation

from .conftest import bearer
from .test_invoke import invoke, only_invocation

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(api: Any, cognito_user: Any, registry: dict[str, Any]) -> Any:
    return bearer(api, cognito_user.tokens.access_token)


def session_client(username: str, *, staff: bool = False, groups: tuple[str, ...] = ()) -> APIClient:
    user = get_user_model().objects.create_user(username, password="x-Passw0rd-1", is_staff=staff)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = APIClient()
    client.force_login(user)
    return client


# --- registry -------------------------------------------------------------------------------------------------


def test_list_shows_only_enabled_functions_the_caller_may_call(alice: Any, make_function: Any) -> None:
    make_function("admin-only", "ThingLambda", groups=["admins"])
    make_function("for-users", "ThingLambda", groups=["users", "staff"])
    make_function("off", "ThingLambda", enabled=False)
    response = alice.get("/api/lambdas/")
    assert response.status_code == 200
    names = [f["name"] for f in response.json()]
    assert sorted(names) == ["auth", "for-users", "observation", "thing"]
    thing = next(f for f in response.json() if f["name"] == "thing")
    assert thing["invoke_url"] == "/api/lambdas/thing/invoke/"
    assert "example_payload" not in thing


def test_django_group_grants_access_to_a_session_user(registry: dict[str, Any], make_function: Any) -> None:
    make_function("admin-only", "ThingLambda", groups=["admins"])
    assert "admin-only" not in [f["name"] for f in session_client("carol").get("/api/lambdas/").json()]
    admin = session_client("dave", groups=("admins",))
    assert "admin-only" in [f["name"] for f in admin.get("/api/lambdas/").json()]
    assert invoke(admin, "admin-only", "{}").status_code == 200


def test_detail_has_the_example_payload_and_schema(alice: Any) -> None:
    response = alice.get("/api/lambdas/observation/")
    assert response.status_code == 200
    body = response.json()
    assert body["example_payload"]["action"] == "FIND"
    assert body["payload_schema"]["required"] == ["action", "query"]


def test_detail_of_unknown_function_is_404_json(alice: Any) -> None:
    response = alice.get("/api/lambdas/nope/")
    assert response.status_code == 404
    assert response.json()["code"] == "function_not_found"


def test_detail_of_a_forbidden_function_is_403(alice: Any, make_function: Any) -> None:
    make_function("admin-only", "ThingLambda", groups=["admins"])
    response = alice.get("/api/lambdas/admin-only/")
    assert response.status_code == 403
    assert response.json()["code"] == "function_forbidden"


def test_the_example_payload_of_every_function_is_accepted_as_is(alice: Any) -> None:
    for function in alice.get("/api/lambdas/").json():
        example = alice.get(function["url"]).json()["example_payload"]
        assert invoke(alice, function["name"], json.dumps(example)).status_code == 200, function["name"]


# --- history --------------------------------------------------------------------------------------------------


def test_history_shows_only_the_callers_own_invocations(alice: Any, registry: dict[str, Any]) -> None:
    other = session_client("erin")
    invoke(other, "thing", "{}")
    invoke(alice, "thing", "{}")
    invoke(alice, "nope", "{}")
    page = alice.get("/api/invocations/").json()
    assert page["count"] == 2
    assert {row["username"] for row in page["results"]} == {"alice"}
    assert [row["status"] for row in page["results"]] == ["not_found", "succeeded"]  # newest first


def test_staff_see_everyones_history_and_filter_by_user(alice: Any, registry: dict[str, Any]) -> None:
    invoke(alice, "thing", "{}")
    staff = session_client("sam", staff=True)
    invoke(staff, "thing", "{}")
    assert staff.get("/api/invocations/").json()["count"] == 2
    assert [r["username"] for r in staff.get("/api/invocations/?user=alice").json()["results"]] == ["alice"]
    assert [r["username"] for r in staff.get("/api/invocations/?mine=true").json()["results"]] == ["sam"]


def test_non_staff_cannot_see_others_by_filtering_on_user(alice: Any, registry: dict[str, Any]) -> None:
    invoke(session_client("frank"), "thing", "{}")
    assert alice.get("/api/invocations/?user=frank").json()["count"] == 0


def test_history_filters_by_function_status_and_error_code(alice: Any) -> None:
    invoke(alice, "thing", "{}")
    invoke(alice, "observation", '{"action": "FIND", "query": {}}')
    invoke(alice, "observation", "{oops")
    assert alice.get("/api/invocations/?function=observation").json()["count"] == 2
    assert alice.get("/api/invocations/?status=rejected").json()["count"] == 1
    rows = alice.get("/api/invocations/?error_code=invalid_json").json()["results"]
    assert [r["function"] for r in rows] == ["observation"]
    later = Invocation.objects.order_by("-created_at").first()
    assert later is not None
    since = later.created_at.isoformat().replace("+00:00", "Z")
    assert alice.get("/api/invocations/", {"since": since}).json()["count"] >= 1


def test_history_is_paginated(alice: Any) -> None:
    for _ in range(5):
        invoke(alice, "thing", "{}")
    first = alice.get("/api/invocations/?page_size=2").json()
    assert (first["count"], len(first["results"])) == (5, 2)
    assert first["next"] is not None
    last = alice.get("/api/invocations/?page_size=2&page=3").json()
    assert len(last["results"]) == 1
    assert last["next"] is None


@pytest.mark.parametrize(
    "query",
    ["status=exploded", "since=yesterday", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "page=99"],
)
def test_bad_history_filters_are_rejected(alice: Any, query: str) -> None:
    response = alice.get(f"/api/invocations/?{query}")
    assert response.status_code in {400, 404}
    assert "code" in response.json()


# --- credentials --------------------------------------------------------------------------------------------------


def test_caller_credentials_sign_the_invoke_with_the_callers_identity_pool_keys(
    api: Any, cognito_user: Any, registry: dict[str, Any], identity_pool: str, lambda_faults: Any
) -> None:
    registry["auth"].credentials = "caller"
    registry["auth"].save()
    lambda_faults.inject_caller(None)  # records the signed request, the stand-in still answers
    response = invoke(bearer(api, cognito_user.tokens.id_token), "auth", "{}")
    assert response.status_code == 200, response.content
    row = only_invocation()
    assert row.credentials == "caller"
    assert row.identity_id.startswith("us-east-1:")
    credentials = dashboard_aws.caller_credentials(cognito_user.tokens.id_token)  # cached: the keys just used
    assert credentials.identity_id == row.identity_id
    (request,) = lambda_faults.requests
    authorization = request.headers["Authorization"].decode()
    assert f"Credential={credentials.access_key_id}/" in authorization
    assert request.headers["X-Amz-Security-Token"].decode() == credentials.session_token
    assert credentials.access_key_id not in json.dumps(response.json())


def test_caller_credentials_need_an_id_token(alice: Any, registry: dict[str, Any], identity_pool: str) -> None:
    registry["auth"].credentials = "caller"
    registry["auth"].save()
    response = invoke(alice, "auth", "{}")  # alice signed in with her access token
    assert response.status_code == 403
    assert response.json()["code"] == "id_token_required"
    assert only_invocation().status == "denied"


def test_aws_refusing_the_callers_credentials_is_403(
    api: Any, cognito_user: Any, registry: dict[str, Any], identity_pool: str, lambda_faults: Any
) -> None:
    registry["auth"].credentials = "caller"
    registry["auth"].save()
    lambda_faults.inject_caller("access_denied")  # injected: AccessDeniedException (IAM of the identity role)
    response = invoke(bearer(api, cognito_user.tokens.id_token), "auth", "{}")
    assert response.status_code == 403
    assert response.json()["code"] == "aws_access_denied"


def test_identity_pool_unreachable_is_503_and_audited(
    api: Any, cognito_user: Any, registry: dict[str, Any], identity_pool: str, settings: Any
) -> None:
    from tests.conftest import free_port

    registry["auth"].credentials = "caller"
    registry["auth"].save()
    # Fault: the identity pool's endpoint is a closed port (token verification still reaches the user pool).
    settings.COGNITO_AWS = {
        **settings.COGNITO_AWS,
        "ENDPOINT_URLS": {"cognito-identity": f"http://127.0.0.1:{free_port()}"},
    }
    response = invoke(bearer(api, cognito_user.tokens.id_token), "auth", "{}")
    assert response.status_code == 503
    assert only_invocation().status == "credentials_error"


def test_server_credentials_do_not_touch_the_identity_pool(alice: Any, lambda_faults: Any, registry: Any) -> None:
    lambda_faults.inject(registry["thing"], None)
    assert invoke(alice, "thing", "{}").status_code == 200
    (request,) = lambda_faults.requests
    assert "Credential=testing/" in request.headers["Authorization"].decode()
    assert only_invocation().identity_id == ""


# --- schema ------------------------------------------------------------------------------------------------------


def test_openapi_schema_describes_the_dashboard_endpoints(api: Any) -> None:
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in ["/api/lambdas/", "/api/lambdas/{name}/", "/api/lambdas/{name}/invoke/", "/api/invocations/"]:
        assert path in paths
    responses = paths["/api/lambdas/{name}/invoke/"]["post"]["responses"]
    assert {"200", "202", "400", "403", "404", "413", "429", "502", "503", "504"} <= set(responses)


def test_caller_credentials_are_reused_until_they_near_expiry(
    api: Any, cognito_user: Any, registry: dict[str, Any], identity_pool: str
) -> None:
    from cognito_backend.clients import get_client

    registry["auth"].credentials = "caller"
    registry["auth"].save()
    calls: list[str] = []

    def count(request: Any, event_name: str, **kwargs: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])  # records only; the stand-in answers

    events = get_client("cognito-identity").meta.events
    events.register("before-send.cognito-identity.*", count)
    try:
        client = bearer(api, cognito_user.tokens.id_token)
        assert invoke(client, "auth", "{}").status_code == 200
        assert invoke(client, "auth", "{}").status_code == 200
    finally:
        events.unregister("before-send.cognito-identity.*", count)
    assert calls == ["GetId", "GetCredentialsForIdentity"]
    assert len({row.identity_id for row in Invocation.objects.all()}) == 1


def test_demo_functions_answer_their_own_example_payloads(
    api: Any, cognito_user: Any, sample_functions: dict[str, str]
) -> None:
    from django.core.management import call_command

    call_command("demo_data", verbosity=0)
    client = bearer(api, cognito_user.tokens.access_token)
    names = [f["name"] for f in client.get("/api/lambdas/").json()]
    assert sorted(names) == ["auth", "observation", "thing"]
    for name in names:
        example = client.get(f"/api/lambdas/{name}/").json()["example_payload"]
        response = invoke(client, name, json.dumps(example))
        assert response.status_code == 200, (name, response.content)
        assert response.json()["result"] == example  # the stand-in echoes
