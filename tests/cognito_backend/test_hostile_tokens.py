"""Hostile tokens: each one is a 401 (or the documented 403/503) with the right code, never a 500.

Most cases are built on the ``forged_pool`` settings, whose keys a local JWKS server serves: signed with the
stand-in's own key when only one claim is to be wrong, with an attacker's key, or not signed at all. Cases that
start from a real token use ``cognito_user`` (moto).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from .conftest import CLIENT_ID, ISSUER, SigningKey, b64url, b64url_json, forged_claims, unverified_parts

pytestmark = pytest.mark.django_db

ME = "/api/auth/me/"
NOW = int(time.time())
HEADER = {"alg": "RS256", "kid": "dummy", "typ": "JWT"}


def get_me(authorization: str) -> Any:
    return APIClient().get(ME, HTTP_AUTHORIZATION=authorization)


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: str = "AAAA") -> str:
    return f"{b64url_json(header)}.{b64url_json(payload)}.{signature}"


def raw_json_token(key: SigningKey, header_json: str, payload_json: str) -> str:
    """Sign arbitrary JSON text (for inputs ``json.dumps`` cannot produce: NaN, duplicates, huge numbers)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{b64url(header_json.encode())}.{b64url(payload_json.encode())}"
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def hs256_with_public_key(key: SigningKey) -> str:
    header = {"alg": "HS256", "kid": "dummy", "typ": "JWT"}
    signing_input = f"{b64url_json(header)}.{b64url_json(forged_claims())}"
    mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def other_alg(key: SigningKey, alg: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": alg, "kid": "dummy"}
    signing_input = f"{b64url_json(header)}.{b64url_json(forged_claims())}"
    pad = padding.PSS(padding.MGF1(hashes.SHA256()), 32) if alg.startswith("PS") else padding.PKCS1v15()
    digest = hashes.SHA512() if alg.endswith("512") else hashes.SHA256()
    if alg.startswith("PS"):
        pad = padding.PSS(padding.MGF1(digest), digest.digest_size)
    signature = key.private.sign(signing_input.encode(), pad, digest)
    return f"{signing_input}.{b64url(signature)}"


def tampered(key: SigningKey) -> str:
    token = key.sign(HEADER, forged_claims())
    header_b64, _, signature = token.split(".")
    return f"{header_b64}.{b64url_json(forged_claims(sub='someone-else'))}.{signature}"


def deep_json(depth: int) -> str:
    return '{"sub": "x", "x": ' + "[" * depth + "]" * depth + "}"


Case = Callable[[SigningKey, SigningKey], str]

# (id, build(moto_key, attacker_key) -> Authorization header value, expected code)
CASES: list[tuple[str, Case, str]] = [
    ("empty", lambda k, a: "Bearer ", "bad_authorization_header"),
    ("bearer-with-two-parts", lambda k, a: "Bearer a.b.c d", "bad_authorization_header"),
    ("one-segment", lambda k, a: "Bearer abc", "token_malformed"),
    ("two-segments", lambda k, a: "Bearer abc.def", "token_malformed"),
    ("four-segments", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims()) + ".abc", "token_malformed"),
    ("empty-signature", lambda k, a: "Bearer " + unsigned(HEADER, forged_claims(), ""), "token_malformed"),
    ("bad-base64-characters", lambda k, a: "Bearer a+b.c/d.e=f", "token_malformed"),
    ("bad-base64-length", lambda k, a: "Bearer a.b.c", "token_malformed"),
    (
        "non-json-header",
        lambda k, a: f"Bearer {b64url(b'not json')}.{b64url_json(forged_claims())}.AAAA",
        "token_malformed",
    ),
    (
        "header-is-a-list",
        lambda k, a: f"Bearer {b64url_json(['RS256'])}.{b64url_json(forged_claims())}.AAAA",
        "token_malformed",
    ),
    (
        "header-not-utf8",
        lambda k, a: f"Bearer {b64url(bytes([0xFF, 0xFE, 0x00]))}.{b64url_json(forged_claims())}.AAAA",
        "token_malformed",
    ),
    ("payload-not-json", lambda k, a: f"Bearer {b64url_json(HEADER)}.{b64url(b'{nope')}.AAAA", "token_malformed"),
    (
        "payload-is-a-string",
        lambda k, a: f"Bearer {b64url_json(HEADER)}.{b64url_json('claims')}.AAAA",
        "token_malformed",
    ),
    ("non-ascii-token", lambda k, a: "Bearer \u00e9t\u00e9.a.b", "token_malformed"),
    (
        "alg-none",
        lambda k, a: "Bearer " + unsigned({"alg": "none", "kid": "dummy"}, forged_claims()),
        "invalid_algorithm",
    ),
    (
        "alg-None-capitalised",
        lambda k, a: "Bearer " + unsigned({"alg": "None", "kid": "dummy"}, forged_claims()),
        "invalid_algorithm",
    ),
    ("alg-missing", lambda k, a: "Bearer " + unsigned({"kid": "dummy"}, forged_claims()), "missing_claim"),
    (
        "alg-not-a-string",
        lambda k, a: "Bearer " + unsigned({"alg": ["RS256"], "kid": "dummy"}, forged_claims()),
        "token_malformed",
    ),
    (
        "alg-lowercase",
        lambda k, a: "Bearer " + unsigned({"alg": "rs256", "kid": "dummy"}, forged_claims()),
        "invalid_algorithm",
    ),
    ("hs256-with-public-key-as-secret", lambda k, a: "Bearer " + hs256_with_public_key(k), "invalid_algorithm"),
    ("rs512-signed-by-the-real-key", lambda k, a: "Bearer " + other_alg(k, "RS512"), "invalid_algorithm"),
    ("ps256-signed-by-the-real-key", lambda k, a: "Bearer " + other_alg(k, "PS256"), "invalid_algorithm"),
    (
        "unknown-kid",
        lambda k, a: "Bearer " + k.sign({"alg": "RS256", "kid": "made-up"}, forged_claims()),
        "unknown_kid",
    ),
    ("missing-kid", lambda k, a: "Bearer " + k.sign({"alg": "RS256"}, forged_claims()), "missing_kid"),
    ("empty-kid", lambda k, a: "Bearer " + k.sign({"alg": "RS256", "kid": ""}, forged_claims()), "missing_kid"),
    ("kid-not-a-string", lambda k, a: "Bearer " + k.sign({"alg": "RS256", "kid": 1}, forged_claims()), "missing_kid"),
    (
        "kid-path-traversal",
        lambda k, a: "Bearer " + k.sign({"alg": "RS256", "kid": "../../etc/passwd"}, forged_claims()),
        "unknown_kid",
    ),
    ("crit-header", lambda k, a: "Bearer " + k.sign({**HEADER, "crit": ["exp"]}, forged_claims()), "token_invalid"),
    ("signature-of-another-key", lambda k, a: "Bearer " + a.sign(HEADER, forged_claims()), "invalid_signature"),
    (
        "embedded-jwk-of-attacker",
        lambda k, a: "Bearer " + a.sign({**HEADER, "jwk": a.public_jwk()}, forged_claims()),
        "invalid_signature",
    ),
    (
        "jku-pointing-elsewhere",
        lambda k, a: "Bearer " + a.sign({**HEADER, "jku": "http://127.0.0.1:1/jwks.json"}, forged_claims()),
        "invalid_signature",
    ),
    ("tampered-payload", lambda k, a: "Bearer " + tampered(k), "invalid_signature"),
    ("truncated-signature", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims())[:-10], "invalid_signature"),
    ("signature-garbage", lambda k, a: "Bearer " + unsigned(HEADER, forged_claims(), "A" * 342), "invalid_signature"),
    ("wrong-issuer", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(iss=ISSUER + "x")), "invalid_issuer"),
    (
        "issuer-with-trailing-slash",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(iss=ISSUER + "/")),
        "invalid_issuer",
    ),
    ("issuer-missing", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(iss=None)), "missing_claim"),
    ("issuer-not-a-string", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(iss=[ISSUER])), "invalid_claim"),
    (
        "token-use-refresh",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(token_use="refresh")),
        "invalid_token_use",
    ),
    ("token-use-missing", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(token_use=None)), "missing_claim"),
    (
        "id-token-wrong-aud",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims("id", aud="other-client")),
        "invalid_audience",
    ),
    (
        "id-token-aud-list",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims("id", aud=[CLIENT_ID])),
        "invalid_claim",
    ),
    ("id-token-without-aud", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims("id", aud=None)), "missing_claim"),
    (
        "access-token-wrong-client-id",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(client_id="other-client")),
        "invalid_client_id",
    ),
    (
        "access-token-aud-instead-of-client-id",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(client_id=None, aud=CLIENT_ID)),
        "missing_claim",
    ),
    (
        "expired",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(exp=NOW - 3600, iat=NOW - 7200)),
        "token_expired",
    ),
    (
        "expired-beyond-leeway",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(exp=int(time.time()) - 60)),
        "token_expired",
    ),
    (
        "iat-in-the-future",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(iat=NOW + 3600, exp=NOW + 7200)),
        "token_not_yet_valid",
    ),
    (
        "nbf-in-the-future",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(nbf=NOW + 3600)),
        "token_not_yet_valid",
    ),
    ("iat-missing", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(iat=None)), "missing_claim"),
    ("exp-missing", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(exp=None)), "missing_claim"),
    ("exp-not-numeric", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(exp="9999999999")), "invalid_claim"),
    ("exp-boolean", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(exp=True)), "invalid_claim"),
    ("exp-huge", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(exp=10**30)), "invalid_claim"),
    ("exp-negative", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(exp=-1)), "invalid_claim"),
    (
        "exp-float-infinity",
        lambda k, a: "Bearer " + raw_json_token(k, json.dumps(HEADER), '{"exp": 1e400}'),
        "invalid_claim",
    ),
    ("exp-nan", lambda k, a: "Bearer " + raw_json_token(k, json.dumps(HEADER), '{"exp": NaN}'), "token_malformed"),
    (
        "exp-5000-digits",
        lambda k, a: "Bearer " + raw_json_token(k, json.dumps(HEADER), '{"exp": ' + "9" * 5000 + "}"),
        "token_malformed",
    ),
    (
        "duplicate-claims",
        lambda k, a: "Bearer "
        + raw_json_token(k, json.dumps(HEADER), json.dumps(forged_claims())[:-1] + ', "sub": "admin"}'),
        "token_malformed",
    ),
    (
        "deeply-nested-json",
        lambda k, a: "Bearer " + raw_json_token(k, json.dumps(HEADER), deep_json(2000)),
        "token_malformed",
    ),
    ("sub-missing", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(sub=None)), "missing_claim"),
    ("sub-not-a-string", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(sub=12)), "invalid_claim"),
    (
        "groups-not-a-list",
        lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(**{"cognito:groups": "admins"})),
        "invalid_claim",
    ),
    ("scope-not-a-string", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(scope=["admin"])), "invalid_claim"),
    ("oversized", lambda k, a: "Bearer " + k.sign(HEADER, forged_claims(pad="x" * 9000)), "token_too_large"),
    ("oversized-garbage", lambda k, a: "Bearer " + "a" * 100_000, "token_too_large"),
]


