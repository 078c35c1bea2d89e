"""Sign-up and the profile set only attributes the app client may write in the pool (DescribeUserPoolClient's
``WriteAttributes`` over the pool's schema), the profile only mutable ones. moto stores and answers both as given
and would accept any ``custom:*`` attribute itself, so a refusal here is ours."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.accounts.conftest import bearer
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, UserPool

SIGN_UP = "/api/auth/sign-up/"
PROFILE = "/api/auth/profile/"
SCHEMA = [
    {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
    {"Name": "telnum", "AttributeDataType": "String", "Mutable": True},
    {"Name": "tier", "AttributeDataType": "String", "Mutable": False},
    {"Name": "role", "AttributeDataType": "String", "Mutable": True},
]
WRITABLE = ["email", "name", "custom:telnum", "custom:tier"]


def _pool(cognito: CognitoFactory, settings: Any, write_attributes: list[str] | None) -> UserPool:
    pool_id = cognito.create_pool(Schema=SCHEMA)
    params: dict[str, Any] = {
        "UserPoolId": pool_id,
        "ClientName": "web",
        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"],
    }
    if write_attributes is not None:
        params["WriteAttributes"] = write_attributes
    client_id = cognito.idp.create_user_pool_client(**params)["UserPoolClient"]["ClientId"]
    pool = UserPool(pool_id=pool_id, client_id=client_id, endpoint=cognito.endpoint)
    settings.COGNITO = pool.settings()
    return pool


@pytest.fixture
def pool(cognito: CognitoFactory, settings: Any) -> UserPool:
    return _pool(cognito, settings, WRITABLE)


def _sign_up(api: APIClient, name: str, attributes: dict[str, str]) -> Any:
    body = {"username": name, "password": DEFAULT_PASSWORD, "email": f"{name}@example.com", "attributes": attributes}
    return api.post(SIGN_UP, body, format="json")


@pytest.mark.parametrize(
    "attributes",
    [{"custom:role": "admin"}, {"custom:nothing": "x"}, {"custom:telnum": "1", "custom:role": "admin"}],
    ids=["not-writable", "not-in-the-pool", "one-of-two"],
)
def test_sign_up_refuses_attributes_the_client_may_not_write(
    api: APIClient, pool: UserPool, attributes: dict[str, str]
) -> None:
    response = _sign_up(api, "mallory", attributes)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter"
    assert "attributes" in response.json()["fields"]


def test_sign_up_sets_writable_attributes_immutable_ones_included(
    api: APIClient, cognito: CognitoFactory, pool: UserPool
) -> None:
    response = _sign_up(api, "alice", {"custom:telnum": "7", "custom:tier": "gold"})
    assert response.status_code == 201, response.content
    user = cognito.idp.admin_get_user(UserPoolId=pool.pool_id, Username="alice")
    values = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert (values["custom:telnum"], values["custom:tier"]) == ("7", "gold")


@pytest.mark.parametrize(
    ("attributes", "status"),
    [
        ({"custom:telnum": "8"}, 200),
        ({"name": "Alice A."}, 200),
        ({"custom:tier": "platinum"}, 400),
        ({"custom:role": "admin"}, 400),
        ({"custom:nothing": "x"}, 400),
    ],
)
def test_the_profile_sets_only_mutable_writable_attributes(
    api: APIClient, cognito: CognitoFactory, pool: UserPool, attributes: dict[str, str], status: int
) -> None:
    user = cognito.create_user(pool, "alice")
    response = bearer(api, user.tokens.access_token).patch(PROFILE, {"attributes": attributes}, format="json")
    assert response.status_code == status, response.content


def test_a_client_without_write_attributes_may_write_every_attribute_of_the_pool(
    api: APIClient, cognito: CognitoFactory, settings: Any
) -> None:
    _pool(cognito, settings, None)
    assert _sign_up(api, "alice", {"custom:role": "reader"}).status_code == 201
    assert _sign_up(api, "bob", {"custom:nothing": "x"}).status_code == 400


@pytest.fixture
def describe_calls(aws: str) -> Iterator[list[str]]:
    from cognito_backend.clients import get_client

    client = get_client("cognito-idp")
    calls: list[str] = []

    def record(**kwargs: Any) -> None:
        calls.append(kwargs["event_name"].rsplit(".", 1)[-1])

    for operation in ("DescribeUserPoolClient", "DescribeUserPool"):
        client.meta.events.register(f"before-call.cognito-identity-provider.{operation}", record)
    yield calls
    for operation in ("DescribeUserPoolClient", "DescribeUserPool"):
        client.meta.events.unregister(f"before-call.cognito-identity-provider.{operation}", record)


def test_the_pools_writable_attributes_are_read_once_per_process(
    api: APIClient, pool: UserPool, describe_calls: list[str]
) -> None:
    for name in ("alice", "bob", "carol"):
        assert _sign_up(api, name, {"custom:telnum": "1"}).status_code == 201
    assert describe_calls.count("DescribeUserPoolClient") == 1
