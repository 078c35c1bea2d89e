"""The accounts REST API under ``/api/auth/``: thin views that parse input, call a service, render.

Errors propagate as ``cognito_backend.exceptions`` classes and are rendered once, by
``cognito_backend.drf.exception_handler``, as ``{"code", "detail", "fields"}``. The endpoints are for bearer
clients (no session authentication, so no CSRF cookie is involved). Signed-in endpoints need the access token in
``Authorization: Bearer``; Cognito's user APIs (GetUser, ChangePassword, GlobalSignOut ...) are called with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from cognito_backend.exceptions import Throttled

from . import schema as _schema  # noqa: F401 - registers the OpenAPI auth extension
from . import serializers as s
from . import services
from .authentication import ACCESS_ONLY, access_token_of, authenticators, claims_of
from .throttles import (
    IPThrottle,
    UsernameThrottle,
    client_ip,
    throttle_wait,
    username_in_body,
    username_in_session,
)

TAG = "auth"
FORGOT_ANSWER = "If the account exists, a reset code was sent to its verified email or phone."
RESEND_ANSWER = "If the account exists and is not confirmed yet, a new code was sent."

# --- documented error answers --------------------------------------------------------------------------------


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=s.ErrorResponse, description=description)


E400 = _error("Bad input; `fields` names each field at fault (`invalid`, `invalid_password`, `code_mismatch` ...).")
E401 = _error("`not_authorized`: wrong credentials, or a missing, invalid, expired or revoked token.")
E401_SESSION = _error("`session_expired`: the challenge session is stale or was tampered with.")
E403 = _error("`user_not_confirmed` or `password_reset_required` (a disabled user gets the 401 of a wrong password).")
E403_REAUTH = _error(
    "`reauthentication_required`: send `current_password` (a wrong one names that field), or sign in again: "
    'the access token\'s sign-in (`auth_time`) must be at most `ACCOUNTS["REAUTH_MAX_AGE"]` seconds old.'
)
E409 = _error("`username_exists` or `alias_exists`.")
E429 = _error("`throttled`: our rate limit or Cognito's; the `Retry-After` header says when to retry.")
E502 = _error("`not_supported`: the identity service does not offer this operation.")
E503 = _error("`service_unavailable` or `gateway_timeout`: Cognito could not be reached or did not answer.")
COMMON = {429: E429, 502: E502, 503: E503, 504: E503}


def _responses(ok: Any, *codes: int, **extra: OpenApiResponse) -> dict[int, Any]:
    table = {400: E400, 401: E401, 403: E403, 409: E409}
    out: dict[int, Any] = {200: ok} if not isinstance(ok, dict) else dict(ok)
    out.update({code: table[code] for code in codes})
    out.update({int(k.lstrip("_")): v for k, v in extra.items()})
    out.update(COMMON)
    return out


def _tokens(tokens: services.Tokens) -> dict[str, Any]:
    return asdict(tokens)


def _sign_in_body(result: services.SignInResult) -> dict[str, Any]:
    if isinstance(result, services.Tokens):
        return {"challenge": None, "session": None, "parameters": None, "tokens": _tokens(result)}
    return {"challenge": result.name, "session": result.session, "parameters": result.parameters, "tokens": None}


def _delivery(delivery: services.CodeDelivery | None) -> dict[str, str] | None:
    return asdict(delivery) if delivery is not None else None


class PublicView(APIView):
    """No authentication (the request carries the credential itself), our rate limits where scoped."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [IPThrottle, UsernameThrottle]

    def valid(self, serializer_class: type[Serializer[Any]], request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def check_throttles(self, request: Request) -> None:
        # The first refusal answers: a request over the address limit spends nothing of the user's budget (and
        # costs no lookup of the user).
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                wait = throttle.wait()
                self.throttled(request, wait if wait is not None else 1.0)


class SessionThrottled:
    """A challenge answer's user is the one sealed in its session, never a ``username`` the body adds."""

    def throttle_user(self, request: Request) -> str | None:
        return username_in_session(request)


class SignedInView(PublicView):
    """Needs the user's access token (``Authorization: Bearer``)."""

    permission_classes = [IsAuthenticated]
    throttle_classes: list[Any] = []
    cognito_token_use = ACCESS_ONLY

    def get_authenticators(self) -> list[Any]:
        return authenticators()

    def reauthenticate(self, request: Request, current_password: str | None) -> None:
        """A sensitive change: the current password (on the sign-in's rate limits), or a recent sign-in."""
        claims = claims_of(request)
        if current_password:
            username = str(claims.get("username") or claims.get("cognito:username") or "")
            wait = throttle_wait(request, "sign_in", username)
            if wait is not None:
                raise Throttled(retry_after=max(1, math.ceil(wait)))
        services.reauthenticate(claims, current_password)


# --- sign-up ------------------------------------------------------------------------------------------------


class SignUpView(PublicView):
    throttle_scope = "sign_up"

    def throttle_user(self, request: Request) -> str | None:
        """Sign-ups are counted per email, where the code goes: new usernames do not buy new mail to one inbox."""
        data: Any = request.data
        email = data.get("email") if isinstance(data, Mapping) else None
        if isinstance(email, str) and email.strip():
            return email.strip().lower()
        return username_in_body(request)

    @extend_schema(
        tags=[TAG],
        summary="Sign up",
        description="Create an account; Cognito sends a confirmation code to the email. Throttled per client "
        "address and per email address (whatever the username).",
        request=s.SignUpRequest,
        responses=_responses({201: s.SignUpResponse}, 400, 409),
        examples=[
            OpenApiExample(
                "sign-up",
                request_only=True,
                value={
                    "username": "alice",
                    "password": "Str0ng-Passw0rd!",
                    "email": "alice@example.com",
                    "phone_number": "+15555550100",
                    "attributes": {"custom:telnum": "42"},
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.SignUpRequest, request)
        result = services.sign_up(
            data["username"],
            data["password"],
            data["email"],
            phone_number=data.get("phone_number"),
            attributes=data.get("attributes"),
        )
        body = {"user_sub": result.user_sub, "confirmed": result.confirmed, "delivery": _delivery(result.delivery)}
        return Response(body, status=status.HTTP_201_CREATED)


class ConfirmSignUpView(PublicView):
    throttle_scope = "confirm"

    @extend_schema(
        tags=[TAG],
        summary="Confirm sign-up",
        description="Confirm the account with the emailed code. Any refused code is 400 `code_mismatch` on "
        "`code`, the same answer for an unknown, unconfirmed or already confirmed user.",
        request=s.ConfirmSignUpRequest,
        responses=_responses(s.DetailResponse, 400, 401, 403),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.ConfirmSignUpRequest, request)
        services.confirm_sign_up(data["username"], data["code"])
        return Response({"detail": "Account confirmed; you can sign in."})


class ResendCodeView(PublicView):
    throttle_scope = "confirm"

    @extend_schema(
        tags=[TAG],
        summary="Resend the confirmation code",
        description="The same answer whether or not the account exists or is already confirmed; `delivery` is "
        "always null (where a code went would tell a real account apart).",
        request=s.UsernameRequest,
        responses=_responses(s.CodeSentResponse, 400, 401),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.UsernameRequest, request)
        services.resend_code(data["username"])
        return Response({"detail": RESEND_ANSWER, "delivery": None})


# --- sign-in ------------------------------------------------------------------------------------------------


class SignInView(PublicView):
    throttle_scope = "sign_in"

    @extend_schema(
        tags=[TAG],
        summary="Sign in",
        description="Sign in with username (or email) and password. Answers tokens, or a challenge "
        "(`NEW_PASSWORD_REQUIRED`, `SOFTWARE_TOKEN_MFA`, `SMS_MFA`, `MFA_SETUP`, `SELECT_MFA_TYPE`) with an opaque "
        "`session` to send "
        "to `sign-in/challenge/` (or `sign-in/mfa-setup/`). An unknown user and a wrong password get the same "
        "401 (a disabled user too). Throttled per client address and per pool user (a username and its "
        "email share one budget), a budget shared with the sign-in page.",
        request=s.SignInRequest,
        responses=_responses(s.SignInResponse, 400, 401, 403),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.SignInRequest, request)
        result = services.sign_in(data["username"], data["password"], client=client_ip(request))
        return Response(_sign_in_body(result))


class ChallengeView(SessionThrottled, PublicView):
    throttle_scope = "sign_in"

    @extend_schema(
        tags=[TAG],
        summary="Answer a sign-in challenge",
        description="`NEW_PASSWORD_REQUIRED`: send `new_password`. `SOFTWARE_TOKEN_MFA` / `SMS_MFA`: send `code`. "
        "`SELECT_MFA_TYPE`: send `mfa_type`. Answers tokens or the next challenge.",
        request=s.ChallengeRequest,
        responses=_responses(s.SignInResponse, 400, 403, _401=E401_SESSION),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.ChallengeRequest, request)
        result = services.respond_to_challenge(
            data["session"], code=data.get("code"), new_password=data.get("new_password"), mfa_type=data.get("mfa_type")
        )
        return Response(_sign_in_body(result))


class MfaSetupView(SessionThrottled, PublicView):
    throttle_scope = "sign_in"

    @extend_schema(
        tags=[TAG],
        summary="MFA_SETUP: get an authenticator secret",
        description="For the `MFA_SETUP` challenge: a TOTP secret and its `otpauth://` URI (show it as a QR "
        "code), and the session to send with the first code to `sign-in/mfa-setup/verify/`.",
        request=s.SessionRequest,
        responses=_responses(s.TotpSetupResponse, 400, _401=E401_SESSION),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.SessionRequest, request)
        return Response(asdict(services.begin_mfa_setup(data["session"])))


class MfaSetupVerifyView(SessionThrottled, PublicView):
    throttle_scope = "sign_in"

    @extend_schema(
        tags=[TAG],
        summary="MFA_SETUP: verify the first code and finish signing in",
        request=s.MfaSetupVerifyRequest,
        responses=_responses(s.SignInResponse, 400, _401=E401_SESSION),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.MfaSetupVerifyRequest, request)
        result = services.complete_mfa_setup(data["session"], data["code"], data.get("device_name", ""))
        return Response(_sign_in_body(result))


class RefreshView(PublicView):
    @extend_schema(
        tags=[TAG],
        summary="Refresh tokens",
        description="New id and access tokens for a refresh token (a new refresh token too where the pool "
        "rotates them). With an app client secret, send the `username` as well.",
        request=s.RefreshRequest,
        responses=_responses(s.TokensResponse, 400, 401),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.RefreshRequest, request)
        return Response(_tokens(services.refresh(data["refresh_token"], data.get("username", ""))))


# --- passwords ----------------------------------------------------------------------------------------------


class ForgotPasswordView(PublicView):
    throttle_scope = "forgot_password"

    @extend_schema(
        tags=[TAG],
        summary="Forgot password: send a reset code",
        description="Always the same 202 for a well-formed username, whether or not the account exists (so "
        "usernames cannot be enumerated); the code goes to the account's verified email or phone.",
        request=s.UsernameRequest,
        responses=_responses({202: s.DetailResponse}, 400, 403),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.UsernameRequest, request)
        services.forgot_password(data["username"])
        return Response({"detail": FORGOT_ANSWER}, status=status.HTTP_202_ACCEPTED)


class ConfirmForgotPasswordView(PublicView):
    throttle_scope = "confirm"

    @extend_schema(
        tags=[TAG],
        summary="Reset the password with the code",
        description="Any refused code is 400 `code_mismatch` on `code`, the same answer whether or not the user "
        "exists, and whatever its state. On success the pool user's (found by username, alias or any case) "
        "tokens are refused here from then on.",
        request=s.ConfirmForgotPasswordRequest,
        responses=_responses(s.DetailResponse, 400, 403),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.ConfirmForgotPasswordRequest, request)
        services.confirm_forgot_password(data["username"], data["code"], data["new_password"])
        return Response({"detail": "Password changed; sign in with the new one."})


class ChangePasswordView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Change password",
        request=s.ChangePasswordRequest,
        responses=_responses(s.DetailResponse, 400, 401),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.ChangePasswordRequest, request)
        services.change_password(
            access_token_of(request), data["old_password"], data["new_password"], claims_of(request)
        )
        return Response({"detail": "Password changed."})


# --- profile ------------------------------------------------------------------------------------------------


class ProfileView(SignedInView):
    @extend_schema(tags=[TAG], summary="The user's attributes", responses=_responses(s.ProfileResponse, 401))
    def get(self, request: Request) -> Response:
        return Response(asdict(services.get_profile(access_token_of(request))))

    @extend_schema(
        tags=[TAG],
        summary="Update attributes",
        description="A changed `email` or `phone_number` is unverified until confirmed with the code sent "
        "(`profile/verify/confirm/`). Changing either needs `current_password` or a recent sign-in (403 "
        "`reauthentication_required`). Only attributes the app client may write in the pool, and only mutable ones.",
        request=s.UpdateProfileRequest,
        responses=_responses(s.ProfileUpdateResponse, 400, 401, 409, _403=E403_REAUTH),
    )
    def patch(self, request: Request) -> Response:
        data = self.valid(s.UpdateProfileRequest, request)
        if set(data["attributes"]) & {"email", "phone_number"}:
            self.reauthenticate(request, data.get("current_password"))
        deliveries = services.update_profile(access_token_of(request), data["attributes"])
        return Response({"detail": "Attributes updated.", "verification": [asdict(d) for d in deliveries]})


class DeleteAttributesView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Delete custom attributes",
        request=s.DeleteAttributesRequest,
        responses=_responses(s.DetailResponse, 400, 401),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.DeleteAttributesRequest, request)
        services.delete_attributes(access_token_of(request), list(data["names"]))
        return Response({"detail": "Attributes deleted."})


class SendAttributeCodeView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Send a verification code for email or phone",
        request=s.AttributeRequest,
        responses=_responses(s.CodeSentResponse, 400, 401),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.AttributeRequest, request)
        delivery = services.send_attribute_code(access_token_of(request), data["attribute"])
        return Response({"detail": "A code was sent.", "delivery": _delivery(delivery)})


class VerifyAttributeView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Verify email or phone with the code",
        request=s.VerifyAttributeRequest,
        responses=_responses(s.DetailResponse, 400, 401),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.VerifyAttributeRequest, request)
        services.verify_attribute(access_token_of(request), data["attribute"], data["code"])
        return Response({"detail": f"{data['attribute']} verified."})


