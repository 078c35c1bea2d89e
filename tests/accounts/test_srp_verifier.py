"""USER_SRP_AUTH checked by an SRP server written here, because moto's accepts any proof.

moto's PASSWORD_VERIFIER only checks that the fields are present, so a wrong password signs in over SRP and a
test against it proves only that two requests were made. Here the test is the server: it holds the user's salt
and verifier (derived from the password once, as Cognito does at sign-up), answers the project's InitiateAuth
with its own SRP_B, SALT and SECRET_BLOCK (a botocore ``before-send`` hook on the project's client), and checks the
PASSWORD_CLAIM_SIGNATURE of the project's RespondToAuthChallenge against its own computation: the right password
signs in, a wrong one is refused (NotAuthorizedException, as Cognito answers).

The server side is SRP-6a (RFC 5054) with Cognito's specifics, as amazon-cognito-identity-js's
AuthenticationHelper uses them: the 3072-bit group of RFC 3526 with g = 2, SHA-256, numbers hashed in their
shortest big-endian form with a leading zero byte when the top bit is set, x = H(salt | H(pool name | user id |
":" | password)), the key HKDF-SHA256(S, salt=u, info="Caldera Derived Key")[:16], and the signature
HMAC-SHA256(key, pool name | user id | secret block | timestamp). The same arithmetic is first checked against
RFC 5054's published test vectors (Appendix B), which use SHA-1, the 1024-bit group and full-length padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from rest_framework.test import APIClient

from tests.accounts.conftest import aws_error, aws_response
from tests.conftest import DEFAULT_PASSWORD, CognitoFactory, UserPool

SIGN_IN = "/api/auth/sign-in/"


def _hex(text: str) -> int:
    return int("".join(text.split()), 16)


# --- SRP-6a, written for this test ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    n: int
    g: int
    hash: Callable[[bytes], bytes]
    pad: Callable[[int, int], bytes]  # (value, N) -> the bytes hashed for value

    def h(self, *parts: bytes) -> int:
        return int.from_bytes(self.hash(b"".join(parts)), "big")

    def k(self) -> int:
        return self.h(self.pad(self.n, self.n), self.pad(self.g, self.n))

    def u(self, big_a: int, big_b: int) -> int:
        return self.h(self.pad(big_a, self.n), self.pad(big_b, self.n))

    def verifier(self, x: int) -> int:
        return pow(self.g, x, self.n)

    def server_public(self, v: int, b: int) -> int:
        return (self.k() * v + pow(self.g, b, self.n)) % self.n

    def server_secret(self, big_a: int, v: int, b: int, big_b: int) -> int:
        """S = (A * v^u)^b mod N: what only the holder of the verifier can compute."""
        return pow(big_a * pow(v, self.u(big_a, big_b), self.n) % self.n, b, self.n)

    def client_secret(self, big_b: int, x: int, a: int) -> int:
        """S = (B - k * g^x)^(a + u * x) mod N: what only the holder of the password can compute."""
        big_a = pow(self.g, a, self.n)
        base = (big_b - self.k() * pow(self.g, x, self.n)) % self.n
        return pow(base, a + self.u(big_a, big_b) * x, self.n)


def _full_length(value: int, n: int) -> bytes:
    """RFC 5054's PAD(): as many bytes as N."""
    return value.to_bytes((n.bit_length() + 7) // 8, "big")


def _cognito_pad(value: int, n: int) -> bytes:
    """Cognito's padHex: shortest big-endian bytes, with a zero byte in front when the top bit is set."""
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()  # noqa: S324 - RFC 5054's test vectors are SHA-1


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


RFC5054_1024 = Group(
    n=_hex(
        "EEAF0AB9 ADB38DD6 9C33F80A FA8FC5E8 60726187 75FF3C0B 9EA2314C 9C256576 D674DF74 96EA81D3 383B4813 D692C6E0"
        "E0D5D8E2 50B98BE4 8E495C1D 6089DAD1 5DC7D7B4 6154D6B6 CE8EF4AD 69B15D49 82559B29 7BCF1885 C529F566 660E57EC"
        "68EDBC3C 05726CC0 2FD4CBF4 976EAA9A FD5138FE 8376435B 9FC61D2F C0EB06E3"
    ),
    g=2,
    hash=_sha1,
    pad=_full_length,
)

# RFC 3526's 3072-bit MODP group: 2^3072 - 2^3008 - 1 + 2^64 * (floor(2^2942 * pi) + 1690314).
COGNITO = Group(
    n=_hex(
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD"
        "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED"
        "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F"
        "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B"
        "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510"
        "15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7"
        "ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C"
        "BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF"
    ),
    g=2,
    hash=_sha256,
    pad=_cognito_pad,
)


def cognito_x(pool_name: str, user_id: str, password: str, salt: int) -> int:
    inner = _sha256(f"{pool_name}{user_id}:{password}".encode())
    return COGNITO.h(_cognito_pad(salt, COGNITO.n), inner)


def cognito_signature(secret_s: int, u: int, pool_name: str, user_id: str, secret_block: bytes, timestamp: str) -> str:
    key = HKDF(algorithm=SHA256(), length=16, salt=_cognito_pad(u, COGNITO.n), info=b"Caldera Derived Key").derive(
        _cognito_pad(secret_s, COGNITO.n)
    )
    message = pool_name.encode() + user_id.encode() + secret_block + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


# --- the maths against published vectors ------------------------------------------------------------------------

RFC_I, RFC_P = "alice", "password123"
RFC: dict[str, int] = {
    "s": _hex("BEB25379 D1A8581E B5A72767 3A2441EE"),
    "k": _hex("7556AA04 5AEF2CDD 07ABAF0F 665C3E81 8913186F"),
    "x": _hex("94B7555A ABE9127C C58CCF49 93DB6CF8 4D16C124"),
    "v": _hex(
        "7E273DE8 696FFC4F 4E337D05 B4B375BE B0DDE156 9E8FA00A 9886D812 9BADA1F1 822223CA 1A605B53 0E379BA4 729FDC59"
        "F105B478 7E5186F5 C671085A 1447B52A 48CF1970 B4FB6F84 00BBF4CE BFBB1681 52E08AB5 EA53D15C 1AFF87B2 B9DA6E04"
        "E058AD51 CC72BFC9 033B564E 26480D78 E955A5E2 9E7AB245 DB2BE315 E2099AFB"
    ),
    "a": _hex("60975527 035CF2AD 1989806F 0407210B C81EDC04 E2762A56 AFD529DD DA2D4393"),
    "b": _hex("E487CB59 D31AC550 471E81F0 0F6928E0 1DDA08E9 74A004F4 9E61F5D1 05284D20"),
    "A": _hex(
        "61D5E490 F6F1B795 47B0704C 436F523D D0E560F0 C64115BB 72557EC4 4352E890 3211C046 92272D8B 2D1A5358 A2CF1B6E"
        "0BFCF99F 921530EC 8E393561 79EAE45E 42BA92AE ACED8251 71E1E8B9 AF6D9C03 E1327F44 BE087EF0 6530E69F 66615261"
        "EEF54073 CA11CF58 58F0EDFD FE15EFEA B349EF5D 76988A36 72FAC47B 0769447B"
    ),
    "B": _hex(
        "BD0C6151 2C692C0C B6D041FA 01BB152D 4916A1E7 7AF46AE1 05393011 BAF38964 DC46A067 0DD125B9 5A981652 236F99D9"
        "B681CBF8 7837EC99 6C6DA044 53728610 D0C6DDB5 8B318885 D7D82C7F 8DEB75CE 7BD4FBAA 37089E6F 9C6059F3 88838E7A"
        "00030B33 1EB76840 910440B1 B27AAEAE EB4012B7 D7665238 A8E3FB00 4B117B58"
    ),
    "u": _hex("CE38B959 3487DA98 554ED47D 70A7AE5F 462EF019"),
    "S": _hex(
        "B0DC82BA BCF30674 AE450C02 87745E79 90A3381F 63B387AA F271A10D 233861E3 59B48220 F7C4693C 9AE12B0A 6F67809F"
        "0876E2D0 13800D6C 41BB59B6 D5979B5C 00A172B4 A2A5903A 0BDCAF8A 709585EB 2AFAFA8F 3499B200 210DCC1F 10EB3394"
        "3CD67FC8 8A2F39A4 BE5BEC4E C0A3212D C346D7E4 74B29EDE 8A469FFE CA686E5A"
    ),
}


def test_the_srp_arithmetic_reproduces_rfc_5054_appendix_b() -> None:
    group = RFC5054_1024
    x = group.h(RFC["s"].to_bytes(16, "big"), _sha1(f"{RFC_I}:{RFC_P}".encode()))
    assert group.k() == RFC["k"]
    assert x == RFC["x"]
    assert group.verifier(x) == RFC["v"]
    assert pow(group.g, RFC["a"], group.n) == RFC["A"]
    assert group.server_public(RFC["v"], RFC["b"]) == RFC["B"]
    assert group.u(RFC["A"], RFC["B"]) == RFC["u"]
    assert group.server_secret(RFC["A"], RFC["v"], RFC["b"], RFC["B"]) == RFC["S"]
    assert group.client_secret(RFC["B"], RFC["x"], RFC["a"]) == RFC["S"]


def test_the_cognito_group_is_rfc_3526s_3072_bit_prime() -> None:
    # Its defining formula needs pi to 2942 bits; its shape is checked instead: 3072 bits, 64 one bits at both
    # ends, and (N = 7 mod 8, so 2 is a square mod a prime N) Euler's criterion 2^((N-1)/2) = 1 mod N.
    n = COGNITO.n
    assert n.bit_length() == 3072
    assert n >> 3008 == (1 << 64) - 1
    assert n & ((1 << 64) - 1) == (1 << 64) - 1
    assert pow(2, (n - 1) // 2, n) == 1
    assert _cognito_pad(n, n)[:2] == b"\x00\xff"
    assert _cognito_pad(2, n) == b"\x02"


@pytest.mark.parametrize(("password", "matches"), [(DEFAULT_PASSWORD, True), ("Wr0ng-Passw0rd!", False)])
def test_a_client_proof_matches_the_server_only_with_the_password_the_verifier_was_made_from(
    password: str, matches: bool
) -> None:
    salt, b, a = secrets.randbits(128), secrets.randbits(256), secrets.randbits(256)
    v = COGNITO.verifier(cognito_x("pool", "user-id", DEFAULT_PASSWORD, salt))
    big_b = COGNITO.server_public(v, b)
    big_a = pow(COGNITO.g, a, COGNITO.n)
    u = COGNITO.u(big_a, big_b)
    server = cognito_signature(COGNITO.server_secret(big_a, v, b, big_b), u, "pool", "user-id", b"blk", "t")
    client_s = COGNITO.client_secret(big_b, cognito_x("pool", "user-id", password, salt), a)
    client = cognito_signature(client_s, u, "pool", "user-id", b"blk", "t")
    assert (client == server) is matches


# --- the project's SRP sign-in against this server --------------------------------------------------------------

TIMESTAMP = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [1-9]\d? \d\d:\d\d:\d\d UTC \d{4}$")


@dataclass
class SrpServer:
    """Cognito's side of USER_SRP_AUTH for one user, answering the project's client before anything is sent."""

    pool_name: str
    user_id: str
    tokens: dict[str, Any]
    salt: int = field(default_factory=lambda: secrets.randbits(128) | (1 << 120))
    verifier: int = 0
    b: int = 0
    big_a: int = 0
    secret_block: bytes = b""
    attempts: list[bool] = field(default_factory=list)
    handlers: list[tuple[Any, str, Callable[..., Any]]] = field(default_factory=list)

    def enroll(self, password: str) -> None:
        """What Cognito keeps when the password is set: the salt and the verifier, never the password."""
        self.verifier = COGNITO.verifier(cognito_x(self.pool_name, self.user_id, password, self.salt))

    def attach(self) -> None:
        from cognito_backend.clients import get_client

        client = get_client("cognito-idp")
        event = f"before-send.{client.meta.service_model.service_id.hyphenize()}"
        client.meta.events.register(event, self.answer)
        self.handlers.append((client, event, self.answer))

    def answer(self, request: Any, **kwargs: Any) -> Any:
        target = dict(request.headers).get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        body = json.loads(request.body or b"{}")
        if operation == "InitiateAuth" and body.get("AuthFlow") == "USER_SRP_AUTH":
            return self.challenge(body["AuthParameters"])
        if operation == "RespondToAuthChallenge" and body.get("ChallengeName") == "PASSWORD_VERIFIER":
            return self.verify(body["ChallengeResponses"])
        return None

    def challenge(self, params: dict[str, str]) -> Any:
        self.big_a = int(params["SRP_A"], 16)
        assert self.big_a % COGNITO.n != 0, "a server must refuse A = 0 mod N"
        self.b = secrets.randbits(256)
        self.secret_block = secrets.token_bytes(64)
        big_b = COGNITO.server_public(self.verifier, self.b)
        parameters = {
            "USER_ID_FOR_SRP": self.user_id,
            "USERNAME": self.user_id,
            "SALT": format(self.salt, "x"),
            "SRP_B": format(big_b, "x"),
            "SECRET_BLOCK": base64.b64encode(self.secret_block).decode(),
        }
        return aws_response(200, {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": parameters})

    def verify(self, responses: dict[str, str]) -> Any:
        big_b = COGNITO.server_public(self.verifier, self.b)
        secret_s = COGNITO.server_secret(self.big_a, self.verifier, self.b, big_b)
        timestamp = responses["TIMESTAMP"]
        expected = cognito_signature(
            secret_s, COGNITO.u(self.big_a, big_b), self.pool_name, self.user_id, self.secret_block, timestamp
        )
        ok = (
            responses.get("USERNAME") == self.user_id
            and base64.b64decode(responses["PASSWORD_CLAIM_SECRET_BLOCK"]) == self.secret_block
            and TIMESTAMP.match(timestamp) is not None
            and abs(
                datetime.strptime(timestamp, "%a %b %d %H:%M:%S UTC %Y").replace(tzinfo=UTC).timestamp()
                - datetime.now(UTC).timestamp()
            )
            < 300
            and hmac.compare_digest(responses["PASSWORD_CLAIM_SIGNATURE"], expected)
        )
        self.attempts.append(ok)
        if not ok:
            return aws_error(400, "NotAuthorizedException", "Incorrect username or password.")
        return aws_response(200, {"ChallengeParameters": {}, "AuthenticationResult": self.tokens})


@pytest.fixture
def srp_server(cognito: CognitoFactory, settings: Any) -> Iterator[SrpServer]:
    """A pool that signs in by email, the site set to USER_SRP_AUTH, and this test's SRP server in front of it.

    The tokens it hands out on a valid proof are real ones of that pool (from moto), so the site accepts them.
    """
    pool: UserPool = cognito.create_pool_with_client(UsernameAttributes=["email"], AliasAttributes=[])
    settings.COGNITO = pool.settings()
    settings.ACCOUNTS = {**settings.ACCOUNTS, "AUTH_FLOW": "USER_SRP_AUTH"}
    user = cognito.create_user(pool, "dave@example.com", email="dave@example.com")
    tokens = {
        "IdToken": user.tokens.id_token,
        "AccessToken": user.tokens.access_token,
        "RefreshToken": user.tokens.refresh_token,
        "ExpiresIn": 3600,
        "TokenType": "Bearer",
    }
    # Cognito's user id for SRP in a pool signing in by email is the internal username (the sub), not the email.
    server = SrpServer(pool_name=pool.pool_id.split("_", 1)[1], user_id=user.sub, tokens=tokens)
    server.enroll(DEFAULT_PASSWORD)
    server.attach()
    yield server
    for client, event, handler in server.handlers:
        client.meta.events.unregister(event, handler)


def test_srp_sign_in_with_the_right_password_passes_an_independent_proof_check(
    api: APIClient, srp_server: SrpServer
) -> None:
    response = api.post(SIGN_IN, {"username": "dave@example.com", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tokens"]["access_token"] == srp_server.tokens["AccessToken"]
    assert srp_server.attempts == [True]


def test_srp_sign_in_with_a_wrong_password_fails_the_proof_check_and_is_a_401(
    api: APIClient, srp_server: SrpServer
) -> None:
    response = api.post(SIGN_IN, {"username": "dave@example.com", "password": "Wr0ng-Passw0rd!"}, format="json")
    assert response.status_code == 401, response.content
    assert response.json() == {"code": "not_authorized", "detail": "Incorrect username or password."}
    assert srp_server.attempts == [False]
