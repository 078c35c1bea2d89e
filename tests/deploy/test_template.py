"""deploy/cognito.yaml says what the code needs: the server's client allows exactly the auth flows the code uses,
the hosted UI's client is public with the scopes the site asks for, and every function's code is where the
template points (``aws cloudformation package`` uploads those paths) and is the one the local stand-in runs.
(cfn-lint checks the template itself in ``bin/test``.)"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

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
