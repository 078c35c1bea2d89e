"""Request and response shapes of the accounts API; they also make the OpenAPI schema.

Input limits follow Cognito's own (username 128, password 256, code 2048 ...) so that a hostile value is a 400
naming the field here, before anything is sent to Cognito.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from django.core.validators import RegexValidator
from rest_framework import serializers

from .services import STANDARD_ATTRIBUTES as POOL_STANDARD_ATTRIBUTES

USERNAME_RE = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
CODE_RE = re.compile(r"^\S+$")
TOTP_RE = re.compile(r"^\d{6}$")
CUSTOM_ATTRIBUTE_RE = re.compile(r"^custom:[A-Za-z0-9_]{1,20}$")
# The pool's standard attributes a request may name; `updated_at` is left to Cognito.
STANDARD_ATTRIBUTES = POOL_STANDARD_ATTRIBUTES - {"updated_at"}
VERIFIABLE_ATTRIBUTES = ("email", "phone_number")


def _username_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=128,
        validators=[RegexValidator(USERNAME_RE, "A username cannot contain spaces.")],
        help_text="The username, or the email of the account where the pool signs in by email.",
        **kwargs,
    )


def _password_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"}, **kwargs)


def _current_password_field() -> serializers.CharField:
    return _password_field(
        required=False,
        help_text="The current password: needed for this change unless the sign-in behind the access token is "
        "recent (see `reauthentication_required`).",
    )


def _code_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=2048,
        validators=[RegexValidator(CODE_RE, "A code has no spaces.")],
        help_text="The code Cognito sent by email or SMS.",
        **kwargs,
    )


def normalize_phone(value: str) -> str:
    """E.164 (``+15555550100``), the only form Cognito accepts."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise serializers.ValidationError(
            "Enter a phone number in international form, e.g. +15555550100.", code="invalid_phone"
        ) from error
    if not phonenumbers.is_valid_number(number):
        raise serializers.ValidationError("This phone number is not valid.", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_attributes(value: dict[str, str], *, allow_standard: bool) -> dict[str, str]:
    clean: dict[str, str] = {}
    for name, raw in value.items():
        if not (CUSTOM_ATTRIBUTE_RE.match(name) or (allow_standard and name in STANDARD_ATTRIBUTES)):
            raise serializers.ValidationError(f"{name[:40]!r} is not an attribute that can be set here.")
        if name == "email":
            raw = serializers.EmailField().run_validation(raw)
        elif name == "phone_number":
            raw = normalize_phone(raw)
        clean[name] = raw
    return clean


class AttributesField(serializers.DictField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(max_length=2048, allow_blank=True), **kwargs)


# --- requests ----------------------------------------------------------------------------------------------


class SignUpRequest(serializers.Serializer[Any]):
    username = _username_field()
    password = _password_field()
    email = serializers.EmailField(max_length=254)
    phone_number = serializers.CharField(max_length=32, required=False, help_text="E.164, e.g. +15555550100.")
    attributes = AttributesField(
        required=False,
        help_text='Custom attributes the app client may write in the pool, e.g. {"custom:telnum": "12"}.',
    )

    def validate_phone_number(self, value: str) -> str:
        return normalize_phone(value)

    def validate_attributes(self, value: dict[str, str]) -> dict[str, str]:
        return validate_attributes(value, allow_standard=False)


class ConfirmSignUpRequest(serializers.Serializer[Any]):
    username = _username_field()
    code = _code_field()


class UsernameRequest(serializers.Serializer[Any]):
    username = _username_field()


class SignInRequest(serializers.Serializer[Any]):
    username = _username_field()
    password = _password_field()


class ChallengeRequest(serializers.Serializer[Any]):
    session = serializers.CharField(max_length=16384, help_text="The `session` of the challenge, as received.")
    code = serializers.CharField(
        max_length=16,
        required=False,
        validators=[RegexValidator(re.compile(r"^\d{4,16}$"), "Enter the digits of the code.")],
        help_text="SOFTWARE_TOKEN_MFA / SMS_MFA: the code from the authenticator or the SMS.",
    )
    new_password = _password_field(required=False, help_text="NEW_PASSWORD_REQUIRED: the password to set.")
    mfa_type = serializers.ChoiceField(
        choices=["SOFTWARE_TOKEN_MFA", "SMS_MFA"], required=False, help_text="SELECT_MFA_TYPE: the MFA to use."
    )


class SessionRequest(serializers.Serializer[Any]):
    session = serializers.CharField(max_length=16384, help_text="The `session` of the MFA_SETUP challenge.")


class TotpCodeField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=6,
            validators=[RegexValidator(TOTP_RE, "Enter the 6 digits from the authenticator.")],
            help_text="The 6-digit code the authenticator app shows.",
            **kwargs,
        )


class MfaSetupVerifyRequest(serializers.Serializer[Any]):
    session = serializers.CharField(max_length=16384)
    code = TotpCodeField()
    device_name = serializers.CharField(max_length=128, required=False, allow_blank=True)


class RefreshRequest(serializers.Serializer[Any]):
    refresh_token = serializers.CharField(max_length=16384)
    username = _username_field(required=False)


