"""Every Cognito user flow of this site, one function each; views and pages call these, never ``idp`` directly.

The functions take and return plain values (dataclasses below) and raise only ``cognito_backend.exceptions``
classes, so the REST views, the session-based pages and the lazy-migration wrapper around ``sign_in`` can share
them. A challenge's Cognito session is wrapped in a signed, timestamped envelope together with the challenge
name and the user it is for: the client carries it back opaquely and cannot point it at another user.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from django.core import signing
from django.core.cache import cache
from django.db import transaction

from cognito_backend import exceptions as exc
from cognito_backend import idp, idp_admin, revocation
from cognito_backend.conf import cognito_settings
from cognito_backend.models import CognitoIdentity
from cognito_backend.tokens import verify_token

from . import conf
from .exceptions import ReauthenticationRequired

logger = logging.getLogger(__name__)

CHALLENGES = ("NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA", "SMS_MFA", "MFA_SETUP", "SELECT_MFA_TYPE")
MFA_TYPES = ("SOFTWARE_TOKEN_MFA", "SMS_MFA")
_SESSION_SALT = "accounts.challenge-session"
_POLICY_CACHE_KEY = "accounts:password-policy:{pool}"
_USER_SUB_CACHE_KEY = "accounts:user-sub:{pool}:{digest}"
# One answer for every refusal of an emailed code, whatever the user's existence or state.
CODE_REFUSED = "The code is not valid or has expired; request a new one."
_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")


# --- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True)
class Challenge:
    """Cognito wants one more answer; ``session`` is the signed envelope to send back."""

    name: str
    session: str
    parameters: dict[str, Any] = field(default_factory=dict)


SignInResult = Tokens | Challenge


@dataclass(frozen=True)
class CodeDelivery:
    destination: str
    medium: str
    attribute: str


@dataclass(frozen=True)
class SignUpResult:
    user_sub: str
    confirmed: bool
    delivery: CodeDelivery | None


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    uri: str
    session: str | None = None


@dataclass(frozen=True)
class Profile:
    username: str
    attributes: dict[str, str]
    mfa_enabled: list[str]
    mfa_preferred: str | None


@dataclass(frozen=True)
class IdentityCredentials:
    identity_id: str
    access_key_id: str
    secret_key: str
    session_token: str
    expiration: str


@dataclass(frozen=True)
class PoolUser:
    username: str
    sub: str


# --- helpers ------------------------------------------------------------------------------------------------


def _delivery(details: Mapping[str, Any] | None) -> CodeDelivery | None:
    if not details:
        return None
    return CodeDelivery(
        destination=str(details.get("Destination", "")),
        medium=str(details.get("DeliveryMedium", "")),
        attribute=str(details.get("AttributeName", "")),
    )


def _tokens(result: Mapping[str, Any], refresh_token: str = "") -> Tokens:
    return Tokens(
        id_token=str(result.get("IdToken") or ""),
        access_token=str(result.get("AccessToken") or ""),
        refresh_token=str(result.get("RefreshToken") or refresh_token),
        expires_in=int(result.get("ExpiresIn") or 3600),
    )


def seal_session(challenge: str, cognito_session: str, username: str) -> str:
    return signing.dumps({"c": challenge, "s": cognito_session, "u": username}, salt=_SESSION_SALT, compress=True)


def open_session(sealed: str) -> tuple[str, str, str]:
    """(challenge, Cognito session, username) of an envelope; ``SessionExpired`` if stale or tampered with."""
    try:
        data = signing.loads(sealed, salt=_SESSION_SALT, max_age=conf.challenge_max_age())
    except (signing.BadSignature, ValueError, TypeError, UnicodeError) as error:
        raise exc.SessionExpired() from error
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("c", "s", "u")):
        raise exc.SessionExpired()
    return data["c"], data["s"], data["u"]


def _result(answer: Mapping[str, Any], username: str) -> SignInResult:
    """Tokens, or the next challenge sealed for ``username`` (as Cognito names the user in the challenge)."""
    if answer.get("AuthenticationResult"):
        return _tokens(answer["AuthenticationResult"])
    name = str(answer.get("ChallengeName") or "")
    if name not in CHALLENGES:
        logger.warning("cognito sign-in answered with an unsupported challenge %s", name or "(none)")
        raise exc.NotSupported(f"The sign-in challenge {name or '(none)'} is not supported.")
    params = dict(answer.get("ChallengeParameters") or {})
    who = str(params.get("USER_ID_FOR_SRP") or params.get("USERNAME") or username)
    public: dict[str, Any] = {}
    if name == "MFA_SETUP":
        raw = params.get("MFAS_CAN_SETUP") or []
        public["mfas_can_setup"] = _as_list(raw)
    if name == "SELECT_MFA_TYPE":
        public["mfas_can_choose"] = _as_list(params.get("MFAS_CAN_CHOOSE") or [])
    if name == "SMS_MFA" and params.get("CODE_DELIVERY_DESTINATION"):
        public["destination"] = str(params["CODE_DELIVERY_DESTINATION"])
    if name == "NEW_PASSWORD_REQUIRED" and params.get("requiredAttributes"):
        public["required_attributes"] = _as_list(params["requiredAttributes"])
    return Challenge(name=name, session=seal_session(name, str(answer.get("Session") or ""), who), parameters=public)


def _as_list(raw: Any) -> list[str]:
    if isinstance(raw, list):
        return [str(item) for item in raw]
    text = str(raw).strip()
    if text.startswith("["):
        try:
            return [str(item) for item in json.loads(text)]
        except ValueError:
            pass
    return [part.strip().strip("'\"") for part in text.strip("[]").split(",") if part.strip()]


def password_policy() -> dict[str, Any]:
    """The pool's password policy, cached for five minutes; empty when it cannot be read."""
    key = _POLICY_CACHE_KEY.format(pool=cognito_settings.USER_POOL_ID)
    policy = cache.get(key)
    if policy is None:
        try:
            policy = idp.describe_password_policy()
        except exc.CognitoError:
            return {}
        cache.set(key, policy, 300)
    return dict(policy)


