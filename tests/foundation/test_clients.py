"""The two boto3 seams: the package's (``COGNITO_AWS``) and the site's (``AWS``), each from its own setting."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from cognito_backend.clients import get_client
from config import aws as site_aws
from tests.conftest import free_port


@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_counts_every_request_sent(settings: Any, attempts: int) -> None:
    # Fault: the endpoint is a closed port, so every attempt fails to connect and is retried if allowed.
    settings.COGNITO_AWS = {**settings.COGNITO_AWS, "ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    client = get_client("cognito-idp", max_attempts=attempts)
    sent: list[str] = []
    client.meta.events.register("before-send.cognito-idp.ListUserPools", lambda **kw: sent.append("x"))
    with pytest.raises(EndpointConnectionError):
        client.list_user_pools(MaxResults=1)
    assert len(sent) == attempts


def test_client_uses_the_endpoint_from_settings(aws: str) -> None:
    assert get_client("cognito-idp").meta.endpoint_url == aws


def test_clients_are_built_once_per_configuration() -> None:
    assert get_client("cognito-idp") is get_client("cognito-idp")
    assert get_client("cognito-idp", max_attempts=1) is not get_client("cognito-idp")
    assert site_aws.get_client("lambda") is site_aws.get_client("lambda")


def test_the_package_seam_reads_its_own_setting_not_the_sites_aws(settings: Any, aws: str) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}"
    settings.AWS = {**settings.AWS, "ENDPOINT_URL": elsewhere}
    assert get_client("cognito-idp").meta.endpoint_url == aws
    assert site_aws.get_client("lambda").meta.endpoint_url == elsewhere
    settings.COGNITO_AWS = {**settings.COGNITO_AWS, "ENDPOINT_URLS": {"cognito-idp": elsewhere}}
    assert get_client("cognito-idp").meta.endpoint_url == elsewhere


def test_the_package_seam_works_without_any_aws_setting(settings: Any) -> None:
    # A site that only sets COGNITO: the region comes from COGNITO['REGION'], the endpoint from boto3.
    del settings.COGNITO_AWS
    del settings.AWS
    settings.COGNITO = {**settings.COGNITO, "REGION": "eu-west-1"}
    client = get_client("cognito-idp")
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "https://cognito-idp.eu-west-1.amazonaws.com"


def test_a_client_built_again_after_a_reset_reads_no_botocore_data_file_again(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every seam builds its clients from one boto3 session per process, whose loader keeps botocore's parsed
    JSON (service model, endpoints): a fresh session per client parsed it again (about 0.15 s of CPU each)."""
    from botocore.loaders import JSONFileLoader

    from cognito_backend.clients import reset_clients

    get_client("cognito-idp")
    site_aws.get_client("lambda")
    reads: list[str] = []
    original = JSONFileLoader.load_file

    def counted(self: JSONFileLoader, path: str) -> Any:
        reads.append(path)
        return original(self, path)

    monkeypatch.setattr(JSONFileLoader, "load_file", counted)
    reset_clients()
    site_aws.reset_clients()
    settings.COGNITO_AWS = {**settings.COGNITO_AWS, "READ_TIMEOUT": 7.0}  # another configuration: a new client
    assert get_client("cognito-idp").meta.config.read_timeout == 7.0
    assert site_aws.get_client("lambda") is not None
    assert reads == []
