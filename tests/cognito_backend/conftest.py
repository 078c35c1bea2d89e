"""Fixtures of the cognito_backend tests: token forging and a JWKS server the test controls.

Real tokens come from the moto stand-in (``cognito_user``). Hostile ones are built here byte by byte: with
moto's own signing key (so only the claim under test is wrong), with a key of our own, or unsigned. The JWKS
server is a real HTTP server on a loopback port whose answers, delays and outages the test decides.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import moto.cognitoidp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cognito_backend import tokens


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header_b64, payload_b64, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header_b64))), json.loads(base64.urlsafe_b64decode(pad(payload_b64)))


@dataclass
class SigningKey:
    """An RSA private key and its public JWK."""

    private: rsa.RSAPrivateKey
    kid: str

    def public_jwk(self, **overrides: Any) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": b64url_uint(numbers.n),
            "e": b64url_uint(numbers.e),
        }
        jwk.update(overrides)
        return {k: v for k, v in jwk.items() if v is not None}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, header: dict[str, Any], payload: dict[str, Any]) -> str:
        signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


def _moto_key() -> SigningKey:
    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    jwk = json.loads(gzip.decompress(path.read_bytes()))

    def num(name: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(jwk[name] + "=" * (-len(jwk[name]) % 4)), "big")

    n, e, d = num("n"), num("e"), num("d")
    p, q = rsa.rsa_recover_prime_factors(n, e, d)
    private = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, n),
    ).private_key()
    return SigningKey(private, jwk["kid"])


MOTO_KEY = _moto_key()


@pytest.fixture(scope="session")
def moto_key() -> SigningKey:
    """The stand-in's own signing key (kid "dummy"): tokens signed with it verify, so one claim can be wrong."""
    return MOTO_KEY


@pytest.fixture(scope="session")
def attacker_key() -> SigningKey:
    """A different RSA-2048 key that claims moto's kid."""
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048), "dummy")


@pytest.fixture(autouse=True)
def _fresh_token_caches() -> Iterator[None]:
    """Each test starts with cold key and token caches of this process."""
    tokens.reset_caches()
    yield
    tokens.reset_caches()


# --- a JWKS server the test controls ---------------------------------------------------------------------------


@dataclass
class JwksServer:
    """Serves ``document`` at ``/jwks.json``; ``status``, ``delay`` and ``body`` change what it answers."""

    url: str = ""
    document: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    status: int = 200
    delay: float = 0.0
    body: bytes | None = None
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set_keys(self, *keys: dict[str, Any]) -> None:
        self.document = {"keys": list(keys)}


@pytest.fixture
def jwks_server_factory() -> Iterator[Any]:
    """Start any number of JWKS servers; all are stopped after the test."""
    stops: list[Any] = []

    def start() -> JwksServer:
        state, stop = _start_jwks_server()
        stops.append(stop)
        return state

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def jwks_server(jwks_server_factory: Any) -> JwksServer:
    return jwks_server_factory()  # type: ignore[no-any-return]


def _start_jwks_server() -> tuple[JwksServer, Any]:
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests += 1
            if state.delay:
                time.sleep(state.delay)
            body = state.body if state.body is not None else json.dumps(state.document).encode()
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (read timeout); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return state, stop


ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Forged1"
CLIENT_ID = "forgedclient"


def forged_claims(use: str = "access", **overrides: Any) -> dict[str, Any]:
    """Claims of a plausible token of the ``forged_pool`` settings (no stand-in needed)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "11111111-2222-3333-4444-555555555555",
        "iss": ISSUER,
        "token_use": use,
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "jti": "jti-1",
        "origin_jti": "origin-1",
    }
    if use == "access":
        claims.update({"client_id": CLIENT_ID, "username": "mallory", "scope": "aws.cognito.signin.user.admin"})
    else:
        claims.update(
            {"aud": CLIENT_ID, "cognito:username": "mallory", "email": "m@example.com", "email_verified": True}
        )
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def forged_pool(settings: Any, jwks_server: JwksServer, moto_key: SigningKey) -> JwksServer:
    """``settings.COGNITO`` trusting pool ``us-east-1_Forged1`` whose keys the ``jwks_server`` serves."""
    jwks_server.set_keys(moto_key.public_jwk())
    settings.COGNITO = {
        "REGION": "us-east-1",
        "USER_POOL_ID": "us-east-1_Forged1",
        "APP_CLIENT_ID": CLIENT_ID,
        "JWKS_URL": jwks_server.url,
        "JWKS_PENALTY_SECONDS": 10,
        "JWKS_READ_TIMEOUT": 1.0,
        "JWKS_CONNECT_TIMEOUT": 1.0,
    }
    return jwks_server