def password_problems(password: str, policy: Mapping[str, Any]) -> list[str]:
    """Which rules of ``policy`` the password breaks, in words a user can act on."""
    problems = []
    minimum = int(policy.get("MinimumLength") or 8)
    if len(password) < minimum:
        problems.append(f"at least {minimum} characters")
    if policy.get("RequireUppercase") and not re.search(r"[A-Z]", password):
        problems.append("an uppercase letter")
    if policy.get("RequireLowercase") and not re.search(r"[a-z]", password):
        problems.append("a lowercase letter")
    if policy.get("RequireNumbers") and not re.search(r"\d", password):
        problems.append("a number")
    if policy.get("RequireSymbols") and not any(c in _SYMBOLS for c in password):
        problems.append("a symbol")
    return problems


def check_password(password: str, field_name: str = "password") -> None:
    """Refuse a password the pool's policy would refuse, naming the rules, before asking Cognito.

    Cognito checks again (the policy may be unreadable here); its refusal is explained the same way.
    """
    policy = password_policy()
    problems = password_problems(password, policy) if policy else []
    if problems:
        raise exc.InvalidPassword(
            f"The password does not meet the password policy; it needs {', '.join(problems)}.", field=field_name
        )


def _weak_password(error: exc.CognitoError, password: str, field_name: str) -> exc.InvalidPassword:
    problems = password_problems(password, password_policy())
    detail = "The password does not meet the password policy"
    detail += f"; it needs {', '.join(problems)}." if problems else "."
    weak = exc.InvalidPassword(detail, field=field_name)
    weak.__cause__ = error
    return weak


# --- attributes a user may set -------------------------------------------------------------------------------

# Never set by a user, whatever the app client may write: Cognito's own, or proof of a verification.
_NEVER_WRITABLE = frozenset({"sub", "identities", "email_verified", "phone_number_verified", "cognito:user_status"})
# OpenID Connect's standard claims: attributes of every pool.
STANDARD_ATTRIBUTES = frozenset(
    {
        "address",
        "birthdate",
        "email",
        "family_name",
        "gender",
        "given_name",
        "locale",
        "middle_name",
        "name",
        "nickname",
        "phone_number",
        "picture",
        "preferred_username",
        "profile",
        "updated_at",
        "website",
        "zoneinfo",
    }
)
_attributes_lock = threading.Lock()
_attributes_cache: dict[tuple[str, str], tuple[float, frozenset[str], frozenset[str]]] = {}