class ConfirmForgotPasswordRequest(serializers.Serializer[Any]):
    username = _username_field()
    code = _code_field()
    new_password = _password_field()


class ChangePasswordRequest(serializers.Serializer[Any]):
    old_password = _password_field()
    new_password = _password_field()


class UpdateProfileRequest(serializers.Serializer[Any]):
    attributes = AttributesField(help_text="Attributes to set; a changed email or phone number needs verifying.")
    current_password = _current_password_field()

    def validate_attributes(self, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise serializers.ValidationError("Name at least one attribute.")
        return validate_attributes(value, allow_standard=True)


class DeleteAttributesRequest(serializers.Serializer[Any]):
    names = serializers.ListField(
        child=serializers.RegexField(CUSTOM_ATTRIBUTE_RE, max_length=27), min_length=1, max_length=25
    )


class AttributeRequest(serializers.Serializer[Any]):
    attribute = serializers.ChoiceField(choices=VERIFIABLE_ATTRIBUTES)


class VerifyAttributeRequest(serializers.Serializer[Any]):
    attribute = serializers.ChoiceField(choices=VERIFIABLE_ATTRIBUTES)
    code = _code_field()


class SignOutRequest(serializers.Serializer[Any]):
    refresh_token = serializers.CharField(max_length=16384)


class TotpVerifyRequest(serializers.Serializer[Any]):
    code = TotpCodeField()
    device_name = serializers.CharField(max_length=128, required=False, allow_blank=True)
    current_password = _current_password_field()


class ReauthRequest(serializers.Serializer[Any]):
    current_password = _current_password_field()


class MfaSettingSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()
    preferred = serializers.BooleanField(default=False)


class MfaPreferenceRequest(serializers.Serializer[Any]):
    totp = MfaSettingSerializer(required=False)
    sms = MfaSettingSerializer(required=False)
    current_password = _current_password_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("totp") and not attrs.get("sms"):
            raise serializers.ValidationError("Name totp, sms or both.")
        return attrs


class CredentialsRequest(serializers.Serializer[Any]):
    id_token = serializers.CharField(max_length=16384, help_text="The signed-in user's id token.")


# --- responses ---------------------------------------------------------------------------------------------


class TokensResponse(serializers.Serializer[Any]):
    id_token = serializers.CharField()
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds until the id and access tokens expire.")
    token_type = serializers.CharField()


class SignInResponse(serializers.Serializer[Any]):
    """Either tokens (``challenge`` is null) or a challenge to answer (``tokens`` is null)."""

    challenge = serializers.ChoiceField(
        choices=["NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA", "SMS_MFA", "MFA_SETUP", "SELECT_MFA_TYPE"],
        allow_null=True,
    )
    session = serializers.CharField(allow_null=True, help_text="Send back unchanged with the answer.")
    parameters = serializers.DictField(allow_null=True)
    tokens = TokensResponse(allow_null=True)


class DeliveryResponse(serializers.Serializer[Any]):
    destination = serializers.CharField(help_text="Masked, e.g. a***@e***.com.")
    medium = serializers.CharField()
    attribute = serializers.CharField()


class SignUpResponse(serializers.Serializer[Any]):
    user_sub = serializers.CharField()
    confirmed = serializers.BooleanField()
    delivery = DeliveryResponse(allow_null=True)


class CodeSentResponse(serializers.Serializer[Any]):
    detail = serializers.CharField()
    delivery = DeliveryResponse(allow_null=True)


class DetailResponse(serializers.Serializer[Any]):
    detail = serializers.CharField()


class TotpSetupResponse(serializers.Serializer[Any]):
    secret = serializers.CharField(help_text="Base32 secret for the authenticator app.")
    uri = serializers.CharField(help_text="`otpauth://totp/...` URI, to show as a QR code.")
    session = serializers.CharField(allow_null=True, help_text="During sign-in: send back with the code.")


class ProfileResponse(serializers.Serializer[Any]):
    username = serializers.CharField()
    attributes = serializers.DictField(child=serializers.CharField(allow_blank=True))
    mfa_enabled = serializers.ListField(child=serializers.CharField())
    mfa_preferred = serializers.CharField(allow_null=True)


class ProfileUpdateResponse(serializers.Serializer[Any]):
    detail = serializers.CharField()
    verification = DeliveryResponse(many=True, help_text="Codes sent for a changed email or phone number.")


class CredentialsResponse(serializers.Serializer[Any]):
    identity_id = serializers.CharField()
    access_key_id = serializers.CharField()
    secret_key = serializers.CharField()
    session_token = serializers.CharField()
    expiration = serializers.CharField()


# "fields" is also the name of Serializer's own property, so this one is built from a dict of its fields.
ErrorResponse: type[serializers.Serializer[Any]] = type(
    "ErrorResponse",
    (serializers.Serializer,),
    {
        "__doc__": "Every error: a stable `code`, a human `detail`, and for input errors `fields`.",
        "code": serializers.CharField(help_text="Stable, machine-readable."),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False, help_text="Input errors."
        ),
    },
)
