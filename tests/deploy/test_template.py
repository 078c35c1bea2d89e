"""deploy/cognito.yaml says what the code needs: the server's client allows exactly the auth flows the code uses,
the hosted UI's client is public with the scopes the site asks for, and every function's code is where the
template points (``aws cloudformation package`` uploads those paths) and is the one the local stand-in runs.
(cfn-lint checks the template itself in ``bin/test``.)"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from accounts import hosted
from localaws import stack, template
from tests.deploy.operations import ROOT, scan

DEPLOY = ROOT / "deploy"
FLOW_PERMISSION = {
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "ADMIN_USER_PASSWORD_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
    "USER_AUTH": "ALLOW_USER_AUTH",
}


def client_properties(logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template.load()["Resources"][logical_id]["Properties"]
    return properties


def test_server_client_allows_exactly_the_auth_flows_the_code_uses() -> None:
    # The server's code and AuthLambda (which signs Cloud Connect users in with the server's client).
    flows = scan().auth_flows | scan(ROOT / "lambdas").auth_flows
    if ("cognito-idp", "get_tokens_from_refresh_token") in scan().operations:
        flows.add("REFRESH_TOKEN_AUTH")
    assert "USER_PASSWORD_AUTH" in flows
    assert sorted(client_properties("ServerClient")["ExplicitAuthFlows"]) == sorted({FLOW_PERMISSION[f] for f in flows})


def test_hosted_ui_client_is_public_with_the_code_grant_and_the_scopes_the_site_asks_for() -> None:
    properties = client_properties("HostedUiClient")
    assert properties["GenerateSecret"] is False
    assert properties["AllowedOAuthFlows"] == ["code"]
    assert sorted(properties["AllowedOAuthScopes"]) == sorted(str(hosted.DEFAULTS["SCOPES"]).split())
    assert properties["CallbackURLs"] == {"Ref": "CallbackUrls"}
    assert properties["LogoutURLs"] == {"Ref": "LogoutUrls"}


def defines(module: Path, function: str) -> bool:
    tree = ast.parse(module.read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == function for node in tree.body)


def test_every_functions_code_and_handler_are_where_the_template_says() -> None:
    resources = template.load()["Resources"]
    functions = template.resources_of("AWS::Lambda::Function")
    assert functions
    for logical_id in functions:
        properties = resources[logical_id]["Properties"]
        code = (DEPLOY / properties["Code"]).resolve()
        module, function = properties["Handler"].rsplit(".", 1)
        assert code.is_dir() and ROOT in code.parents, logical_id
        assert defines(code / f"{module}.py", function), logical_id


def test_the_sample_functions_are_the_ones_the_local_stand_in_runs() -> None:
    resources = template.load()["Resources"]
    deployed = {
        resources[logical_id]["Properties"]["FunctionName"]: resources[logical_id]["Properties"]
        for logical_id in template.resources_of("AWS::Lambda::Function")
        if "FunctionName" in resources[logical_id]["Properties"]
    }
    assert sorted(deployed) == sorted(stack.SAMPLE_FUNCTIONS)
    for name, spec in stack.SAMPLE_FUNCTIONS.items():
        assert deployed[name]["Handler"] == f"{spec['module']}.handler", name
        assert (DEPLOY / deployed[name]["Code"]).resolve() == stack.LAMBDAS_DIR.resolve(), name
        assert deployed[name]["Timeout"] == stack.SAMPLE_TIMEOUT, name


def resolved(**parameters: str) -> template.Resolver:
    trigger_arn = "arn:aws:lambda:eu-west-1:123456789012:function:trigger"
    return template.Resolver(
        {**stack.TEMPLATE_PARAMETERS, **parameters},
        {"UserPool": "eu-west-1_AbC"},
        region="eu-west-1",
        attributes={
            ("MigrationTriggerFunction", "Arn"): trigger_arn,
            ("FunctionRole", "Arn"): "arn:aws:iam::123456789012:role/functions",
        },
    )


def test_migration_trigger_is_attached_only_when_the_sites_endpoint_is_given() -> None:
    resources = template.load()["Resources"]
    assert "LambdaConfig" not in resolved().properties("UserPool")
    assert not resolved().condition("HasMigrationTrigger")
    on = resolved(MigrationEndpointUrl="https://site.example/api/migration/trigger/", MigrationSharedSecret="s")
    assert on.properties("UserPool")["LambdaConfig"] == {
        "UserMigration": on.attributes[("MigrationTriggerFunction", "Arn")]
    }
    assert on.properties("MigrationTriggerFunction")["Environment"]["Variables"]["MIGRATION_ENDPOINT_URL"] == (
        "https://site.example/api/migration/trigger/"
    )
    for logical_id in ("MigrationTriggerFunction", "MigrationTriggerPermission"):
        assert resources[logical_id]["Condition"] == "HasMigrationTrigger"
    assert template.load()["Parameters"]["MigrationSharedSecret"]["NoEcho"] is True


def test_email_goes_through_ses_only_when_a_sender_identity_is_given() -> None:
    assert resolved().properties("UserPool")["EmailConfiguration"] == {"EmailSendingAccount": "COGNITO_DEFAULT"}
    arn = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
    assert resolved(SesSourceArn=arn).properties("UserPool")["EmailConfiguration"] == {
        "EmailSendingAccount": "DEVELOPER",
        "SourceArn": arn,
    }
    assert (
        resolved(SesSourceArn=arn, FromEmailAddress="no-reply@example.com").properties("UserPool")[
            "EmailConfiguration"
        ]["From"]
        == "no-reply@example.com"
    )


def test_mfa_deletion_protection_and_token_lifetimes_are_parameters() -> None:
    pool = resolved(MfaConfiguration="ON", DeletionProtection="INACTIVE").properties("UserPool")
    assert (pool["MfaConfiguration"], pool["DeletionProtection"], pool["EnabledMfas"]) == (
        "ON",
        "INACTIVE",
        ["SOFTWARE_TOKEN_MFA"],
    )
    assert resolved().properties("UserPool")["DeletionProtection"] == "ACTIVE"
    lifetimes = {"AccessTokenValidityMinutes": "15", "IdTokenValidityMinutes": "20", "RefreshTokenValidityDays": "7"}
    for logical_id in template.resources_of("AWS::Cognito::UserPoolClient"):
        client = resolved(**lifetimes).properties(logical_id)
        assert (client["AccessTokenValidity"], client["IdTokenValidity"], client["RefreshTokenValidity"]) == (
            "15",
            "20",
            "7",
        )
        assert client["TokenValidityUnits"] == {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"}


# once: no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