def writable_attributes() -> tuple[frozenset[str], frozenset[str]]:
    """(at sign-up, on the profile): attributes of the pool this app client may write, kept per process for
    ``ATTRIBUTES_CACHE_SECONDS``. An app client without ``WriteAttributes`` may write every attribute; the
    profile only mutable ones. Raises ``ServiceUnavailable`` when the pool cannot be described."""
    key = (str(cognito_settings.USER_POOL_ID), str(cognito_settings.APP_CLIENT_ID))
    now = time.monotonic()
    cached = _attributes_cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    with _attributes_lock:
        cached = _attributes_cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        try:
            schema = idp.describe_attribute_schema()
            client = idp.describe_app_client()
        except exc.CognitoError as error:
            logger.warning("the pool's writable attributes could not be read: %s", error.code)
            raise exc.ServiceUnavailable() from error
        # Cognito lists every standard attribute; a stand-in may list only those the pool was created with.
        immutable = {str(a.get("Name")) for a in schema if a.get("Name") and a.get("Mutable") is False}
        names = {str(a.get("Name")) for a in schema if a.get("Name")} | STANDARD_ATTRIBUTES
        mutable = names - immutable
        allowed = set(client["WriteAttributes"]) if client.get("WriteAttributes") else names
        at_sign_up = frozenset((allowed & names) - _NEVER_WRITABLE)
        on_profile = frozenset(at_sign_up & mutable)
        ttl = float(conf.accounts_settings.ATTRIBUTES_CACHE_SECONDS)
        _attributes_cache[key] = (now + ttl, at_sign_up, on_profile)
        return at_sign_up, on_profile


def _check_writable(attributes: Mapping[str, str], allowed: frozenset[str]) -> None:
    refused = sorted(name for name in attributes if name not in allowed)
    if refused:
        names = ", ".join(repr(name[:40]) for name in refused[:5])
        raise exc.InvalidParameter(f"These attributes cannot be set here: {names}.", field="attributes")


# --- sign-up ------------------------------------------------------------------------------------------------


def sign_up(
    username: str,
    password: str,
    email: str,
    *,
    phone_number: str | None = None,
    attributes: Mapping[str, str] | None = None,
) -> SignUpResult:
    """Create an unconfirmed Cognito user; Cognito sends the confirmation code to the email (or phone).

    Extra ``attributes`` must be ones this app client may write in the pool (``writable_attributes``)."""
    if attributes:
        _check_writable(attributes, writable_attributes()[0])
    attrs = {"email": email, **({"phone_number": phone_number} if phone_number else {}), **dict(attributes or {})}
    check_password(password)
    try:
        answer = idp.sign_up(username, password, attrs)
    except exc.InvalidPassword as error:
        raise _weak_password(error, password, "password") from error
    logger.info("signed up %s", username)
    # The name was looked up (for the rate limit) while it was nobody's: from now on it is this user's.
    cache.delete_many([_user_sub_key(username), _user_sub_key(username.lower())])
    return SignUpResult(
        user_sub=str(answer.get("UserSub", "")),
        confirmed=bool(answer.get("UserConfirmed")),
        delivery=_delivery(answer.get("CodeDeliveryDetails")),
    )


# What Cognito answers a code for a user that does not exist, is already confirmed, disabled, has no code
# outstanding (ExpiredCode) or a wrong one: all read as the same refusal, in our words (Cognito's differ).
_CODE_REFUSALS = (
    exc.CodeMismatch,
    exc.CodeExpired,
    exc.UserNotFound,
    exc.NotAuthorized,
    exc.UserDisabled,
    exc.UserNotConfirmed,
)


@contextmanager
def _code_answers() -> Iterator[None]:
    """Refusals of an emailed code are one answer on the ``code`` field (``code_mismatch``): it does not tell
    whether the user exists, is confirmed or disabled, or whether a code was ever sent."""
    try:
        yield
    except _CODE_REFUSALS as error:
        logger.info("code refused: %s", error.code)
        raise exc.CodeMismatch(CODE_REFUSED, field="code") from error


def confirm_sign_up(username: str, code: str) -> None:
    with _code_answers():
        idp.confirm_sign_up(username, code)
    logger.info("confirmed %s", username)


# Refusals that would tell an unknown, confirmed, disabled or unreachable user apart: not errors to the caller.
_SILENT_REFUSALS = (exc.UserNotFound, exc.InvalidParameter, exc.NotAuthorized, exc.UserDisabled, exc.UserNotConfirmed)


