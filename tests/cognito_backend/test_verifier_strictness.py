"""One token, one spelling: the verifier's parser is strict (RFC 7515/4648) and what it returns is read-only.

Tokens are built with the stand-in's own signing key (``forged_pool``) so that only the defect under test is
wrong; the base64 case starts from a real token minted by moto (``cognito_user``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from cognito_backend import exceptions
from cognito_backend.tokens import token_cache, verify_token

from .conftest import SigningKey, b64url, b64url_json, forged_claims

pytestmark = pytest.mark.django_db

HEADER = {"alg": "RS256", "kid": "dummy"}
UNICODE_HEADER = {**HEADER, "x-note": "é"}  # unknown header members are ignored; this one is not ASCII
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
DAY = 24 * 3600


def get_me(token: str) -> Any:
    return APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}")


def sign_bytes(key: SigningKey, header: bytes, payload: bytes) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def respellings(segment: str) -> list[str]:
    """Every other spelling of ``segment`` that differs only in the unused low bits of its last character."""
    unused = {2: 4, 3: 2}[len(segment) % 4]
    value = ALPHABET.index(segment[-1])
    return [segment[:-1] + ALPHABET[value ^ bits] for bits in range(1, 2**unused)]


# --- base64url: canonical only ----------------------------------------------------------------------------------


def test_real_token_respelled_in_its_signature_padding_bits_is_refused(cognito_user: Any) -> None:
    token = cognito_user.tokens.access_token
    head, payload, signature = token.split(".")
    variants = respellings(signature)
    assert len(variants) == 15  # a 256-byte RSA signature is 342 characters: 4 unused bits
    assert verify_token(token).sub
    for variant in variants:
        with pytest.raises(exceptions.TokenMalformed):
            verify_token(f"{head}.{payload}.{variant}")
    assert len(token_cache) == 1


@pytest.mark.parametrize("part", [0, 1])
def test_header_or_payload_with_nonzero_padding_bits_is_refused(
    forged_pool: Any, moto_key: SigningKey, part: int
) -> None:
    """Signed over the odd spelling itself, so the signature matches and only the encoding is wrong."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    segments = [b64url_json(HEADER), b64url_json(forged_claims())]
    while len(segments[part]) % 4 not in (2, 3):  # make sure the segment has unused bits to abuse
        segments[1] = b64url_json(forged_claims(pad="x" * (len(segments[1]) % 7 + 1)))
        segments[0] = b64url_json({**HEADER, "typ": "JWT" + "x" * (len(segments[0]) % 5)})
    segments[part] = respellings(segments[part])[0]
    signing_input = ".".join(segments)
    signature = moto_key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    response = get_me(f"{signing_input}.{b64url(signature)}")
    assert response.status_code == 401
    assert response.json()["code"] == "token_malformed"


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\n\n", " "])
def test_token_with_trailing_whitespace_is_refused_by_its_shape(
    forged_pool: Any, moto_key: SigningKey, suffix: str
) -> None:
    """The shape check itself ends at the end of the string (a regex "$" also matches before a final newline),
    so the base64 decoder never sees the extra character."""
    token = moto_key.sign(HEADER, forged_claims())
    assert verify_token(token).sub
    with pytest.raises(exceptions.TokenMalformed) as caught:
        verify_token(token + suffix)
    assert "exactly 3 parts" in caught.value.detail


