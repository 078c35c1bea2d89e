"""Step 1 of the Cloud Connect login in the identity pool's basic (classic) flow (``CLOUD_CONNECT_UNAUTH_ROLE_ARN``).

On AWS, unauthenticated credentials from GetCredentialsForIdentity (the enhanced flow) are scoped down to
AmazonCognitoUnAuthedIdentitiesSessionPolicy, which has no lambda:InvokeFunction: AuthLambda (step 2) is refused.
moto checks no IAM, so it cannot show that refusal; what these tests show instead is which operations are sent
(captured at botocore's ``before-send`` event on the very clients the code uses) and which keys sign step 2's
Invoke: with the setting, GetId + GetOpenIdToken + sts:AssumeRoleWithWebIdentity, and AuthLambda signed with the
role's keys from STS; without it, the enhanced flow as before. moto's STS accepts any web identity token (AWS
checks it against the pool and the role's trust policy); STS failures are injected at ``before-send``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.exceptions import EndpointConnectionError
from django.test import Client

from dashboard.models import CloudConnectLogin, LambdaFunction
from localaws import stack
from tests.dashboard.conftest import _Raw
from tests.dashboard.test_cloudconnect import (  # noqa: F401 (fixtures)
    PASSWORD,
    auth_answer,
    connect,
    connect_thing,
    page,
    signer,
    site_user,
)
from tests.dashboard.test_cloudconnect_runtime import connected_functions, local_aws, site_client  # noqa: F401

pytestmark = pytest.mark.django_db

ROLE_NAME = "cloud-connect-unauthenticated"


@dataclasses.dataclass
class Sent:
    """Operations sent by the identity pool and STS clients, and the keys STS handed out."""

    operations: list[str] = dataclasses.field(default_factory=list)
    requests: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    sts_keys: list[str] = dataclasses.field(default_factory=list)
    sts_fault: Any = None


@pytest.fixture
def sent(aws: str) -> Iterator[Sent]:
    from cognito_backend.clients import get_client
    from config.aws import get_client as site_aws_client

    recorded = Sent()
    clients = [get_client("cognito-identity"), site_aws_client("sts")]

    def before_send(request: Any, event_name: str, **kwargs: Any) -> Any:
        operation = event_name.rsplit(".", 1)[-1]
        recorded.operations.append(operation)
        recorded.requests.setdefault(operation, []).append(request)
        if operation == "AssumeRoleWithWebIdentity" and recorded.sts_fault is not None:
            return recorded.sts_fault(request)
        return None

    def after_call(model: Any, parsed: Any, **kwargs: Any) -> None:
        if "Credentials" in parsed:
            recorded.sts_keys.append(str(parsed["Credentials"]["AccessKeyId"]))

    for client in clients:
        client.meta.events.register("before-send", before_send)
    clients[1].meta.events.register("after-call.sts.AssumeRoleWithWebIdentity", after_call)
    yield recorded
    for client in clients:
        client.meta.events.unregister("before-send", before_send)
    clients[1].meta.events.unregister("after-call.sts.AssumeRoleWithWebIdentity", after_call)


@pytest.fixture
def unauth_role(settings: Any, identity_pool: str, sample_functions: dict[str, str]) -> str:
    """The pool's unauthenticated role, created in moto's IAM by ``localaws up``'s code from the template (its
    trust policy and its lambda:InvokeFunction on AuthLambda), and named by the setting as ``localaws up`` does."""
    from config.aws import get_client

    iam = get_client("iam")
    arn = stack.ensure_unauth_role(iam, identity_pool, sample_functions["AuthLambda"], [])
    trust = iam.get_role(RoleName=stack.UNAUTH_ROLE)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    [statement] = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {"cognito-identity.amazonaws.com:aud": identity_pool}
    policy = iam.get_role_policy(RoleName=stack.UNAUTH_ROLE, PolicyName="invoke-auth-lambda")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert policy["Statement"][0]["Resource"] == sample_functions["AuthLambda"]
    settings.DASHBOARD = {**(getattr(settings, "DASHBOARD", None) or {}), "CLOUD_CONNECT_UNAUTH_ROLE_ARN": arn}
    return arn


def sts_error(status: int, code: str) -> Any:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error>"
        "<RequestId>r-1</RequestId></ErrorResponse>"
    ).encode()

    def fault(request: Any) -> AWSResponse:
        return AWSResponse(request.url, status, HeadersDict({"Content-Type": "text/xml"}), _Raw(body))

    return fault


def refuse_connection(request: Any) -> Any:
    raise EndpointConnectionError(endpoint_url=request.url)


def test_basic_flow_gets_the_unauthenticated_role_from_sts_and_signs_authlambda_with_it(
    page: Client,  # noqa: F811
    site_user: Any,  # noqa: F811
    cognito: Any,
    user_pool: Any,
    unauth_role: str,
    sent: Sent,
    connect_thing: LambdaFunction,  # noqa: F811
    canned: Any,
    lambda_faults: Any,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD, groups=["users"])
    canned(auth_answer(alice))
    lambda_faults.inject_caller(None)  # only records the Lambda requests

    response = connect(page)

    assert response.status_code == 200, response.content
    html = response.content.decode()
    assert html.count('data-status="done">') == 3
    assert sent.operations == [
        "GetId",
        "GetOpenIdToken",
        "AssumeRoleWithWebIdentity",
        "GetCredentialsForIdentity",  # step 3, with the token under Logins
    ]
    assert "Logins" not in json.loads(sent.requests["GetId"][0].body)
    [assume_request] = sent.requests["AssumeRoleWithWebIdentity"]
    body = assume_request.body
    assume = parse_qs(body.decode() if isinstance(body, bytes) else body)
    assert assume["RoleArn"] == [unauth_role]
    assert assume["WebIdentityToken"][0]  # the identity's OpenID token from GetOpenIdToken
    # AssumeRoleWithWebIdentity is an unsigned call: the server's own keys play no part.
    assert "Authorization" not in assume_request.headers
    [auth_request] = lambda_faults.requests
    assert "/functions/AuthLambda/" in auth_request.url
    assert sent.sts_keys and signer(auth_request) == sent.sts_keys[0]
    [step_3] = sent.requests["GetCredentialsForIdentity"]
    assert json.loads(step_3.body)["Logins"]
    assert CloudConnectLogin.objects.get(user=site_user).cloud_username == "alice"


def test_without_the_setting_step_1_is_the_enhanced_flow(
    page: Client,  # noqa: F811
    cognito: Any,
    user_pool: Any,
    identity_pool: str,
    sent: Sent,
    connect_thing: LambdaFunction,  # noqa: F811
    canned: Any,
    lambda_faults: Any,
) -> None:
    alice = cognito.create_user(user_pool, "alice", PASSWORD, groups=["users"])
    canned(auth_answer(alice))
    lambda_faults.inject_caller(None)

    response = connect(page)

    assert response.status_code == 200, response.content
    assert sent.operations == ["GetId", "GetCredentialsForIdentity", "GetCredentialsForIdentity"]
    anonymous, privileged = sent.requests["GetCredentialsForIdentity"]
    assert "Logins" not in json.loads(anonymous.body) and json.loads(privileged.body)["Logins"]
    assert sent.sts_keys == []
    assert len(lambda_faults.requests) == 1  # AuthLambda, with the enhanced flow's keys


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (sts_error(403, "AccessDenied"), 502, "cloud_connect_identity_refused"),
        (sts_error(503, "ServiceUnavailable"), 503, "cloud_connect_identity_unavailable"),
        (refuse_connection, 503, "cloud_connect_identity_unavailable"),
    ],
    ids=["refused", "sts_unavailable", "unreachable"],
)
def test_sts_failures_are_a_clear_step_1_error_and_invoke_nothing(
    page: Client,  # noqa: F811
    unauth_role: str,
    sent: Sent,
    connect_thing: LambdaFunction,  # noqa: F811
    lambda_faults: Any,
    caplog: Any,
    fault: Any,
    status: int,
    code: str,
) -> None:
    sent.sts_fault = fault
    lambda_faults.inject_caller(None)

    response = connect(page)

    assert response.status_code == status
    html = response.content.decode()
    assert f'data-code="{code}"' in html
    assert '<li id="step-1" data-status="failed">' in html
    assert '<li id="step-2" data-status="pending">' in html
    assert "Traceback" not in html
    assert lambda_faults.requests == []
    assert not CloudConnectLogin.objects.exists()
    assert PASSWORD not in caplog.text


def test_localaws_up_points_the_local_env_at_the_unauthenticated_role(aws: str) -> None:
    """``localaws up`` (provision) creates the role and writes its ARN to .env, so ``bin/run`` takes the basic flow."""
    from config.aws import get_client

    result = stack.provision(aws)

    role = get_client("iam").get_role(RoleName=stack.UNAUTH_ROLE)["Role"]
    assert result.env()["CLOUD_CONNECT_UNAUTH_ROLE_ARN"] == role["Arn"]
    assert stack.provision(aws).unauth_role_arn == role["Arn"]  # found again, not created twice


def test_basic_flow_against_the_local_runtime_signs_the_demo_user_in_and_invokes(
    connected_functions: dict[str, LambdaFunction],  # noqa: F811
    local_aws: Any,  # noqa: F811
    settings: Any,
    sent: Sent,
) -> None:
    """As ``bin/run`` after ``localaws up``: the real AuthLambda (InitiateAuth on the pool), the role from .env."""
    settings.DASHBOARD = {
        **(getattr(settings, "DASHBOARD", None) or {}),
        "CLOUD_CONNECT_UNAUTH_ROLE_ARN": local_aws.env()["CLOUD_CONNECT_UNAUTH_ROLE_ARN"],
    }
    _, client = site_client()

    response = client.post(
        "/dashboard/cloud-connect/", {"username": stack.DEMO_USERNAME, "password": stack.DEMO_PASSWORD}
    )

    assert response.status_code == 200, response.content
    assert response.content.decode().count('data-status="done">') == 3
    assert sent.operations[:3] == ["GetId", "GetOpenIdToken", "AssumeRoleWithWebIdentity"]
    assert json.loads(sent.requests["GetId"][0].body)["IdentityPoolId"] == local_aws.identity_pool_id
    answer = client.post("/api/lambdas/thing/invoke/", {"action": "LIST"}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["result"]["things"]