def resend_code(username: str) -> None:
    """Send the confirmation code again. The caller learns nothing: not whether the user exists or is already
    confirmed, nor where the code went (Cognito's masked destination exists only for a real user)."""
    try:
        idp.resend_code(username)
    except _SILENT_REFUSALS as error:
        logger.info("resend refused: %s", error.code)


# --- sign-in ------------------------------------------------------------------------------------------------


def sign_in(username: str, password: str, *, client: str = "") -> SignInResult:
    """Sign in with the configured flow; an unknown user, a wrong password and a disabled user get the same
    ``NotAuthorized``. ``client`` is the client's address (the lazy migration counts failures per address).

    A plain function on purpose: the lazy migration wraps it (try Cognito, on ``NotAuthorized`` check the old
    password store, move the user, call it again).
    """
    try:
        return _sign_in_resolving(username, password)
    except exc.NotAuthorized:
        # Lazy password migration (migrations_tools.lazy): None unless the local hash matches; then Cognito's answer.
        migrated = _lazy_migration(username, password, client)
        if migrated is None:
            raise
        return _result(migrated, username)


def _lazy_migration(username: str, password: str, client: str) -> dict[str, Any] | None:
    from django.apps import apps

    if not apps.is_installed("migrations_tools"):
        return None
    try:
        answer: dict[str, Any] | None = importlib.import_module("migrations_tools.lazy").try_lazy_migration(
            username, password, client=client
        )
    except exc.InvalidPassword as error:
        # The old password is right but the pool's policy refuses it: the user must choose a new one.
        raise exc.PasswordResetRequired("This password must be replaced: use 'forgot password'.") from error
    return answer


def _sign_in_resolving(username: str, password: str) -> SignInResult:
    try:
        return _sign_in(username, password)
    except exc.UserNotFound:
        resolved = _username_for_email(username)
        if resolved is None:
            raise exc.NotAuthorized() from None
    try:
        return _sign_in(resolved, password)
    except exc.UserNotFound:
        raise exc.NotAuthorized() from None


def _sign_in(username: str, password: str) -> SignInResult:
    try:
        if conf.auth_flow() == "USER_SRP_AUTH":
            answer = idp.initiate_srp_auth(username, password)
        else:
            answer = idp.initiate_auth(username, password)
    except (exc.InvalidPassword, exc.NotAuthorized, exc.UserDisabled) as error:
        # Always the same words: Cognito's own message differs between causes (and cognito-local answers a wrong
        # password with InvalidPasswordException), which would tell an unknown user from a wrong password. Cognito
        # says "disabled" whatever the password, so a disabled user is refused like a wrong password too.
        raise exc.NotAuthorized() from error
    result = _result(answer, username)
    logger.info("sign-in of %s: %s", username, "tokens" if isinstance(result, Tokens) else result.name)
    return result


def _username_for_email(identifier: str) -> str | None:
    """The username of the one user whose verified email is ``identifier``, for pools that do not resolve it."""
    if "@" not in identifier:
        return None
    try:
        users = idp.list_users_by_email(identifier)
    except exc.CognitoError:
        return None
    verified = [
        u
        for u in users
        if any(a.get("Name") == "email_verified" and a.get("Value") == "true" for a in u.get("Attributes", []))
    ]
    if len(verified) != 1:
        return None
    return str(verified[0]["Username"])


def find_pool_user(identifier: str) -> PoolUser | None:
    """The pool user ``identifier`` names (AdminGetUser): by username or alias as typed, then in lower case
    (Cognito's usernames are case-insensitive by default), then by verified email. None when there is none;
    an outage raises."""
    text = identifier.strip()
    if not text:
        return None
    for candidate in dict.fromkeys([text, text.lower()]):
        try:
            record = idp_admin.admin_get_user(candidate)
        except exc.InvalidParameter:
            record = None
        if record is not None:
            attributes = idp_admin.attributes_to_dict(record.get("UserAttributes"))
            return PoolUser(username=str(record.get("Username") or candidate), sub=str(attributes.get("sub") or ""))
    username = _username_for_email(text)
    if username is None:
        return None
    record = idp_admin.admin_get_user(username)
    if record is None:
        return None
    sub = idp_admin.attributes_to_dict(record.get("UserAttributes")).get("sub") or ""
    return PoolUser(username=str(record.get("Username") or username), sub=str(sub))


