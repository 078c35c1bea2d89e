"""The registry model's validation (what admin shows on save), the admin pages and ``manage.py demo_data``."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from dashboard.models import Invocation, LambdaFunction

pytestmark = pytest.mark.django_db


def build(**fields: Any) -> LambdaFunction:
    values: dict[str, Any] = {"name": "thing", "display_name": "Thing", "function_name": "ThingLambda"}
    values.update(fields)
    return LambdaFunction(**values)


@pytest.mark.parametrize(
    "function_name",
    [
        "ThingLambda",
        "ThingLambda:prod",
        "ThingLambda:$LATEST",
        "123456789012:function:ThingLambda",
        "arn:aws:lambda:us-east-1:123456789012:function:ThingLambda",
        "arn:aws:lambda:eu-central-1:123456789012:function:ThingLambda:7",
    ],
)
def test_function_names_and_arns_lambda_accepts_are_valid(function_name: str) -> None:
    build(function_name=function_name).full_clean()


@pytest.mark.parametrize("function_name", ["", "thing lambda", "arn:aws:s3:::bucket", "a/b", "x" * 171])
def test_malformed_function_names_are_refused(function_name: str) -> None:
    with pytest.raises(ValidationError) as error:
        build(function_name=function_name).full_clean()
    assert "function_name" in error.value.message_dict


def test_an_invalid_json_schema_is_refused_naming_the_problem() -> None:
    with pytest.raises(ValidationError) as error:
        build(payload_schema={"type": "no-such-type"}).full_clean()
    assert "Not a valid JSON Schema" in error.value.message_dict["payload_schema"][0]


def test_an_example_payload_failing_the_schema_is_refused() -> None:
    schema = {"type": "object", "required": ["action"]}
    with pytest.raises(ValidationError) as error:
        build(example_payload={"size": 1}, payload_schema=schema).full_clean()
    assert "'action' is a required property" in error.value.message_dict["example_payload"][0]


def test_an_event_function_refuses_an_example_over_256_kb() -> None:
    with pytest.raises(ValidationError) as error:
        build(invocation_type="Event", example_payload={"blob": "x" * 300_000}).full_clean()
    assert "limit" in error.value.message_dict["example_payload"][0]


@pytest.mark.parametrize("timeout", [0, 901])
def test_timeout_outside_lambdas_range_is_refused(timeout: int) -> None:
    with pytest.raises(ValidationError) as error:
        build(timeout=timeout).full_clean()
    assert "timeout" in error.value.message_dict


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "x-Passw0rd-1")
    client = Client()
    client.force_login(user)
    return client


def test_admin_refuses_invalid_json_in_the_example_payload(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/dashboard/lambdafunction/add/",
        {
            "display_name": "Thing",
            "name": "thing",
            "function_name": "ThingLambda",
            "example_payload": '{"action": ',
            "invocation_type": "RequestResponse",
            "credentials": "server",
            "timeout": "10",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "Enter a valid JSON" in response.content.decode()
    assert not LambdaFunction.objects.exists()


def test_admin_saves_a_valid_function(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/dashboard/lambdafunction/add/",
        {
            "display_name": "Thing",
            "name": "thing",
            "function_name": "ThingLambda",
            "example_payload": '{"action": "LIST"}',
            "payload_schema": '{"type": "object"}',
            "invocation_type": "RequestResponse",
            "credentials": "caller",
            "timeout": "10",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    function = LambdaFunction.objects.get()
    assert function.example_payload == {"action": "LIST"}
    assert function.credentials == "caller"


def test_audit_log_in_admin_is_read_only(admin_client: Client) -> None:
    invocation = Invocation.objects.create(function_key="thing", status="succeeded")
    assert admin_client.get("/admin/dashboard/invocation/").status_code == 200
    assert admin_client.get("/admin/dashboard/invocation/add/").status_code == 403
    page = admin_client.get(f"/admin/dashboard/invocation/{invocation.pk}/change/")
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()


def test_demo_data_registers_the_sample_functions_once() -> None:
    out = StringIO()
    call_command("demo_data", stdout=out)
    assert sorted(LambdaFunction.objects.values_list("function_name", flat=True)) == [
        "AuthLambda",
        "ObservationLambda",
        "ThingLambda",
    ]
    LambdaFunction.objects.filter(name="thing").update(description="edited by an admin")
    call_command("demo_data", stdout=out)
    assert LambdaFunction.objects.count() == 3
    assert LambdaFunction.objects.get(name="thing").description == "edited by an admin"