class AccountView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Delete the account",
        description="Deletes the Cognito user; the local user is deactivated (or deleted, per "
        '`COGNITO["DELETE_LOCAL_USER"]`).',
        request=None,
        responses=_responses({204: None}, 401),
    )
    def delete(self, request: Request) -> Response:
        services.delete_account(access_token_of(request), claims_of(request).get("sub"))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- MFA for a signed-in user -------------------------------------------------------------------------------


class TotpView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Add an authenticator app",
        description="A TOTP secret and `otpauth://` URI; confirm with a code at `mfa/totp/verify/`. Needs "
        "`current_password` or a recent sign-in (403 `reauthentication_required`).",
        request=s.ReauthRequest,
        responses=_responses(s.TotpSetupResponse, 400, 401, _403=E403_REAUTH),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.ReauthRequest, request)
        self.reauthenticate(request, data.get("current_password"))
        claims = claims_of(request)
        account = str(claims.get("username") or claims.get("cognito:username") or claims.get("sub") or "user")
        return Response(asdict(services.associate_totp(access_token_of(request), account)))


class TotpVerifyView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Verify the authenticator and make it the preferred MFA",
        description="Needs `current_password` or a recent sign-in (403 `reauthentication_required`).",
        request=s.TotpVerifyRequest,
        responses=_responses(s.DetailResponse, 400, 401, _403=E403_REAUTH),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.TotpVerifyRequest, request)
        self.reauthenticate(request, data.get("current_password"))
        services.verify_totp(access_token_of(request), data["code"], data.get("device_name", ""))
        return Response({"detail": "Authenticator verified; it is now asked for at sign-in."})