def _user_sub_key(identifier: str) -> str:
    digest = hashlib.sha256(identifier.strip().encode("utf-8", "replace")).hexdigest()[:32]
    return _USER_SUB_CACHE_KEY.format(pool=cognito_settings.USER_POOL_ID, digest=digest)


def pool_user_sub(identifier: str) -> str | None:
    """The ``sub`` of the pool user ``identifier`` names, cached (``USER_KEY_CACHE_SECONDS``); None when there is
    none or Cognito cannot tell now. The per-user rate limits key on it: a username, its email and any case of
    them are one budget."""
    key = _user_sub_key(identifier)
    cached = cache.get(key)
    if cached is not None:
        return str(cached) or None
    try:
        user = find_pool_user(identifier)
    except exc.CognitoError as error:
        logger.info("user lookup for a rate limit failed: %s", error.code)
        return None
    sub = user.sub if user is not None else ""
    cache.set(key, sub, int(conf.accounts_settings.USER_KEY_CACHE_SECONDS))
    return sub or None


def respond_to_challenge(
    session: str, *, code: str | None = None, new_password: str | None = None, mfa_type: str | None = None
) -> SignInResult:
    """Answer the challenge sealed in ``session``: a new password, an MFA code, or the MFA type to use."""
    challenge, cognito_session, username = open_session(session)
    if challenge == "SELECT_MFA_TYPE":
        if mfa_type not in MFA_TYPES:
            raise exc.InvalidParameter("Choose SOFTWARE_TOKEN_MFA or SMS_MFA.", field="mfa_type")
        responses = {"ANSWER": str(mfa_type)}
    elif challenge == "NEW_PASSWORD_REQUIRED":
        if not new_password:
            raise exc.InvalidParameter("A new password is required.", field="new_password")
        check_password(new_password, "new_password")
        responses = {"NEW_PASSWORD": new_password}
    elif challenge in ("SOFTWARE_TOKEN_MFA", "SMS_MFA"):
        if not code:
            raise exc.InvalidParameter("The code is required.", field="code")
        responses = {f"{challenge}_CODE": code}
    else:
        raise exc.InvalidParameter("Set up an authenticator first (sign-in/mfa-setup/).", field="session")
    try:
        answer = idp.respond_to_challenge(challenge, cognito_session, username, responses)
    except exc.InvalidPassword as error:
        raise _weak_password(error, new_password or "", "new_password") from error
    except exc.CodeMismatch as error:
        raise exc.CodeMismatch(error.detail, field="code") from error
    except exc.CodeExpired as error:
        raise exc.CodeExpired(field="code") from error
    except (exc.NotAuthorized, exc.UserNotFound) as error:
        raise exc.SessionExpired() from error
    except exc.IdpError as error:
        if error.code == "resource_not_found":
            raise exc.SessionExpired() from error
        raise
    return _result(answer, username)


def begin_mfa_setup(session: str) -> TotpSetup:
    """MFA_SETUP during sign-in: a TOTP secret and ``otpauth://`` URI for the user's authenticator app."""
    challenge, cognito_session, username = open_session(session)
    if challenge != "MFA_SETUP":
        raise exc.InvalidParameter("This session is not waiting for an MFA setup.", field="session")
    answer = _session_call(lambda: idp.associate_software_token(session=cognito_session))
    secret = str(answer["SecretCode"])
    next_session = seal_session("MFA_SETUP", str(answer.get("Session") or cognito_session), username)
    return TotpSetup(secret=secret, uri=otpauth_uri(secret, username), session=next_session)


def complete_mfa_setup(session: str, code: str, device_name: str = "") -> SignInResult:
    """Verify the first TOTP code of the new authenticator, then finish the sign-in."""
    challenge, cognito_session, username = open_session(session)
    if challenge != "MFA_SETUP":
        raise exc.InvalidParameter("This session is not waiting for an MFA setup.", field="session")
    verified = _session_call(
        lambda: idp.verify_software_token(code, session=cognito_session, device_name=device_name), code_field="code"
    )
    next_session = str(verified.get("Session") or cognito_session)
    answer = _session_call(lambda: idp.respond_to_challenge("MFA_SETUP", next_session, username, {}))
    return _result(answer, username)


