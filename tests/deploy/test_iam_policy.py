"""The server's IAM policy in deploy/cognito.yaml grants exactly the IAM-authorized operations the code calls.

The operations are found by reading the project's source (tests/deploy/operations.py). Cognito's public and
token-authorized operations (InitiateAuth, SignUp, GetUser, GlobalSignOut ... and the identity pool's GetId and
GetCredentialsForIdentity) are not subject to IAM policies: they must not be in the policy, and every other
operation the code calls must be, on this template's resources only.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from localaws import template
from tests.deploy.operations import api_name, scan

# Operations AWS authorizes without IAM: by the app client id (public) or by the user's access token. Source: the
# Cognito developer guide, "Authorization models for API and SDK operations" (user pools) and the identity
# pools' unauthenticated operations.
NOT_IAM_AUTHORIZED = {
    "cognito-idp": {
        "AssociateSoftwareToken",
        "ChangePassword",
        "ConfirmDevice",
        "ConfirmForgotPassword",
        "ConfirmSignUp",
        "DeleteUser",
        "DeleteUserAttributes",
        "ForgetDevice",
        "ForgotPassword",
        "GetDevice",
        "GetTokensFromRefreshToken",
        "GetUser",
        "GetUserAttributeVerificationCode",
        "GlobalSignOut",
        "InitiateAuth",
        "ListDevices",
        "ResendConfirmationCode",
        "RespondToAuthChallenge",
        "RevokeToken",
        "SetUserMFAPreference",
        "SignUp",
        "UpdateDeviceStatus",
        "UpdateUserAttributes",
        "VerifySoftwareToken",
        "VerifyUserAttribute",
    },
    "cognito-identity": {"GetId", "GetCredentialsForIdentity", "GetOpenIdToken", "UnlinkIdentity"},
    # The STS API reference: "Calling AssumeRoleWithWebIdentity does not require the use of AWS security
    # credentials" (botocore sends it unsigned); the role's trust policy decides, not the caller's policy.
    # Cloud Connect's step 1 in the identity pool's basic flow (CLOUD_CONNECT_UNAUTH_ROLE_ARN).
    "sts": {"AssumeRoleWithWebIdentity"},
}
# IAM action names that differ from the API operation's name.
IAM_ACTION = {("lambda", "Invoke"): "InvokeFunction"}
# The seam itself takes the operation as an argument; every other call names its operation.
SEAM = {"cognito_backend/idp.py:call", "cognito_backend/idp.py:call_service"}


def iam_actions_the_code_needs() -> set[str]:
    actions = set()
    for service, method in scan().operations:
        operation = api_name(service, method)
        if operation in NOT_IAM_AUTHORIZED.get(service, set()):
            continue
        actions.add(f"{service}:{IAM_ACTION.get((service, operation), operation)}")
    return actions


def server_policy_statements() -> list[dict[str, Any]]:
    document = template.load()["Resources"]["ServerPolicy"]["Properties"]["PolicyDocument"]
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_aws_call_of_the_code_names_its_operation() -> None:
    assert scan().unresolved == SEAM


def test_server_policy_grants_exactly_the_iam_authorized_operations_the_code_calls() -> None:
    granted = {action for statement in server_policy_statements() for action in _as_list(statement["Action"])}
    needed = iam_actions_the_code_needs()
    assert sorted(granted - needed) == [], "granted but never called"
    assert sorted(needed - granted) == [], "called but not granted"


def test_server_policy_allows_only_on_this_templates_resources() -> None:
    resources = template.load()["Resources"]
    for statement in server_policy_statements():
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in _as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"]):
            assert isinstance(resource, dict) and set(resource) == {"Fn::GetAtt"}, resource
            logical_id, attribute = resource["Fn::GetAtt"]
            assert attribute == "Arn"
            services = {action.split(":")[0] for action in _as_list(statement["Action"])}
            expected_type = {"cognito-idp": "AWS::Cognito::UserPool", "lambda": "AWS::Lambda::Function"}
            assert {expected_type[s] for s in services} == {resources[logical_id]["Type"]}


def test_scan_finds_each_way_the_code_calls_aws(tmp_path: Path) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "views.py").write_text(
        textwrap.dedent(
            """
            from cognito_backend import idp
            from cognito_backend.idp import call, call_service
            from config.aws import get_client

            def one():
                call("admin_get_user", UserPoolId="p", Username="u")
                idp.call("list_groups", UserPoolId="p")
                call_service("cognito-identity", "get_id", IdentityPoolId="i")

            def lambda_client(timeout):
                client = get_client("lambda", read_timeout=timeout)
                return client

            def two():
                lambda_client(3).invoke(FunctionName="f")
                client = lambda_client(3)
                client.get_function(FunctionName="f")

            def three(name):
                call(name)

            def handed_in(client):
                client.get_alias(FunctionName="f", Name="a")
            """
        )
    )
    (package / "lean.py").write_text(
        textwrap.dedent(
            """
            import services

            def send(lambda_client, other):
                lambda_client.invoke_async(FunctionName="f")
                other.list_functions()
                services.get_alias()
            """
        )
    )
    result = scan(tmp_path)
    assert result.operations == {
        ("cognito-idp", "admin_get_user"),
        ("cognito-idp", "list_groups"),
        ("cognito-identity", "get_id"),
        ("lambda", "invoke"),
        ("lambda", "get_function"),
        ("lambda", "get_alias"),
        ("lambda", "invoke_async"),
    }
    assert result.unresolved == {"app/views.py:three"}


# once: no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
