"""The local AWS (``localaws.stack.provision()``) has the pool, clients, groups and identity pool the template
describes, property for property, with the local parameter values: local and real cannot drift apart.

Each resource is described back from the stand-in (DescribeUserPool, DescribeUserPoolClient, ListGroups,
DescribeIdentityPool) and every property the template sets must read the same there. The few properties that
are not read back this way are named in ``NOT_DESCRIBED`` with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from cognito_backend.clients import get_client
from localaws import stack, template

NOT_DESCRIBED = {
    # CloudFormation's own property; in the API it is SetUserPoolMfaConfig, and moto offers TOTP by its environment.
    ("UserPool", "EnabledMfas"),
    # Compared under their described names: the pool's Name, its SchemaAttributes, the client's ClientSecret.
    ("UserPool", "UserPoolName"),
    ("UserPool", "Schema"),
    ("UserPoolClient", "GenerateSecret"),
    # Sent by provisioning (CreateIdentityPool), but moto neither keeps nor describes it (it has no classic flow
    # to turn off: GetOpenIdToken and AssumeRoleWithWebIdentity always answer there).
    ("IdentityPool", "AllowClassicFlow"),
}
STANDARD_ATTRIBUTES = {"email", "phone_number", "name", "given_name", "family_name", "preferred_username"}


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected``; dicts are compared on ``expected``'s keys."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return [
            found for key, value in expected.items() for found in differences(value, actual.get(key), f"{path}.{key}")
        ]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        if all(isinstance(item, str) for item in expected):
            return [] if sorted(expected) == sorted(actual) else [f"{path}: {expected!r} != {actual!r}"]
        return [
            found
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for found in differences(e, a, f"{path}[{i}]")
        ]
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if str(expected).lower() == str(actual).lower() else [f"{path}: {expected!r} != {actual!r}"]
    return [] if str(expected) == str(actual) else [f"{path}: {expected!r} != {actual!r}"]


def compared(properties: dict[str, Any], kind: str) -> dict[str, Any]:
    return {key: value for key, value in properties.items() if (kind, key) not in NOT_DESCRIBED}


def user_pool_differences(resolver: template.Resolver, pool_id: str) -> list[str]:
    expected = resolver.properties("UserPool")
    pool = get_client("cognito-idp").describe_user_pool(UserPoolId=pool_id)["UserPool"]
    found = differences(expected["UserPoolName"], pool["Name"], "UserPool.Name")
    found += differences(compared(expected, "UserPool"), pool, "UserPool")
    described = {attribute["Name"]: attribute for attribute in pool["SchemaAttributes"]}
    for attribute in expected["Schema"]:
        name = attribute["Name"] if attribute["Name"] in STANDARD_ATTRIBUTES else f"custom:{attribute['Name']}"
        wanted = {key: value for key, value in attribute.items() if key != "Name"}
        found += differences(wanted, described.get(name), f"UserPool.Schema.{name}")
    return found


def app_client_differences(resolver: template.Resolver, pool_id: str) -> list[str]:
    idp = get_client("cognito-idp")
    found = []
    for logical_id in template.resources_of("AWS::Cognito::UserPoolClient"):
        expected = resolver.properties(logical_id)
        client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=resolver.ids[logical_id])["UserPoolClient"]
        found += differences(compared(expected, "UserPoolClient"), client, logical_id)
        if ("ClientSecret" in client) is not expected.get("GenerateSecret", False):
            found.append(
                f"{logical_id}.GenerateSecret: {expected.get('GenerateSecret')!r}, secret: {'ClientSecret' in client}"
            )
    return found


def group_differences(resolver: template.Resolver, pool_id: str) -> list[str]:
    described = {g["GroupName"]: g for g in get_client("cognito-idp").list_groups(UserPoolId=pool_id)["Groups"]}
    expected = [resolver.properties(logical_id) for logical_id in template.resources_of("AWS::Cognito::UserPoolGroup")]
    found = differences(sorted(group["GroupName"] for group in expected), sorted(described), "groups")
    for group in expected:
        found += differences(group, described.get(group["GroupName"]), f"group {group['GroupName']}")
    return found


def identity_pool_differences(resolver: template.Resolver, identity_pool_id: str) -> list[str]:
    described = get_client("cognito-identity").describe_identity_pool(IdentityPoolId=identity_pool_id)
    return differences(compared(resolver.properties("IdentityPool"), "IdentityPool"), described, "IdentityPool")


def test_local_pool_clients_groups_and_identity_pool_have_the_templates_properties(aws: str) -> None:
    result = stack.provision(aws)
    idp = get_client("cognito-idp")
    pages = idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=result.user_pool_id, MaxResults=60)
    clients = {c["ClientName"]: c["ClientId"] for page in pages for c in page["UserPoolClients"]}
    ids = {"UserPool": result.user_pool_id}
    names = stack.local_template("us-east-1", ids)
    for logical_id in template.resources_of("AWS::Cognito::UserPoolClient"):
        ids[logical_id] = clients[names.properties(logical_id)["ClientName"]]
    resolver = stack.local_template("us-east-1", ids)
    assert ids["ServerClient"] == result.app_client_id
    assert len(clients) == len(template.resources_of("AWS::Cognito::UserPoolClient")) >= 2

    found = user_pool_differences(resolver, result.user_pool_id)
    found += app_client_differences(resolver, result.user_pool_id)
    found += group_differences(resolver, result.user_pool_id)
    found += identity_pool_differences(resolver, result.identity_pool_id)
    assert found == []


def test_differences_names_each_property_that_differs() -> None:
    expected = {"Policies": {"PasswordPolicy": {"MinimumLength": 12}}, "Flows": ["b", "a"], "On": True}
    actual = {"Policies": {"PasswordPolicy": {"MinimumLength": 8, "Other": 1}}, "Flows": ["a", "b"], "On": "true"}
    assert differences(expected, actual) == [".Policies.PasswordPolicy.MinimumLength: 12 != 8"]
    assert differences({"Flows": ["a"]}, {}) == [".Flows: expected ['a'], got None"]


# once: no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