def _session_call(run: Any, code_field: str | None = None) -> dict[str, Any]:
    try:
        result: dict[str, Any] = run()
    except (exc.CodeMismatch, exc.CodeExpired) as error:
        raise type(error)(error.detail, field=code_field) from error
    except (exc.NotAuthorized, exc.UserNotFound) as error:
        raise exc.SessionExpired() from error
    except exc.IdpError as error:
        if error.code == "resource_not_found":
            raise exc.SessionExpired() from error
        raise
    return result


def otpauth_uri(secret: str, account: str) -> str:
    issuer = conf.totp_issuer()
    label = quote(f"{issuer}:{account}", safe=":@")
    return f"otpauth://totp/{label}?{urlencode({'secret': secret, 'issuer': issuer})}"


def refresh(
    refresh_token: str,
    username: str = "",
    *,
    client_id: str = "",
    client_secret: str | None = None,
    max_attempts: int | None = None,
) -> Tokens:
    """New id and access tokens; a rotated refresh token replaces the old one when the pool rotates them.
    ``client_id``/``client_secret``: the app client that received the refresh token, when not the site's."""
    try:
        if conf.accounts_settings.REFRESH_TOKEN_ROTATION:
            answer = _refresh_rotating(refresh_token, client_id, client_secret, max_attempts)
        else:
            answer = idp.refresh(
                refresh_token, username, client_id=client_id, client_secret=client_secret, max_attempts=max_attempts
            )
    except exc.UserNotFound as error:
        raise exc.NotAuthorized("The refresh token is not valid.") from error
    except exc.NotAuthorized as error:
        raise exc.NotAuthorized("The refresh token is not valid, expired or was revoked.") from error
    return _tokens(answer.get("AuthenticationResult") or {}, refresh_token)


def _refresh_rotating(
    refresh_token: str, client_id: str = "", client_secret: str | None = None, max_attempts: int | None = None
) -> dict[str, Any]:
    """GetTokensFromRefreshToken (app clients that rotate refresh tokens): the answer carries the new one."""
    params: dict[str, Any] = {"RefreshToken": refresh_token}
    params["ClientId"] = client_id or str(cognito_settings.APP_CLIENT_ID)
    secret = client_secret if client_id else str(cognito_settings.APP_CLIENT_SECRET or "")
    if secret:
        params["ClientSecret"] = secret
    return idp.call("get_tokens_from_refresh_token", max_attempts=max_attempts, **params)


# --- passwords ------------------------------------------------------------------------------------------------


def forgot_password(username: str) -> None:
    """Send a reset code. The caller learns nothing about whether the user exists or its state: an unknown,
    disabled or unverified user is not an error, and where the code went is not returned (Cognito's masked
    destination would tell a real user apart from the simulated answer for an unknown one)."""
    try:
        idp.forgot_password(username)
    except _SILENT_REFUSALS as error:
        logger.info("forgot password refused: %s", error.code)


def confirm_forgot_password(username: str, code: str, new_password: str) -> None:
    check_password(new_password, "new_password")
    try:
        with _code_answers():
            idp.confirm_forgot_password(username, code, new_password)
    except exc.InvalidPassword as error:
        raise _weak_password(error, new_password, "new_password") from error
    logger.info("password reset for %s", username)
    # Whoever held the old password must not keep a session: the user's tokens are refused here from now on,
    # found by the pool user's sub whatever was typed (an email alias, another case of the username).
    sub = _sub_for_reset(username)
    if sub:
        from .signout import sign_out_everywhere

        sign_out_everywhere(sub, trigger="password_reset")
    else:
        logger.error("password reset for %s: the pool user could not be found; no tokens revoked", username)


def _sub_for_reset(username: str) -> str | None:
    try:
        user = find_pool_user(username)
    except exc.CognitoError as error:
        logger.warning("password reset: pool lookup failed (%s); using the local link", error.code)
        user = None
    if user is not None:
        return user.sub
    link = CognitoIdentity.objects.filter(username=username, pool_id=str(cognito_settings.USER_POOL_ID)).first()
    return link.sub if link is not None else None


