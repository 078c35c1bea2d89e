"""The app's exception hierarchy. Each class carries a stable machine-readable ``code``.

Callers map these once at the edge (DRF's exception handler, form errors); nothing from botocore or python-jose
crosses this app's boundary.
"""

from __future__ import annotations


class CognitoError(Exception):
    """Base of every error this app raises."""

    code = "cognito_error"
    default_detail = "Cognito request failed."
    status_code = 400

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        super().__init__(self.detail)


class ConfigurationError(CognitoError):
    code = "configuration_error"
    default_detail = "Cognito is not configured."
    status_code = 500


class ServiceUnavailable(CognitoError):
    """Cognito (or another AWS service) could not be reached or answered with a server error."""

    code = "service_unavailable"
    default_detail = "The identity service is unavailable; try again shortly."
    status_code = 503


class GatewayTimeout(ServiceUnavailable):
    code = "gateway_timeout"
    default_detail = "The identity service did not answer in time; try again shortly."
    status_code = 504


class DatabaseBusy(ServiceUnavailable):
    """The database stayed locked past its busy timeout (SQLite under load): the request was fine, retry it."""

    code = "database_busy"
    default_detail = "The service is busy; try again shortly."
    status_code = 503
    retry_after = 1


def is_database_locked(error: BaseException) -> bool:
    """True for SQLite's "database is locked" (SQLITE_BUSY) and "database table is locked" (SQLITE_LOCKED)."""
    from django.db import OperationalError

    if not isinstance(error, OperationalError):
        return False
    name = getattr(error.__cause__, "sqlite_errorname", "")
    if name:
        return str(name).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    return "database is locked" in str(error) or "database table is locked" in str(error)


# --- Errors of the Cognito user pool API, translated in idp.py ------------------------------------------------