class MfaPreferenceView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Set MFA preferences",
        description="Needs `current_password` or a recent sign-in (403 `reauthentication_required`).",
        request=s.MfaPreferenceRequest,
        responses=_responses(s.DetailResponse, 400, 401, _403=E403_REAUTH),
    )
    def put(self, request: Request) -> Response:
        data = self.valid(s.MfaPreferenceRequest, request)
        self.reauthenticate(request, data.get("current_password"))

        def setting(name: str) -> dict[str, bool] | None:
            value = data.get(name)
            return {"Enabled": value["enabled"], "PreferredMfa": value["preferred"]} if value else None

        services.set_mfa_preference(access_token_of(request), totp=setting("totp"), sms=setting("sms"))
        return Response({"detail": "MFA preferences saved."})


# --- sign-out -------------------------------------------------------------------------------------------------


class SignOutView(PublicView):
    """The refresh token is the credential; a bearer access token, when sent, is refused here at once too."""

    throttle_classes: list[Any] = []
    cognito_token_use = ACCESS_ONLY

    def get_authenticators(self) -> list[Any]:
        return authenticators()

    @extend_schema(
        tags=[TAG],
        summary="Sign out",
        description="Revokes the refresh token (Cognito RevokeToken) and the access tokens issued from it. "
        "Send the access token as `Authorization: Bearer` too, and it is refused by this site at once.",
        request=s.SignOutRequest,
        responses=_responses(s.DetailResponse, 400, 401),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.SignOutRequest, request)
        services.sign_out(data["refresh_token"], claims_of(request))
        return Response({"detail": "Signed out."})


class GlobalSignOutView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="Sign out everywhere",
        description="Invalidates every refresh token of the user (Cognito GlobalSignOut); their access tokens "
        "are refused here from now on.",
        request=None,
        responses=_responses(s.DetailResponse, 401),
    )
    def post(self, request: Request) -> Response:
        services.global_sign_out(access_token_of(request), claims_of(request))
        return Response({"detail": "Signed out everywhere."})


# --- identity pool --------------------------------------------------------------------------------------------


class CredentialsView(SignedInView):
    @extend_schema(
        tags=[TAG],
        summary="AWS credentials from the identity pool",
        description="GetId and GetCredentialsForIdentity with the user's id token in `Logins`.",
        request=s.CredentialsRequest,
        responses=_responses(s.CredentialsResponse, 400, 401),
    )
    def post(self, request: Request) -> Response:
        data = self.valid(s.CredentialsRequest, request)
        sub = claims_of(request).get("sub")
        credentials = services.identity_credentials(data["id_token"], str(sub) if sub else None)
        return Response(asdict(credentials))
