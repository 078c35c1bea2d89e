"""The one boto3 seam: endpoint from settings, and ``max_attempts`` counting every attempt."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from cognito_backend.clients import get_client
from tests.conftest import free_port


@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_counts_every_request_sent(settings: Any, attempts: int) -> None:
    # Fault: the endpoint is a closed port, so every attempt fails to connect and is retried if allowed.
    settings.AWS = {**settings.AWS, "ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    client = get_client("cognito-idp", max_attempts=attempts)
    sent: list[str] = []
    client.meta.events.register("before-send.cognito-idp.ListUserPools", lambda **kw: sent.append("x"))
    with pytest.raises(EndpointConnectionError):
        client.list_user_pools(MaxResults=1)
    assert len(sent) == attempts


def test_client_uses_the_endpoint_from_settings(aws: str) -> None:
    assert get_client("cognito-idp").meta.endpoint_url == aws


def test_clients_are_built_once_per_configuration() -> None:
    assert get_client("lambda") is get_client("lambda")
    assert get_client("lambda", max_attempts=1) is not get_client("lambda")