class IdpError(CognitoError):
    """A refusal by Cognito's API. ``field`` names the input at fault when there is one."""

    def __init__(self, detail: str | None = None, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.field = field


class NotAuthorized(IdpError):
    code = "not_authorized"
    default_detail = "Incorrect username or password."
    status_code = 401


class UserNotFound(IdpError):
    code = "user_not_found"
    default_detail = "No such user."
    status_code = 404


class UsernameExists(IdpError):
    code = "username_exists"
    default_detail = "This username is already taken."
    status_code = 409


class AliasExists(IdpError):
    code = "alias_exists"
    default_detail = "This email or phone number is already in use by another account."
    status_code = 409


class CodeMismatch(IdpError):
    code = "code_mismatch"
    default_detail = "The code is not correct."
    status_code = 400


class CodeExpired(IdpError):
    code = "code_expired"
    default_detail = "The code has expired or was already used; request a new one."
    status_code = 400


class InvalidPassword(IdpError):
    code = "invalid_password"
    default_detail = "The password does not meet the password policy."
    status_code = 400


class InvalidParameter(IdpError):
    code = "invalid_parameter"
    default_detail = "A value is not valid."
    status_code = 400


class UserNotConfirmed(IdpError):
    code = "user_not_confirmed"
    default_detail = "The account is not confirmed yet; enter the code sent to you."
    status_code = 403


class PasswordResetRequired(IdpError):
    code = "password_reset_required"
    default_detail = "A password reset is required for this account."
    status_code = 403


class UserDisabled(IdpError):
    code = "user_disabled"
    default_detail = "This account is disabled."
    status_code = 403


class Throttled(IdpError):
    code = "throttled"
    default_detail = "Too many requests; slow down and try again."
    status_code = 429

    def __init__(self, detail: str | None = None, *, code: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after


class NotSupported(IdpError):
    code = "not_supported"
    default_detail = "This operation is not available on the configured identity service."
    status_code = 502


# --- Token verification errors, raised by tokens.py and jwks.py -------------------------------------------------
# The names follow aws-jwt-verify's error classes (JwtParseError, JwtExpiredError, JwtInvalidIssuerError ...);
# ``code`` is what API clients see. Messages name the claim, the expected and the actual value, never the token.


class TokenError(CognitoError):
    """A token was refused. Everything tokens.py raises is one of these; the HTTP edge answers 401."""

    code = "token_invalid"
    default_detail = "The token is not valid."
    status_code = 401


class TokenMalformed(TokenError):
    """Not a JWT at all: wrong shape, bad base64, not JSON, wrong claim types (aws-jwt-verify: JwtParseError)."""

    code = "token_malformed"
    default_detail = "The token is malformed."


class TokenTooLarge(TokenMalformed):
    code = "token_too_large"
    default_detail = "The token is too large."


class TokenExpired(TokenError):
    code = "token_expired"
    default_detail = "The token has expired."


class TokenNotYetValid(TokenError):
    """``nbf`` or ``iat`` lies in the future beyond the leeway (aws-jwt-verify: JwtNotBeforeError)."""

    code = "token_not_yet_valid"
    default_detail = "The token is not valid yet."


class TokenInvalid(TokenError):
    """Well-formed but untrustworthy: signature, algorithm, key or a claim does not fit."""

    code = "token_invalid"


class InvalidSignature(TokenInvalid):
    code = "invalid_signature"
    default_detail = "The token's signature is not valid."


class InvalidAlgorithm(TokenInvalid):
    code = "invalid_algorithm"
    default_detail = "The token's signature algorithm is not accepted."


class MissingKid(TokenInvalid):
    """aws-jwt-verify: JwtWithoutValidKidError."""

    code = "missing_kid"
    default_detail = "The token names no signing key."


class KidNotFound(TokenInvalid):
    """aws-jwt-verify: KidNotFoundInJwksError (also raised while an unknown kid sits in the penalty box)."""

    code = "unknown_kid"
    default_detail = "The token's signing key is not known."


class InvalidJwk(TokenInvalid):
    """The key the token names does not fit it (aws-jwt-verify: JwkInvalidUseError, JwkInvalidKtyError)."""

    code = "invalid_jwk"
    default_detail = "The signing key does not fit the token."


class InvalidClaim(TokenInvalid):
    """aws-jwt-verify: JwtInvalidClaimError."""

    code = "invalid_claim"
    default_detail = "A claim of the token is not valid."


class MissingClaim(InvalidClaim):
    code = "missing_claim"
    default_detail = "A required claim is missing from the token."


class InvalidIssuer(InvalidClaim):
    code = "invalid_issuer"
    default_detail = "The token was issued by an unknown issuer."


class InvalidTokenUse(InvalidClaim):
    code = "invalid_token_use"
    default_detail = "This kind of token is not accepted here."


class InvalidClientId(InvalidClaim):
    """aws-jwt-verify: CognitoJwtInvalidClientIdError (``client_id`` of an access token)."""

    code = "invalid_client_id"
    default_detail = "The token was issued to another app client."


class InvalidAudience(InvalidClientId):
    """``aud`` of an id token names no configured app client."""

    code = "invalid_audience"
    default_detail = "The token was issued for another audience."


class TokenRevoked(TokenError):
    code = "token_revoked"
    default_detail = "The token has been revoked."


class UserInactive(TokenError):
    code = "user_inactive"
    default_detail = "The user account is disabled."


class InsufficientGroup(TokenError):
    """Authentic token, but the caller lacks a required group (aws-jwt-verify: CognitoJwtInvalidGroupError)."""

    code = "insufficient_group"
    default_detail = "The token does not carry a required group."
    status_code = 403


class InsufficientScope(TokenError):
    """Authentic token, but without a required scope (RFC 6750 ``insufficient_scope``)."""

    code = "insufficient_scope"
    default_detail = "The token does not carry a required scope."
    status_code = 403


class JwksUnavailable(TokenError, ServiceUnavailable):
    """The signing keys could not be fetched, so the token can be neither trusted nor refused: retry later."""

    code = "jwks_unavailable"
    default_detail = "The signing keys of the identity service are unavailable; try again shortly."
    status_code = 503


class SessionExpired(IdpError):
    """A sign-in challenge's session is stale, tampered with or already used."""

    code = "session_expired"
    default_detail = "The sign-in session has expired or is not valid; sign in again."
    status_code = 401


class UserNotLinked(TokenError):
    """A valid token whose user may not be created here (``CREATE_USERS`` off and no local user to link)."""

    code = "user_not_found"
    default_detail = "No local account belongs to this token."


class RevocationCheckUnavailable(TokenError, ServiceUnavailable):
    """Online mode, fail closed: Cognito could not confirm the token, so it is neither trusted nor refused."""

    code = "revocation_check_unavailable"
    default_detail = "The identity service could not confirm the token; try again shortly."
    status_code = 503
