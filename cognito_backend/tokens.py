"""Verify Cognito id and access tokens the way AWS's own verifier (aws-jwt-verify) does, check for check.

Each check is one small function named after aws-jwt-verify's assert helpers; each raises a ``TokenError`` whose
message names the claim, the expected and the actual value, never the token. ``verify_token`` is the only entry
point and nothing but a ``TokenError`` leaves it: the token is attacker input, so every library error
(``ValueError``, ``TypeError``, ``OverflowError``, ``RecursionError`` ...) is translated.

Order: size, shape, header, algorithm allowlist, kid, issuer (which names the pool and so the JWKS URL; the
token never chooses a URL), key, key/header fit, signature, then the claims. Signature before claims, as AWS
does, so a forged token learns nothing about which claim would have failed.

Verified tokens are kept in a bounded in-process cache until they expire: verification runs on every request,
and an RSA check is the most expensive thing a request does. Time-dependent and per-call checks (``exp``,
accepted ``token_use``, groups, scopes) run again on every hit; revocation is checked by the caller
(``revocation.check_token``), whose state changes independently of the token.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import threading
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import cognito_settings
from .exceptions import (
    InsufficientGroup,
    InsufficientScope,
    InvalidAlgorithm,
    InvalidAudience,
    InvalidClaim,
    InvalidClientId,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenUse,
    MissingClaim,
    MissingKid,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenMalformed,
    TokenNotYetValid,
    TokenTooLarge,
)
from .jwks import jwks_cache

# \Z, not $: "$" also matches before a trailing newline, which would make "token\n" a second valid spelling.
JWT_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\Z")
TOKEN_USES = ("id", "access")
# Numbers beyond 2**53 are not exact in JSON (RFC 7159 interop) and overflow datetime; no real claim needs them.
MAX_NUMERIC_DATE = 2**53


# --- configured pools ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolConfig:
    """One trusted user pool: its issuer, where its keys live, and the app clients whose tokens are accepted."""

    pool_id: str
    region: str
    issuer: str
    jwks_url: str
    client_ids: frozenset[str]


def _pool_from(entry: Mapping[str, Any], default_region: str) -> PoolConfig:
    pool_id = str(entry.get("USER_POOL_ID") or "")
    region = str(entry.get("REGION") or (pool_id.split("_", 1)[0] if "_" in pool_id else default_region))
    issuer = str(entry.get("ISSUER") or f"https://cognito-idp.{region}.amazonaws.com/{pool_id}").rstrip("/")
    jwks_url = str(entry.get("JWKS_URL") or f"{issuer}/.well-known/jwks.json")
    client_ids = [entry.get("APP_CLIENT_ID"), *(entry.get("APP_CLIENT_IDS") or [])]
    return PoolConfig(pool_id, region, issuer, jwks_url, frozenset(str(c) for c in client_ids if c))


@dataclass(frozen=True)
class VerifierConfig:
    """The verification settings, read once: ``cognito_settings`` lookups are too slow for every request."""

    token_use: tuple[str, ...]
    required_groups: tuple[str, ...]
    required_scopes: tuple[str, ...]
    algorithms: frozenset[str]
    leeway: float
    max_token_size: int
    max_token_lifetime: float


_pools: dict[str, PoolConfig] | None = None
_config: VerifierConfig | None = None
_pools_lock = threading.Lock()


def verifier_config() -> VerifierConfig:
    global _config
    config = _config
    if config is None:
        config = _config = VerifierConfig(
            token_use=tuple(str(u) for u in cognito_settings.TOKEN_USE),
            required_groups=tuple(str(g) for g in cognito_settings.REQUIRED_GROUPS),
            required_scopes=tuple(str(s) for s in cognito_settings.REQUIRED_SCOPES),
            algorithms=frozenset(str(a) for a in cognito_settings.ALGORITHMS),
            leeway=float(cognito_settings.LEEWAY),
            max_token_size=int(cognito_settings.MAX_TOKEN_SIZE),
            max_token_lifetime=float(cognito_settings.MAX_TOKEN_LIFETIME),
        )
    return config


def configured_pools() -> dict[str, PoolConfig]:
    """Trusted pools by issuer: the main pool of ``settings.COGNITO`` plus each entry of ``POOLS``."""
    global _pools
    pools = _pools
    if pools is not None:
        return pools
    with _pools_lock:
        main = PoolConfig(
            pool_id=str(cognito_settings.USER_POOL_ID),
            region=str(cognito_settings.REGION),
            issuer=cognito_settings.issuer,
            jwks_url=cognito_settings.jwks_url,
            client_ids=frozenset(
                str(c) for c in [cognito_settings.APP_CLIENT_ID, *cognito_settings.APP_CLIENT_IDS] if c
            ),
        )
        pools = {}
        if main.pool_id:
            pools[main.issuer] = main
        for entry in cognito_settings.POOLS or []:
            pool = _pool_from(entry, str(cognito_settings.REGION))
            pools[pool.issuer] = pool
        _pools = pools
    return pools


# --- the verified token --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims were checked.

    ``header`` and ``claims`` are read-only mappings (JSON arrays become tuples): a verified token is cached and
    shared by every request that presents it, so no view may change what the next request sees.
    """

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    pool: PoolConfig
    token_use: str
    sub: str
    username: str
    groups: tuple[str, ...]
    scopes: frozenset[str]
    expires_at: float
    issued_at: float | None
    auth_time: float | None
    jti: str
    origin_jti: str
    # The token itself, for the online check (GetUser needs it); never logged, never shown.
    raw: str = field(default="", repr=False, compare=False)

    def __getitem__(self, name: str) -> Any:
        return self.claims[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.claims.get(name, default)

    @property
    def raw_token(self) -> str:
        """The token as received (for Cognito calls that take it); never log it."""
        return self.raw

    @property
    def email(self) -> str:
        value = self.claims.get("email")
        return value if isinstance(value, str) else ""

    @property
    def email_verified(self) -> bool:
        """Cognito writes ``email_verified`` as a boolean or as the string "true"."""
        value = self.claims.get("email_verified")
        return value is True or value == "true"

    @property
    def revocation_time(self) -> float:
        """When the session began: ``auth_time`` (kept across refreshes), else ``iat``."""
        if self.auth_time is not None:
            return self.auth_time
        return self.issued_at if self.issued_at is not None else 0.0


# --- assert helpers (aws-jwt-verify: assert.ts) --------------------------------------------------------------


def assert_string_equals(name: str, actual: Any, expected: str, error: type[TokenError]) -> None:
    if actual != expected:
        raise error(f"{name} not allowed: {_show(actual)}. Expected: {expected}.")


def assert_string_array_contains_string(
    name: str, actual: Any, expected: Collection[str], error: type[TokenError]
) -> None:
    if actual is None:
        raise MissingClaim(f"Missing {name}. Expected one of: {', '.join(sorted(expected))}.")
    if not isinstance(actual, str) or actual not in expected:
        raise error(f"{name} not allowed: {_show(actual)}. Expected one of: {', '.join(sorted(expected))}.")


def assert_string_arrays_overlap(
    name: str, actual: Iterable[str] | None, expected: Collection[str], error: type[TokenError]
) -> None:
    if not actual:
        raise error(f"Missing {name}. Expected one of: {', '.join(sorted(expected))}.")
    if not set(actual) & set(expected):
        raise error(f"{name} not allowed: {', '.join(sorted(actual))}. Expected one of: {', '.join(sorted(expected))}.")


def _show(value: Any) -> str:
    """A claim value safe and short enough for an error message."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


# --- decomposition (aws-jwt-verify: jwt.ts decomposeJwt / assertJwtHeader / assertJwtPayload) --------------------


def _reject_constant(value: str) -> Any:
    raise ValueError(f"JSON constant {value} is not allowed")


def _frozen(array: list[Any]) -> tuple[Any, ...]:
    """A JSON array as a tuple, recursively (objects inside are already frozen by ``_frozen_object``)."""
    items = tuple(array)
    if list in map(type, items):
        return tuple([_frozen(item) if type(item) is list else item for item in items])
    return items


def _frozen_object(pairs: list[tuple[str, Any]]) -> Mapping[str, Any]:
    """A JSON object as a read-only mapping. Duplicate names are refused: two parsers that keep different
    copies would see two different tokens."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    if list in map(type, result.values()):  # a scan in C; most objects hold no array
        for name, value in pairs:
            if type(value) is list:
                result[name] = _frozen(value)
    return MappingProxyType(result)


_URLSAFE = bytes.maketrans(b"-_", b"+/")
# The last character of an unpadded segment carries 4 (length % 4 == 2) or 2 (length % 4 == 3) unused bits,
# which must be zero (RFC 4648 3.5): otherwise 15 (or 3) other spellings decode to the same bytes, and a token
# re-encoded that way would be accepted as a second token (and a second cache entry).
_CANONICAL_LAST = {
    2: frozenset("AQgw"),
    3: frozenset("AEIMQUYcgkosw048"),
}


def _b64url_decode(segment: str) -> bytes:
    """Canonical base64url without padding; the caller has checked the alphabet (JWT_RE)."""
    remainder = len(segment) % 4
    if remainder:
        last = _CANONICAL_LAST.get(remainder)
        if last is None or segment[-1] not in last:
            raise ValueError("non-canonical base64url")
    return binascii.a2b_base64((segment + "=" * (-len(segment) % 4)).encode("ascii").translate(_URLSAFE))


def _b64_json(segment: str, what: str) -> Mapping[str, Any]:
    try:
        raw = _b64url_decode(segment)
    except (binascii.Error, ValueError) as exc:
        raise TokenMalformed(f"JWT {what} is not valid base64url.") from exc
    try:
        # UTF-8 only (RFC 7515 5.2): json.loads on bytes would also take UTF-16 and UTF-32, and a UTF-8 BOM.
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TokenMalformed(f"JWT {what} is not valid UTF-8.") from exc
    try:
        value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_frozen_object)
    except (ValueError, TypeError, RecursionError) as exc:
        raise TokenMalformed(f"JWT {what} is not valid JSON.") from exc
    if not isinstance(value, MappingProxyType):
        raise TokenMalformed(f"JWT {what} is not a JSON object.")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _assert_numeric_date(payload: Mapping[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise InvalidClaim(f"JWT payload {name} claim is not a valid NumericDate: {_show(value)}.")
    return float(value)


def assert_jwt_header(header: Mapping[str, Any]) -> None:
    if "alg" in header and not isinstance(header["alg"], str):
        raise TokenMalformed("JWT header alg claim is not a string.")
    if "kid" in header and not isinstance(header["kid"], str):
        raise MissingKid("JWT header kid claim is not a string.")
    crit = header.get("crit")
    if crit is not None:
        # RFC 7515 4.1.11: extensions we do not understand must make the token invalid.
        raise TokenInvalid("JWT header names critical extensions this verifier does not support.")


_DATE_CLAIMS = ("exp", "nbf", "iat", "auth_time")
_STRING_CLAIMS = (
    "iss",
    "aud",
    "scope",
    "jti",
    "token_use",
    "client_id",
    "sub",
    "username",
    "origin_jti",
    "cognito:username",
)


def assert_jwt_payload(payload: Mapping[str, Any]) -> None:
    """Claim types (aws-jwt-verify's assertJwtPayload, plus Cognito's own claims); one pass, it runs per token."""
    for name in _DATE_CLAIMS:
        if name in payload:
            _assert_numeric_date(payload, name)
    for name in _STRING_CLAIMS:
        value = payload.get(name)
        if value is not None and type(value) is not str:
            raise InvalidClaim(f"JWT payload {name} claim is not a string: {_show(value)}.")
    groups = payload.get("cognito:groups")
    if groups is not None and (type(groups) is not tuple or not all(type(g) is str for g in groups)):
        raise InvalidClaim("JWT payload cognito:groups claim is not a list of strings.")


# Every token of a pool carries one of a handful of headers ({"kid": ..., "alg": "RS256"}): parsed once.
# Entries are only parsed JSON (no trust attached), and the memo stops growing at its limit.
_parsed_headers: dict[str, Mapping[str, Any]] = {}
_HEADER_MEMO_LIMIT = 256


def decompose(token: str | bytes) -> tuple[Mapping[str, Any], Mapping[str, Any], bytes, bytes]:
    """Split and parse a JWT: ``(header, payload, signing_input, signature)``; only ``TokenError`` escapes."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as exc:
            raise TokenMalformed("JWT is not ASCII.") from exc
    if not isinstance(token, str):
        raise TokenMalformed("JWT is not a string.")
    if not token:
        raise TokenMalformed("Empty JWT.")
    max_size = verifier_config().max_token_size
    if len(token) > max_size:
        raise TokenTooLarge(f"JWT is {len(token)} characters long; at most {max_size} are accepted.")
    if not JWT_RE.match(token):
        raise TokenMalformed("JWT string does not consist of exactly 3 parts (header, payload, signature).")
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = _parsed_headers.get(header_b64)
    if header is None:
        header = _b64_json(header_b64, "header")
        assert_jwt_header(header)
        if len(_parsed_headers) < _HEADER_MEMO_LIMIT:
            _parsed_headers[header_b64] = header
    payload = _b64_json(payload_b64, "payload")
    assert_jwt_payload(payload)
    try:
        signature = _b64url_decode(signature_b64)
    except (binascii.Error, ValueError) as exc:
        raise TokenMalformed("JWT signature is not valid base64url.") from exc
    return header, payload, f"{header_b64}.{payload_b64}".encode("ascii"), signature


# --- checks ----------------------------------------------------------------------------------------------------


def assert_algorithm(header: Mapping[str, Any]) -> str:
    """The allowlist decides, never the token: ``none`` and HS256-with-the-public-key die here."""
    allowed = verifier_config().algorithms
    assert_string_array_contains_string("JWT signature algorithm", header.get("alg"), allowed, InvalidAlgorithm)
    return str(header["alg"])


def assert_kid(header: Mapping[str, Any]) -> str:
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MissingKid("JWT header has no kid.")
    if len(kid) > 256:
        raise MissingKid("JWT header kid is too long.")
    return kid


def assert_issuer(payload: Mapping[str, Any]) -> PoolConfig:
    pools = configured_pools()
    issuer = payload.get("iss")
    if issuer is None:
        raise MissingClaim("Missing Issuer (iss).")
    pool = pools.get(issuer) if isinstance(issuer, str) else None
    if pool is None:
        raise InvalidIssuer(f"Issuer not allowed: {_show(issuer)}.")
    return pool


def assert_jwk_fits(header: Mapping[str, Any], jwk: Mapping[str, Any]) -> None:
    """aws-jwt-verify's validateJwtHeaderAndJwk: the key's own ``alg``, when given, must be the token's."""
    if jwk.get("alg") is not None:
        assert_string_equals("JWT signature algorithm", header.get("alg"), str(jwk["alg"]), InvalidAlgorithm)


def assert_time(
    payload: Mapping[str, Any], now: float, leeway: float, max_lifetime: float
) -> tuple[float, float | None]:
    """``exp``, ``nbf``, ``iat`` and the lifetime; returns ``(iat, auth_time)``."""
    exp = _assert_numeric_date(payload, "exp")
    if exp is None:
        raise MissingClaim("Missing exp: a token without an expiry is never accepted.")
    if exp + leeway < now:
        raise TokenExpired(f"Token expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(exp))}.")
    nbf = _assert_numeric_date(payload, "nbf")
    if nbf is not None and nbf - leeway > now:
        raise TokenNotYetValid("Token can't be used before its nbf.")
    iat = _assert_numeric_date(payload, "iat")
    if iat is None:
        raise MissingClaim("Missing iat.")
    if iat - leeway > now:
        raise TokenNotYetValid("Token was issued in the future (iat).")
    # Cognito's id and access tokens live at most one day: a signed token claiming more was not minted by the
    # pool's settings (a leaked signing key, a misconfigured issuer) and is refused however far off exp is.
    if exp - iat > max_lifetime:
        raise InvalidClaim(
            f"Token lifetime (exp - iat) not allowed: {exp - iat:.0f} s. Expected at most {max_lifetime:.0f} s."
        )
    auth_time = _assert_numeric_date(payload, "auth_time")
    if auth_time is not None and auth_time > iat:
        raise InvalidClaim(f"auth_time not allowed: {_show(auth_time)}. Expected at most iat ({_show(iat)}).")
    return iat, auth_time


def assert_token_use(payload: Mapping[str, Any], accepted: Collection[str]) -> str:
    assert_string_array_contains_string("Token use", payload.get("token_use"), TOKEN_USES, InvalidTokenUse)
    token_use = str(payload["token_use"])
    if token_use not in accepted:
        raise InvalidTokenUse(f"Token use not allowed: {token_use}. Expected one of: {', '.join(sorted(accepted))}.")
    return token_use


def assert_client_id(payload: Mapping[str, Any], token_use: str, pool: PoolConfig) -> None:
    """Id tokens name the app client in ``aud``, access tokens in ``client_id`` (python-jose checks neither)."""
    if token_use == "id":  # noqa: S105 - a claim value, not a password
        aud = payload.get("aud")
        assert_string_array_contains_string('Client ID ("audience")', aud, pool.client_ids, InvalidAudience)
    else:
        client_id = payload.get("client_id")
        assert_string_array_contains_string("Client ID", client_id, pool.client_ids, InvalidClientId)


def assert_groups(token: VerifiedToken, required: Collection[str]) -> None:
    if required:
        assert_string_arrays_overlap("Cognito group", token.groups, required, InsufficientGroup)


def assert_scopes(token: VerifiedToken, required: Collection[str]) -> None:
    if required:
        assert_string_arrays_overlap("Scope", token.scopes, required, InsufficientScope)


# --- the verified-token cache ----------------------------------------------------------------------------------


class TokenCache:
    """Bounded map token -> ``VerifiedToken``. Reads take no lock; a full map drops expired then oldest entries."""

    def __init__(self) -> None:
        self._items: dict[str, VerifiedToken] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> VerifiedToken | None:
        return self._items.get(token)

    def put(self, token: str, verified: VerifiedToken) -> None:
        limit = int(cognito_settings.TOKEN_CACHE_SIZE)
        if limit <= 0:
            return
        with self._lock:
            if len(self._items) >= limit:
                now = time.time()
                for key in [k for k, v in self._items.items() if v.expires_at < now]:
                    del self._items[key]
                while len(self._items) >= limit:
                    del self._items[next(iter(self._items))]
            self._items[token] = verified

    def discard_where(self, predicate: Any) -> None:
        """Drop entries for which ``predicate(verified)`` is true (revocation of a user or token family)."""
        with self._lock:
            for key in [k for k, v in self._items.items() if predicate(v)]:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


token_cache = TokenCache()


# --- the entry point -------------------------------------------------------------------------------------------


def verify_token(
    token: str | bytes,
    *,
    token_use: Collection[str] | None = None,
    groups: Collection[str] | None = None,
    scopes: Collection[str] | None = None,
    use_cache: bool = True,
) -> VerifiedToken:
    """Verify ``token`` against the configured pools; return its claims or raise a ``TokenError``.

    ``token_use``, ``groups`` and ``scopes`` default to the ``TOKEN_USE``, ``REQUIRED_GROUPS`` and
    ``REQUIRED_SCOPES`` settings; groups and scopes need one match (aws-jwt-verify semantics), and a miss is
    a 403-class ``InsufficientGroup``/``InsufficientScope``. Revocation is not checked here.
    """
    config = verifier_config()
    accepted = tuple(token_use) if token_use is not None else config.token_use
    required_groups = tuple(groups) if groups is not None else config.required_groups
    required_scopes = tuple(scopes) if scopes is not None else config.required_scopes
    now = time.time()
    leeway = config.leeway
    verified = token_cache.get(token) if use_cache and isinstance(token, str) else None
    if verified is None:
        try:
            verified = _verify_uncached(token, now, leeway, config.max_token_lifetime)
        except TokenError:
            raise
        except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError, RecursionError) as exc:
            # Belt and braces: a library surprise on hostile input is still a refusal, not a 500.
            raise TokenMalformed(f"JWT could not be processed ({type(exc).__name__}).") from exc
        if use_cache and isinstance(token, str):
            token_cache.put(token, verified)
    elif verified.expires_at + leeway < now:
        raise TokenExpired(f"Token expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(verified.expires_at))}.")
    if verified.token_use not in accepted:
        raise InvalidTokenUse(
            f"Token use not allowed: {verified.token_use}. Expected one of: {', '.join(sorted(accepted))}."
        )
    assert_groups(verified, required_groups)
    assert_scopes(verified, required_scopes)
    return verified


def _verify_uncached(token: str | bytes, now: float, leeway: float, max_lifetime: float) -> VerifiedToken:
    header, payload, signing_input, signature = decompose(token)
    alg = assert_algorithm(header)
    kid = assert_kid(header)
    pool = assert_issuer(payload)
    key = jwks_cache.get_key(pool.jwks_url, kid)
    assert_jwk_fits(header, key.jwk)
    if not key.verify(signing_input, signature, alg):
        raise InvalidSignature("Invalid signature.")
    issued_at, auth_time = assert_time(payload, now, leeway, max_lifetime)
    use = assert_token_use(payload, TOKEN_USES)
    assert_client_id(payload, use, pool)
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        raise MissingClaim("Missing sub.")
    username = payload.get("username") if use == "access" else payload.get("cognito:username")
    scope = payload.get("scope")
    return VerifiedToken(
        header=header,
        claims=payload,
        pool=pool,
        token_use=use,
        sub=sub,
        username=username if isinstance(username, str) and username else sub,
        groups=tuple(payload.get("cognito:groups") or ()),
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        expires_at=float(payload["exp"]),
        issued_at=issued_at,
        auth_time=auth_time,
        jti=str(payload.get("jti") or ""),
        origin_jti=str(payload.get("origin_jti") or ""),
        raw=token if isinstance(token, str) else token.decode("ascii"),
    )


def reset_caches() -> None:
    """Forget configured pools, verified tokens and keys of this process (settings changes, tests)."""
    global _pools, _config
    with _pools_lock:
        _pools = None
        _config = None
    token_cache.clear()
    jwks_cache.clear()


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"COGNITO", "CACHES"}:
        reset_caches()