def change_password(
    access_token: str, old_password: str, new_password: str, claims: Mapping[str, Any] | None = None
) -> None:
    """Change the password; with the caller's claims every session of the user is then signed out everywhere
    (whoever held the old password keeps nothing), this one included."""
    check_password(new_password, "new_password")
    try:
        idp.change_password(access_token, old_password, new_password)
    except exc.InvalidPassword as error:
        raise _weak_password(error, new_password, "new_password") from error
    except exc.NotAuthorized as error:
        if "password" in (error.detail or "").lower():
            raise exc.NotAuthorized("The current password is not correct.", field="old_password") from error
        raise
    sub = str((claims or {}).get("sub") or "")
    if sub:
        from .signout import sign_out_everywhere

        sign_out_everywhere(sub, trigger="password_change", username=str((claims or {}).get("username") or ""))


# --- reauthentication ---------------------------------------------------------------------------------------------


def reauthenticate(claims: Mapping[str, Any], current_password: str | None) -> None:
    """A sensitive change (email or phone, MFA, a new authenticator) needs more than an access token: the user's
    current password (checked with an InitiateAuth for them), or a sign-in at most ``REAUTH_MAX_AGE`` seconds old
    (the access token's ``auth_time``; a refreshed token keeps the time of the sign-in). Raises
    ``ReauthenticationRequired`` (403) otherwise."""
    if current_password:
        _check_current_password(claims, current_password)
        return
    auth_time = claims.get("auth_time")
    max_age = conf.reauth_max_age()
    if isinstance(auth_time, (int, float)) and max_age > 0 and 0 <= time.time() - float(auth_time) <= max_age:
        return
    raise ReauthenticationRequired()


def _check_current_password(claims: Mapping[str, Any], password: str) -> None:
    username = str(claims.get("username") or claims.get("cognito:username") or "")
    if not username:
        raise ReauthenticationRequired()
    try:
        result = _sign_in(username, password)
    except (exc.NotAuthorized, exc.UserNotFound, exc.UserNotConfirmed, exc.PasswordResetRequired) as error:
        logger.info("reauthentication of %s refused: %s", username, error.code)
        raise ReauthenticationRequired("The current password is not correct.", field="current_password") from error
    if isinstance(result, Tokens) and result.refresh_token:
        # Only the proof was wanted: the session this check opened is closed again where Cognito allows it.
        try:
            idp.revoke_token(result.refresh_token)
        except exc.CognitoError as error:
            logger.info("reauthentication: the check's refresh token was not revoked: %s", error.code)


# --- profile --------------------------------------------------------------------------------------------------


def get_profile(access_token: str) -> Profile:
    answer = idp.get_user(access_token)
    attributes = {str(a["Name"]): str(a.get("Value", "")) for a in answer.get("UserAttributes", [])}
    return Profile(
        username=str(answer.get("Username", "")),
        attributes=attributes,
        mfa_enabled=[str(m) for m in answer.get("UserMFASettingList") or []],
        mfa_preferred=str(answer["PreferredMfaSetting"]) if answer.get("PreferredMfaSetting") else None,
    )


def update_profile(access_token: str, attributes: Mapping[str, str]) -> list[CodeDelivery]:
    """Change attributes; a changed email or phone number must be verified with the code Cognito sends.

    Only mutable attributes this app client may write (``writable_attributes``)."""
    _check_writable(attributes, writable_attributes()[1])
    answer = idp.update_attributes(access_token, dict(attributes))
    return [d for d in (_delivery(x) for x in answer.get("CodeDeliveryDetailsList") or []) if d is not None]


def delete_attributes(access_token: str, names: list[str]) -> None:
    idp.delete_attributes(access_token, names)


def send_attribute_code(access_token: str, attribute: str) -> CodeDelivery | None:
    answer = idp.send_attribute_code(access_token, attribute)
    return _delivery(answer.get("CodeDeliveryDetails"))


def verify_attribute(access_token: str, attribute: str, code: str) -> None:
    try:
        idp.verify_attribute(access_token, attribute, code)
    except (exc.CodeMismatch, exc.CodeExpired) as error:
        raise type(error)(error.detail, field="code") from error


def delete_account(access_token: str, sub: str | None) -> None:
    """Delete the Cognito user, then deactivate (default) or delete the local user linked to ``sub``.

    Deactivating keeps every row that points at the user (orders, audit, ...), so nothing else of theirs is lost.
    """
    idp.delete_user(access_token)
    logger.info("deleted cognito user %s", sub or "(unknown sub)")
    if not sub:
        return
    _revoke_user({"sub": sub}, "account_deleted")
    user = _local_user(sub)
    if user is None:
        return
    with transaction.atomic():
        if conf.delete_local_user() == "delete":
            user.delete()
        else:
            user.is_active = False
            user.save(update_fields=["is_active"])