@pytest.mark.parametrize(("build", "code"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_token_is_refused_with_401_and_its_code(
    forged_pool: Any, moto_key: SigningKey, attacker_key: SigningKey, build: Case, code: str
) -> None:
    response = get_me(build(moto_key, attacker_key))
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code, response.json()
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert set(response.json()) >= {"code", "detail"}


def test_hostile_errors_never_echo_the_token(forged_pool: Any, moto_key: SigningKey) -> None:
    token = moto_key.sign(HEADER, forged_claims(exp=NOW - 3600, iat=NOW - 7200))
    response = get_me(f"Bearer {token}")
    assert token not in response.content.decode()
    assert token.split(".")[2] not in response.content.decode()


def test_forged_token_is_accepted_only_when_everything_fits(forged_pool: Any, moto_key: SigningKey) -> None:
    """The control case: the hostile cases above fail for their one defect, not for the harness."""
    response = get_me("Bearer " + moto_key.sign(HEADER, forged_claims()))
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "mallory"


def test_expiry_within_the_leeway_is_accepted(forged_pool: Any, moto_key: SigningKey) -> None:
    response = get_me("Bearer " + moto_key.sign(HEADER, forged_claims(exp=int(time.time()) - 2)))
    assert response.status_code == 200, response.content


def test_leeway_is_configurable(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "LEEWAY": 0}
    response = get_me("Bearer " + moto_key.sign(HEADER, forged_claims(exp=int(time.time()) - 2)))
    assert response.json()["code"] == "token_expired"


def test_real_token_of_another_pool_is_refused(cognito: Any, cognito_user: Any, settings: Any) -> None:
    """moto signs every pool with one key: only ``iss`` tells two pools apart."""
    other = cognito.create_pool_with_client(name="other-pool")
    stranger = cognito.create_user(other, "bob")
    response = get_me(f"Bearer {stranger.tokens.access_token}")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_issuer"


def test_real_token_of_another_app_client_is_refused(cognito: Any, user_pool: Any, cognito_user: Any) -> None:
    client_id, _ = cognito.create_client(user_pool.pool_id, name="other-client")
    tokens = cognito.idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": cognito_user.password},
    )["AuthenticationResult"]
    assert get_me(f"Bearer {tokens['AccessToken']}").json()["code"] == "invalid_client_id"
    assert get_me(f"Bearer {tokens['IdToken']}").json()["code"] == "invalid_audience"


def test_real_token_with_a_tampered_claim_is_refused(cognito_user: Any) -> None:
    header_b64, _, signature = cognito_user.tokens.access_token.split(".")
    _, claims = unverified_parts(cognito_user.tokens.access_token)
    claims["cognito:groups"] = ["admins"]
    token = f"{header_b64}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b'=').decode()}.{signature}"
    assert get_me(f"Bearer {token}").json()["code"] == "invalid_signature"


def test_other_authorization_schemes_are_not_taken_for_tokens(cognito_user: Any) -> None:
    response = get_me("Basic YWxpY2U6cGFzc3dvcmQ=")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
