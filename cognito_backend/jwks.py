"""Cognito's signing keys: fetched once, kept in process memory and in Django's cache, refreshed on rotation.

Behaviour follows aws-jwt-verify's ``SimpleJwksCache`` and ``PenaltyBox``:

- a known ``kid`` is answered from process memory without a lock or a cache round trip (the hot path);
- an unknown ``kid`` first looks in Django's cache (another process may have fetched the rotated keys), then
  fetches the JWKS, one fetch at a time per URL and process: concurrent requests wait for it and reuse it;
- after a fetch, an unknown ``kid`` waits in the penalty box (``JWKS_PENALTY_SECONDS``) before it can trigger
  the next fetch, so a flood of made-up kids cannot hammer Cognito;
- every fetch has connect and read timeouts; when Cognito cannot be reached, keys already known keep working
  and an unknown ``kid`` fails with ``JwksUnavailable`` (503: the token could not be judged), never a hang.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from jose import jwk as jose_jwk

from .conf import cognito_settings
from .exceptions import InvalidJwk, JwksUnavailable, KidNotFound

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
MIN_RSA_BITS = 2048
CACHE_PREFIX = "cognito_backend:jwks:"
_PKCS1V15 = padding.PKCS1v15()
_HASHES = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}


@dataclass(frozen=True)
class PublicKey:
    """One JWK of the set, parsed once. ``error`` is set when the JWK cannot sign RS256 tokens."""

    kid: str
    jwk: dict[str, Any]
    key: Any  # jose.backends.RSAKey; untyped library
    error: str = ""

    def verify(self, signing_input: bytes, signature: bytes, alg: str = "RS256") -> bool:
        """PKCS#1 v1.5 / SHA-256 on the key python-jose parsed, straight on its ``cryptography`` object
        (python-jose's own ``verify`` rebuilds the public key and the hash object on every call)."""
        try:
            self.key.prepared_key.verify(signature, signing_input, _PKCS1V15, _HASHES[alg])
        except InvalidSignature:
            return False
        return True


def _parse_jwk(raw: Any) -> PublicKey | None:
    """Parse one JWK; an unusable one is kept with its error so a token naming it is refused with a reason."""
    if not isinstance(raw, dict) or not isinstance(raw.get("kid"), str) or not raw["kid"]:
        return None
    kid = raw["kid"]
    # aws-jwt-verify's assertIsJwk/validateJwtHeaderAndJwk: use "sig", kty "RSA", n and e present.
    if raw.get("use") != "sig":
        return PublicKey(kid, raw, None, f"JWK use must be 'sig', is {raw.get('use')!r}")
    if raw.get("kty") != "RSA":
        return PublicKey(kid, raw, None, f"JWK kty must be 'RSA', is {raw.get('kty')!r}")
    if not isinstance(raw.get("n"), str) or not isinstance(raw.get("e"), str):
        return PublicKey(kid, raw, None, "JWK lacks the RSA modulus or exponent")
    alg = raw.get("alg")
    if alg is not None and not isinstance(alg, str):
        return PublicKey(kid, raw, None, "JWK alg is not a string")
    try:
        key = jose_jwk.construct({k: v for k, v in raw.items() if k in {"kty", "n", "e", "kid"}}, "RS256")
        bits = int(key.public_key().prepared_key.key_size)
    except Exception as exc:  # noqa: BLE001 - any parse failure of a remote document means "unusable key"
        return PublicKey(kid, raw, None, f"JWK cannot be parsed ({type(exc).__name__})")
    if bits < MIN_RSA_BITS:
        return PublicKey(kid, raw, None, f"RSA key of {bits} bits is too short")
    return PublicKey(kid, raw, key.public_key())


def parse_jwks(document: Any) -> dict[str, PublicKey]:
    """The keys of a JWKS document by kid; raises ``ValueError`` when it is not a JWKS at all."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, PublicKey] = {}
    for raw in document["keys"]:
        parsed = _parse_jwk(raw)
        if parsed is not None and parsed.kid not in keys:
            keys[parsed.kid] = parsed
    return keys


def fetch_jwks(url: str) -> dict[str, Any]:
    """GET the JWKS with timeouts and a size cap; any failure is ``JwksUnavailable``."""
    timeout = (float(cognito_settings.JWKS_CONNECT_TIMEOUT), float(cognito_settings.JWKS_READ_TIMEOUT))
    try:
        with requests.get(url, timeout=timeout, stream=True, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise JwksUnavailable(f"The JWKS endpoint answered HTTP {response.status_code}.")
            body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise JwksUnavailable(f"The JWKS endpoint could not be reached ({type(exc).__name__}).") from exc
    except urllib3.exceptions.HTTPError as exc:
        # Reading ``response.raw`` bypasses requests' wrapping: a truncated body (ProtocolError), a body that
        # stalls past the read timeout (ReadTimeoutError) and a broken gzip (DecodeError) arrive as urllib3's.
        raise JwksUnavailable(f"The JWKS endpoint could not be read ({type(exc).__name__}).") from exc
    except OSError as exc:
        raise JwksUnavailable(f"The JWKS endpoint could not be read ({type(exc).__name__}).") from exc
    if len(body) > MAX_JWKS_BYTES:
        raise JwksUnavailable("The JWKS document is too large.")
    try:
        document = json.loads(body)
        parse_jwks(document)
    except (ValueError, TypeError, RecursionError) as exc:
        raise JwksUnavailable("The JWKS endpoint did not return a key set.") from exc
    assert isinstance(document, dict)
    return document


class _UrlState:
    """Per-URL state of one process: parsed keys, the fetch lock and the penalty box clock."""

    def __init__(self) -> None:
        self.keys: dict[str, PublicKey] | None = None
        self.lock = threading.Lock()
        self.last_fetch = float("-inf")  # monotonic time of the last successful fetch
        self.last_failure = float("-inf")
        self.fetches = 0


class JwksCache:
    """Signing keys of every configured JWKS URL; one instance per process (``jwks_cache``)."""

    def __init__(self) -> None:
        self._states: dict[str, _UrlState] = {}
        self._states_lock = threading.Lock()

    def _state(self, url: str) -> _UrlState:
        state = self._states.get(url)
        if state is None:
            with self._states_lock:
                state = self._states.setdefault(url, _UrlState())
        return state

    @staticmethod
    def _cache_key(url: str) -> str:
        return CACHE_PREFIX + hashlib.sha256(url.encode()).hexdigest()

    def fetch_count(self, url: str) -> int:
        """How many times this process fetched ``url`` (for tests and the health check)."""
        return self._state(url).fetches

    def get_key(self, url: str, kid: str) -> PublicKey:
        """The usable key ``kid`` of the JWKS at ``url``.

        Raises ``KidNotFound`` (401) when the key set, fresh enough, lacks the kid; ``JwksUnavailable`` (503)
        when the key set cannot be had; ``InvalidJwk`` (401) when the key exists but cannot sign RS256.
        """
        state = self._state(url)
        keys = state.keys
        if keys is not None:
            found = keys.get(kid)
            if found is not None:
                return self._usable(found)
        # The penalty box first, as aws-jwt-verify does: a flood of made-up kids costs neither the lock nor a
        # Django cache read nor a parse of the key set.
        self._assert_not_penalised(state, kid)
        with state.lock:  # one fetch at a time per URL; waiters find its result below
            keys = state.keys
            if keys is not None and kid in keys:
                return self._usable(keys[kid])
            self._assert_not_penalised(state, kid)  # a fetch finished while this thread waited for the lock
            shared = self._from_shared_cache(url)
            if shared is not None and kid in shared:
                state.keys = shared
                return self._usable(shared[kid])
            try:
                document = fetch_jwks(url)
            except JwksUnavailable as exc:
                state.last_failure = time.monotonic()
                logger.warning("JWKS fetch failed: url=%s reason=%s", url, exc.detail)
                raise
            state.fetches += 1
            state.last_fetch = time.monotonic()
            state.keys = parse_jwks(document)
            self._to_shared_cache(url, document)
            logger.info("JWKS fetched: url=%s kids=%s", url, sorted(state.keys))
            found = state.keys.get(kid)
            if found is None:
                raise KidNotFound(f"JWK for kid {kid!r} not found in the JWKS.")
            return self._usable(found)

    @staticmethod
    def _assert_not_penalised(state: _UrlState, kid: str) -> None:
        now = time.monotonic()
        penalty = float(cognito_settings.JWKS_PENALTY_SECONDS)
        if now - state.last_fetch < penalty:
            # Fetched moments ago and the kid was not there: the penalty box (aws-jwt-verify's
            # WaitPeriodNotYetEndedJwkError), answered as an unknown kid.
            raise KidNotFound(f"JWK for kid {kid!r} not found in the JWKS.")
        if now - state.last_failure < penalty:
            raise JwksUnavailable("The JWKS could not be fetched moments ago; try again shortly.")

    @staticmethod
    def _usable(key: PublicKey) -> PublicKey:
        if key.error:
            raise InvalidJwk(f"{key.error}.")
        return key

    def _from_shared_cache(self, url: str) -> dict[str, PublicKey] | None:
        try:
            document = cache.get(self._cache_key(url))
        except Exception:  # noqa: BLE001 - the shared cache is an accelerator; its outage must not refuse tokens
            logger.warning("JWKS: the Django cache could not be read", exc_info=True)
            return None
        if document is None:
            return None
        try:
            return parse_jwks(document)
        except ValueError:
            return None

    def _to_shared_cache(self, url: str, document: dict[str, Any]) -> None:
        try:
            cache.set(self._cache_key(url), document, timeout=int(cognito_settings.JWKS_CACHE_SECONDS))
        except Exception:  # noqa: BLE001 - see _from_shared_cache
            logger.warning("JWKS: the Django cache could not be written", exc_info=True)

    def preload(self, url: str, document: dict[str, Any]) -> None:
        """Install a known key set (aws-jwt-verify's ``cacheJwks``): useful offline and in benchmarks."""
        state = self._state(url)
        with state.lock:
            state.keys = parse_jwks(document)

    def clear(self) -> None:
        """Forget every key of this process (the Django cache is left to its own timeout)."""
        with self._states_lock:
            self._states.clear()


jwks_cache = JwksCache()


@receiver(setting_changed)
def _clear_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"COGNITO", "CACHES"}:
        jwks_cache.clear()