# --- JSON text: UTF-8 only ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: text.encode("utf-16"), id="utf-16"),
        pytest.param(lambda text: text.encode("utf-16-le"), id="utf-16-le"),
        pytest.param(lambda text: text.encode("utf-32"), id="utf-32"),
        pytest.param(lambda text: text.encode("utf-8-sig"), id="utf-8-with-bom"),
        pytest.param(lambda text: text.encode("latin-1"), id="latin-1"),
    ],
)
@pytest.mark.parametrize("part", ["header", "payload"])
def test_header_and_payload_must_be_utf8(forged_pool: Any, moto_key: SigningKey, encode: Any, part: str) -> None:
    header = json.dumps(UNICODE_HEADER, ensure_ascii=False)
    payload = json.dumps(forged_claims(given_name="Zoë"), ensure_ascii=False)
    if part == "header":
        token = sign_bytes(moto_key, encode(header), payload.encode())
    else:
        token = sign_bytes(moto_key, header.encode(), encode(payload))
    response = get_me(token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_malformed"


def test_utf8_claims_are_accepted(forged_pool: Any, moto_key: SigningKey) -> None:
    payload = json.dumps(forged_claims(given_name="Zoë"), ensure_ascii=False).encode("utf-8")
    token = sign_bytes(moto_key, json.dumps(UNICODE_HEADER, ensure_ascii=False).encode("utf-8"), payload)
    verified = verify_token(token)
    assert verified["given_name"] == "Zoë"
    assert verified.header["x-note"] == "é"


# --- read-only claims ---------------------------------------------------------------------------------------------


def test_claims_and_header_of_a_verified_token_are_read_only(forged_pool: Any, moto_key: SigningKey) -> None:
    extra: dict[str, Any] = {"cognito:groups": ["users"], "extra": {"nested": [1, [2]]}}
    token = moto_key.sign(HEADER, forged_claims(**extra))
    verified = verify_token(token)
    with pytest.raises(TypeError):
        verified.claims["cognito:groups"] = ["admins"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del verified.claims["sub"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        verified.claims["cognito:groups"].append("admins")
    with pytest.raises(TypeError):
        verified.claims["extra"]["nested"] = []
    with pytest.raises(AttributeError):
        verified.claims["extra"]["nested"][1].append(3)
    with pytest.raises(TypeError):
        verified.header["kid"] = "other"  # type: ignore[index]
    frozen: dict[str, Any] = {"cognito:groups": ("users",), "extra": {"nested": (1, (2,))}}
    assert verified.claims == forged_claims(**frozen)
    assert dict(verified.claims)["sub"] == verified.sub  # a copy is an ordinary dict


def test_the_next_request_with_the_same_token_sees_the_original_claims(forged_pool: Any, moto_key: SigningKey) -> None:
    groups: dict[str, Any] = {"cognito:groups": ["users"]}
    token = moto_key.sign(HEADER, forged_claims(**groups))
    first = verify_token(token)
    try:
        first.claims["cognito:groups"] = ["admins"]  # type: ignore[index]
    except TypeError:
        pass
    second = verify_token(token)
    assert second is first  # served from the verified-token cache, shared between requests
    assert second.claims["cognito:groups"] == ("users",)
    assert second.groups == ("users",)


# --- lifetime -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use", ["access", "id"])
def test_token_living_longer_than_a_day_is_refused(forged_pool: Any, moto_key: SigningKey, use: str) -> None:
    now = int(time.time())
    response = get_me(moto_key.sign(HEADER, forged_claims(use, iat=now, exp=now + DAY + 1)))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_claim"
    assert "exp - iat" in response.json()["detail"]


@pytest.mark.parametrize("use", ["access", "id"])
def test_token_living_exactly_a_day_is_accepted(forged_pool: Any, moto_key: SigningKey, use: str) -> None:
    now = int(time.time())
    response = get_me(moto_key.sign(HEADER, forged_claims(use, iat=now, exp=now + DAY)))
    assert response.status_code == 200, response.content


def test_token_lifetime_limit_is_a_setting(forged_pool: Any, moto_key: SigningKey, settings: Any) -> None:
    settings.COGNITO = {**settings.COGNITO, "MAX_TOKEN_LIFETIME": 600}
    now = int(time.time())
    assert get_me(moto_key.sign(HEADER, forged_claims(iat=now, exp=now + 600))).status_code == 200
    token_cache.clear()
    response = get_me(moto_key.sign(HEADER, forged_claims(iat=now, exp=now + 3600, jti="longer")))
    assert response.json()["code"] == "invalid_claim"


def test_auth_time_after_iat_is_refused(forged_pool: Any, moto_key: SigningKey) -> None:
    now = int(time.time())
    response = get_me(moto_key.sign(HEADER, forged_claims(iat=now - 60, auth_time=now)))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_claim"
    assert "auth_time" in response.json()["detail"]


def test_refreshed_token_with_an_older_auth_time_is_accepted(forged_pool: Any, moto_key: SigningKey) -> None:
    now = int(time.time())
    response = get_me(moto_key.sign(HEADER, forged_claims(iat=now, auth_time=now - 30 * DAY)))
    assert response.status_code == 200, response.content


def test_real_moto_tokens_pass_the_lifetime_checks(cognito_user: Any) -> None:
    assert verify_token(cognito_user.tokens.access_token).sub
    assert verify_token(cognito_user.tokens.id_token).sub


@pytest.mark.parametrize("value", ["1 day", -1, None])
def test_malformed_token_lifetime_setting_is_named_by_a_system_check(settings: Any, value: Any) -> None:
    from cognito_backend.checks import check_verification_settings

    settings.COGNITO = {**settings.COGNITO, "MAX_TOKEN_LIFETIME": value}
    assert "cognito_backend.E015" in {message.id for message in check_verification_settings()}
