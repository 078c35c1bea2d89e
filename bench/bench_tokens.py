"""Benchmark: the cost of verifying a Cognito access token, against the floor of one RSA-2048 verify.

    .venv/bin/python bench/bench_tokens.py [--seconds 2]

Measures in one run, on this machine:

(a) the raw RSA-2048 PKCS#1 v1.5 / SHA-256 signature check with ``cryptography`` (the floor);
(b) ``verify_token`` of a valid access token with a warm JWKS cache and the verified-token cache off: every
    check of tokens.py, signature included;
(c) the same with the verified-token cache on (what a repeated request pays).

Prints the ratios (b)/(a) (target <= 2.5) and (c)/(a). No network: the key set is preloaded the way
aws-jwt-verify's ``cacheJwks`` does. Not part of the test suite; never fails on a time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._procs import write_results  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def measure(fns: dict[str, Callable[[], Any]], seconds: float, rounds: int = 15) -> dict[str, float]:
    """Seconds per call of each function: rounds interleave the functions so that load from other processes
    hits all of them alike, and the fastest round of each counts (the least disturbed one)."""
    best = {name: float("inf") for name in fns}
    slice_ = seconds / rounds
    for _ in range(rounds):
        for name, fn in fns.items():
            n = 0
            start = time.perf_counter()
            while True:
                for _ in range(50):
                    fn()
                n += 50
                now = time.perf_counter()
                if now - start >= slice_:
                    break
            best[name] = min(best[name], (now - start) / n)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent per measurement")
    args = parser.parse_args()

    import django

    django.setup()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from django.test.utils import override_settings

    from cognito_backend.jwks import jwks_cache
    from cognito_backend.tokens import verify_token

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    numbers = public.public_numbers()

    def uint(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    pool_id = "us-east-1_Bench"
    issuer = f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"
    jwks_url = "http://127.0.0.1:9/jwks.json"  # never fetched: preloaded below
    jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "bench", "n": uint(numbers.n), "e": uint(numbers.e)}
    now = int(time.time())
    claims = {
        "sub": "6d8f1c1e-3c4b-4e8e-9a39-5b0c3c7f0c11",
        "iss": issuer,
        "client_id": "benchclient",
        "origin_jti": "4c0c2f8e-4f6e-4d1e-9a0d-0d2f5a0b7c11",
        "event_id": "0f8c1b1e-9e0b-4b8a-8c1c-6f4e1b2a3d44",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "b2f2c7d4-6a1e-4f0b-9d3c-1e2f3a4b5c6d",
        "username": "bench-user",
        "cognito:groups": ["users"],
    }
    header = {"kid": "bench", "alg": "RS256"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}".encode()
    signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    token = f"{signing_input.decode()}.{b64url(signature)}"

    cognito = {"REGION": "us-east-1", "USER_POOL_ID": pool_id, "APP_CLIENT_ID": "benchclient", "JWKS_URL": jwks_url}
    with override_settings(COGNITO=cognito):
        jwks_cache.preload(jwks_url, {"keys": [jwk]})
        assert verify_token(token, use_cache=False).sub == claims["sub"]

        def raw() -> None:
            public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())

        def full() -> None:
            verify_token(token, use_cache=False)

        def cached() -> None:
            verify_token(token)

        measure({"raw": raw, "full": full, "cached": cached}, 0.3, rounds=1)  # warm-up
        times = measure({"raw": raw, "full": full, "cached": cached}, args.seconds)
        a, b, c = times["raw"], times["full"], times["cached"]

    print("token verification (RSA-2048, RS256), fastest of 15 interleaved rounds, per call:")
    print(f"  (a) raw cryptography verify      {a * 1e6:9.1f} us")
    print(f"  (b) verify_token, no token cache {b * 1e6:9.1f} us   (b)/(a) = {b / a:.2f}  (target <= 2.5)")
    print(f"  (c) verify_token, token cache    {c * 1e6:9.1f} us   (c)/(a) = {c / a:.2f}")
    write_results("tokens", {"raw_us": a * 1e6, "full_us": b * 1e6, "cached_us": c * 1e6, "ratio_full": b / a})


if __name__ == "__main__":
    main()