def _local_user(sub: str) -> Any:
    link = CognitoIdentity.objects.select_related("user").filter(sub=sub).first()
    return link.user if link is not None else None


# --- MFA for a signed-in user ------------------------------------------------------------------------------


def associate_totp(access_token: str, account: str) -> TotpSetup:
    answer = idp.associate_software_token(access_token=access_token)
    secret = str(answer["SecretCode"])
    return TotpSetup(secret=secret, uri=otpauth_uri(secret, account))


def verify_totp(access_token: str, code: str, device_name: str = "") -> None:
    """Verify the authenticator's first code, then make TOTP the user's enabled and preferred MFA."""
    try:
        idp.verify_software_token(code, access_token=access_token, device_name=device_name)
    except (exc.CodeMismatch, exc.CodeExpired) as error:
        raise type(error)(error.detail, field="code") from error
    idp.set_mfa_preference(access_token, totp={"Enabled": True, "PreferredMfa": True})


def set_mfa_preference(
    access_token: str, *, totp: Mapping[str, bool] | None = None, sms: Mapping[str, bool] | None = None
) -> None:
    idp.set_mfa_preference(
        access_token, totp=dict(totp) if totp is not None else None, sms=dict(sms) if sms is not None else None
    )


# --- sign-out ---------------------------------------------------------------------------------------------------


def sign_out(refresh_token: str, claims: Mapping[str, Any] | None = None) -> None:
    """Revoke the refresh token (Cognito RevokeToken). With the caller's token claims, the access and id tokens
    minted from that refresh token are also refused here at once (revocation service, by ``origin_jti``)."""
    try:
        idp.revoke_token(refresh_token)
    except exc.IdpError as error:
        if error.code in {"unsupported_token_type", "invalid_parameter"}:
            raise exc.InvalidParameter("This is not a refresh token.", field="refresh_token") from error
        raise
    origin_jti = str((claims or {}).get("origin_jti") or "")
    if origin_jti:
        revocation.revoke_token_family(origin_jti, sub=str((claims or {}).get("sub") or ""), reason="sign_out")


def global_sign_out(access_token: str, claims: Mapping[str, Any] | None = None) -> None:
    """Sign the user out everywhere (``signout.sign_out_everywhere``): locked out here at once (revocation,
    stored tokens, sessions), Cognito asked now and, if it cannot answer, by a task until it confirms."""
    sub = str((claims or {}).get("sub") or "")
    if not sub:
        idp.global_sign_out(access_token)
        return
    from .signout import sign_out_everywhere

    username = str((claims or {}).get("username") or "")
    sign_out_everywhere(sub, trigger="global_sign_out", username=username, access_token=access_token)


def _revoke_user(claims: Mapping[str, Any], reason: str) -> None:
    sub = claims.get("sub")
    if sub:
        revocation.revoke_user_tokens(str(sub), reason=reason)


# --- identity pool ------------------------------------------------------------------------------------------


def identity_credentials(id_token: str, sub: str | None = None) -> IdentityCredentials:
    """Temporary AWS credentials from the identity pool for the user of ``id_token`` (the dashboard uses them).

    The id token is verified here first, and must be the signed-in user's (``sub``): the identity pool would
    otherwise hand out credentials for whoever's id token the caller holds.
    """
    try:
        verified = verify_token(id_token, token_use=["id"])
    except exc.TokenError as error:
        raise exc.InvalidParameter(f"The id token is not valid: {error.detail}", field="id_token") from error
    if sub is not None and verified.sub != sub:
        raise exc.InvalidParameter("The id token is another user's.", field="id_token")
    answer = idp.identity_credentials(id_token)
    creds = answer.get("Credentials") or {}
    expiration: Any = creds.get("Expiration")
    return IdentityCredentials(
        identity_id=str(answer["IdentityId"]),
        access_key_id=str(creds.get("AccessKeyId", "")),
        secret_key=str(creds.get("SecretKey", "")),
        session_token=str(creds.get("SessionToken", "")),
        expiration=expiration.isoformat() if hasattr(expiration, "isoformat") else str(expiration or ""),
    )
