"""The JWKS cache against a real HTTP server the test controls (no mocks): caching, single fetch, penalty box,
rotation, outages and timeouts."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from cognito_backend import exceptions
from cognito_backend.jwks import jwks_cache
from cognito_backend.tokens import token_cache, verify_token

from .conftest import JwksServer, SigningKey, forged_claims

pytestmark = pytest.mark.django_db


def sign(key: SigningKey, **claims: Any) -> str:
    return key.sign({"alg": "RS256", "kid": key.kid}, forged_claims(**claims))


def new_key(kid: str, bits: int = 2048) -> SigningKey:
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=bits), kid)


def test_keys_are_fetched_once_and_reused(forged_pool: JwksServer, moto_key: SigningKey) -> None:
    verify_token(sign(moto_key))
    verify_token(sign(moto_key, jti="another"))
    assert forged_pool.requests == 1


def test_keys_come_from_the_django_cache_in_a_fresh_process(forged_pool: JwksServer, moto_key: SigningKey) -> None:
    verify_token(sign(moto_key))
    jwks_cache.clear()  # what a second process sees: nothing in memory, the shared cache filled
    token_cache.clear()
    verify_token(sign(moto_key))
    assert forged_pool.requests == 1


def test_concurrent_cold_requests_share_one_fetch(forged_pool: JwksServer, moto_key: SigningKey) -> None:
    forged_pool.delay = 0.3
    tokens = [sign(moto_key, jti=f"t{i}") for i in range(12)]
    errors: list[BaseException] = []

    def run(token: str) -> None:
        try:
            verify_token(token)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert forged_pool.requests == 1


def test_unknown_kids_trigger_at_most_one_fetch_per_penalty_period(
    forged_pool: JwksServer, moto_key: SigningKey
) -> None:
    verify_token(sign(moto_key))
    for i in range(20):
        with pytest.raises(exceptions.KidNotFound):
            verify_token(moto_key.sign({"alg": "RS256", "kid": f"made-up-{i}"}, forged_claims()))
    assert forged_pool.requests == 1


def test_unknown_kid_refetches_after_the_penalty_period(
    forged_pool: JwksServer, moto_key: SigningKey, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "JWKS_PENALTY_SECONDS": 0.2}
    verify_token(sign(moto_key))
    time.sleep(0.3)
    with pytest.raises(exceptions.KidNotFound):
        verify_token(moto_key.sign({"alg": "RS256", "kid": "made-up"}, forged_claims()))
    assert forged_pool.requests == 2


def test_rotated_key_is_picked_up(forged_pool: JwksServer, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "JWKS_PENALTY_SECONDS": 0.2}
    verify_token(sign(moto_key))
    rotated = new_key("rotated")
    forged_pool.set_keys(moto_key.public_jwk(), rotated.public_jwk())
    time.sleep(0.3)
    assert verify_token(sign(rotated)).sub
    assert verify_token(sign(moto_key, jti="old-key-still-listed")).sub


def test_known_keys_keep_working_while_cognito_is_down(forged_pool: JwksServer, moto_key: SigningKey) -> None:
    verify_token(sign(moto_key))
    forged_pool.status = 500
    token_cache.clear()
    assert verify_token(sign(moto_key, jti="while-down")).sub


def test_unknown_kid_while_cognito_is_down_is_a_503(
    forged_pool: JwksServer, moto_key: SigningKey, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "JWKS_PENALTY_SECONDS": 0}
    verify_token(sign(moto_key))
    forged_pool.status = 503
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION="Bearer " + sign(new_key("new-kid")))
    assert response.status_code == 503
    assert response.json()["code"] == "jwks_unavailable"


@pytest.mark.parametrize(
    ("fault", "value"),
    [("status", 500), ("status", 404), ("body", b"<html>not json</html>"), ("body", b'{"keys": "nope"}')],
)
def test_cold_cache_and_broken_jwks_endpoint_is_a_503(
    forged_pool: JwksServer, moto_key: SigningKey, fault: str, value: Any
) -> None:
    setattr(forged_pool, fault, value)
    with pytest.raises(exceptions.JwksUnavailable):
        verify_token(sign(moto_key))


def test_unreachable_jwks_endpoint_is_a_503(forged_pool: JwksServer, moto_key: SigningKey, settings: Any) -> None:
    from tests.conftest import free_port

    settings.COGNITO = {**settings.COGNITO, "JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json"}
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION="Bearer " + sign(moto_key))
    assert response.status_code == 503
    assert response.json()["code"] == "jwks_unavailable"


def test_slow_jwks_endpoint_times_out_instead_of_hanging(
    forged_pool: JwksServer, moto_key: SigningKey, settings: Any
) -> None:
    settings.COGNITO = {**settings.COGNITO, "JWKS_READ_TIMEOUT": 0.2}
    forged_pool.delay = 2.0
    with pytest.raises(exceptions.JwksUnavailable):
        verify_token(sign(moto_key))


def test_failed_fetch_is_not_retried_at_once(forged_pool: JwksServer, moto_key: SigningKey) -> None:
    forged_pool.status = 500
    for _ in range(5):
        with pytest.raises(exceptions.JwksUnavailable):
            verify_token(sign(moto_key))
    assert forged_pool.requests == 1


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"use": "enc"}, "invalid_jwk"),
        ({"use": None}, "invalid_jwk"),
        ({"kty": "EC"}, "invalid_jwk"),
        ({"n": None}, "invalid_jwk"),
        ({"alg": "RS512"}, "invalid_algorithm"),
    ],
)
def test_key_that_does_not_fit_the_token_is_refused(
    forged_pool: JwksServer, moto_key: SigningKey, override: dict[str, Any], code: str
) -> None:
    forged_pool.set_keys(moto_key.public_jwk(**override))
    with pytest.raises(exceptions.TokenError) as caught:
        verify_token(sign(moto_key))
    assert caught.value.code == code


def test_short_rsa_key_is_refused(forged_pool: JwksServer) -> None:
    weak = new_key("weak", bits=1024)
    forged_pool.set_keys(weak.public_jwk())
    with pytest.raises(exceptions.InvalidJwk):
        verify_token(sign(weak))


def test_several_pools_are_each_verified_against_their_own_keys(
    forged_pool: JwksServer, moto_key: SigningKey, settings: Any, jwks_server_factory: Any
) -> None:
    second_key = new_key("second")
    second = jwks_server_factory()
    second.set_keys(second_key.public_jwk())
    issuer2 = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Second"
    settings.COGNITO = {
        **settings.COGNITO,
        "POOLS": [{"USER_POOL_ID": "eu-west-1_Second", "APP_CLIENT_IDS": ["c2", "c3"], "JWKS_URL": second.url}],
    }
    token = second_key.sign({"alg": "RS256", "kid": "second"}, forged_claims(iss=issuer2, client_id="c3"))
    assert verify_token(token).pool.pool_id == "eu-west-1_Second"
    assert verify_token(sign(moto_key)).pool.pool_id == "us-east-1_Forged1"
    # A key of pool 2 does not sign for pool 1, and pool 1's client is not pool 2's.
    with pytest.raises(exceptions.KidNotFound):
        verify_token(second_key.sign({"alg": "RS256", "kid": "second"}, forged_claims()))
    with pytest.raises(exceptions.InvalidClientId):
        verify_token(second_key.sign({"alg": "RS256", "kid": "second"}, forged_claims(iss=issuer2)))


# --- faults while reading the body (urllib3 errors, raised past requests' own wrapping) ------------------------


class RawHttpServer:
    """A loopback server that writes ``response`` bytes as given, then holds the connection ``hold`` seconds
    (a stalled body) or closes it (a truncated one). Counts connections."""

    def __init__(self, response: bytes, hold: float = 0.0) -> None:
        self.response = response
        self.hold = hold
        self.requests = 0
        self.released = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/jwks.json"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.requests += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(self.response)
                self.released.wait(self.hold)
            except OSError:
                pass

    def close(self) -> None:
        self.released.set()
        self.sock.close()


def _http(headers: str, body: bytes) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}\r\n".encode() + body


@pytest.mark.parametrize(
    ("response", "hold"),
    [
        # Content-Length promises 4000 bytes, 20 arrive, then the connection closes: urllib3 ProtocolError.
        pytest.param(_http("Content-Length: 4000\r\n", b'{"keys": [{"kid": "du'), 0.0, id="truncated-body"),
        # Headers and a first chunk of the body, then nothing past the read timeout: urllib3 ReadTimeoutError.
        pytest.param(_http("Content-Length: 4000\r\n", b'{"keys": ['), 3.0, id="stalled-body"),
        pytest.param(_http("Content-Length: 4000\r\n", b""), 3.0, id="headers-then-nothing"),
        # Content-Encoding: gzip over bytes that are not gzip: urllib3 DecodeError.
        pytest.param(
            _http("Content-Encoding: gzip\r\nContent-Length: 32\r\n", b"this is not gzip at all, really!"),
            0.0,
            id="bad-gzip",
        ),
    ],
)
def test_broken_jwks_body_is_a_503_and_starts_the_penalty_period(
    forged_pool: JwksServer, moto_key: SigningKey, settings: Any, response: bytes, hold: float
) -> None:
    server = RawHttpServer(response, hold)
    try:
        settings.COGNITO = {**settings.COGNITO, "JWKS_URL": server.url, "JWKS_READ_TIMEOUT": 0.3}
        for attempt in range(3):
            answer = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION="Bearer " + sign(moto_key, jti=f"a{attempt}"))
            assert answer.status_code == 503, answer.content
            assert answer.json()["code"] == "jwks_unavailable"
        assert server.requests == 1  # the failure started the penalty period: no refetch
    finally:
        server.close()


def test_penalty_box_is_checked_before_the_shared_cache_and_any_parse(
    forged_pool: JwksServer, moto_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aws-jwt-verify order: an unknown kid in the penalty period is refused before any work (a Django cache
    read and a parse of the whole key set cost about three valid verifications)."""
    from django.core.cache import cache as real_cache

    from cognito_backend import jwks

    verify_token(sign(moto_key))
    work: list[str] = []
    real_parse = jwks.parse_jwks

    class SpyCache:
        def get(self, key: str, default: Any = None) -> Any:
            work.append("cache.get")
            return real_cache.get(key, default)

        def set(self, *args: Any, **kwargs: Any) -> None:
            real_cache.set(*args, **kwargs)

    def spy_parse(document: Any) -> Any:
        work.append("parse_jwks")
        return real_parse(document)

    monkeypatch.setattr(jwks, "parse_jwks", spy_parse)
    monkeypatch.setattr(jwks, "cache", SpyCache())
    for i in range(5):
        with pytest.raises(exceptions.KidNotFound):
            verify_token(moto_key.sign({"alg": "RS256", "kid": f"made-up-{i}"}, forged_claims()))
    assert work == []
    assert forged_pool.requests == 1
