"""The registry of Lambda functions callers may invoke, and the audit log of every attempt."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from . import payloads

# A function name, a partial ARN ("123456789012:function:Name") or a full ARN, optionally with a version or
# alias qualifier, as Lambda's Invoke accepts them.
FUNCTION_NAME_RE = (
    r"^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?(-iso[a-z]?)?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?[a-zA-Z0-9-_\.]+(:(\$LATEST|[a-zA-Z0-9-_]+))?$"
)


class LambdaFunction(models.Model):
    class InvocationType(models.TextChoices):
        SYNC = "RequestResponse", "synchronous (waits for the result)"
        EVENT = "Event", "event (queued, no result)"

    class Credentials(models.TextChoices):
        SERVER = "server", "the server's own role"
        CALLER = "caller", "the caller's identity-pool credentials"
        CLOUD_CONNECT = "cloud_connect", "the caller's Cloud Connect login"

    name = models.SlugField(max_length=64, unique=True, help_text="Used in URLs: /api/lambdas/<name>/.")
    display_name = models.CharField(max_length=128)
    function_name = models.CharField(
        max_length=170,
        validators=[RegexValidator(FUNCTION_NAME_RE, "Enter a Lambda function name or ARN.")],
        help_text="The AWS function name or ARN (a version or alias qualifier is allowed).",
    )
    description = models.TextField(blank=True)
    example_payload = models.JSONField(default=dict, blank=True, help_text="Valid JSON; pre-filled in the editor.")
    payload_schema = models.JSONField(
        null=True, blank=True, help_text="Optional JSON Schema every payload must meet (draft 2020-12 by default)."
    )
    allowed_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="lambda_functions",
        help_text="Groups (Django groups or the caller's Cognito groups, by name) that may call it; "
        "empty means every signed-in user.",
    )
    enabled = models.BooleanField(default=True)
    timeout = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(900)],
        help_text="Seconds to wait for a synchronous result (Lambda's own maximum is 900).",
    )
    invocation_type = models.CharField(max_length=16, choices=InvocationType.choices, default=InvocationType.SYNC)
    credentials = models.CharField(max_length=16, choices=Credentials.choices, default=Credentials.SERVER)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name", "name"]
        verbose_name = "Lambda function"

    def __str__(self) -> str:
        return self.display_name or self.name

    @property
    def is_event(self) -> bool:
        return self.invocation_type == self.InvocationType.EVENT

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.payload_schema is not None:
            problem = payloads.schema_problem(self.payload_schema)
            if problem:
                errors["payload_schema"] = [problem]
        try:
            encoded = json.dumps(self.example_payload, allow_nan=False).encode()
        except ValueError as exc:
            errors.setdefault("example_payload", []).append(f"Not valid JSON: {exc}.")
        else:
            limit = payloads.limit_for(self.is_event)
            try:
                payloads.parse(encoded)
            except payloads.PayloadError as exc:
                # The page sends the example as it is: it must pass the rules every payload meets.
                errors.setdefault("example_payload", []).append(f"Would be refused when sent: {exc}")
            if len(encoded) > limit:
                errors.setdefault("example_payload", []).append(f"Larger than Lambda's limit of {limit} bytes.")
            elif self.payload_schema is not None and "payload_schema" not in errors:
                try:
                    failure = payloads.schema_failure(self.example_payload, self.payload_schema)
                except payloads.SchemaPatternError as exc:
                    errors["payload_schema"] = [f"A pattern cannot run on RE2: {exc}."]
                except payloads.ValidationAborted:
                    # E.g. {"$ref": "#"}: every payload would recurse until Python's limit.
                    errors["payload_schema"] = [
                        "Checking the example recursed too deeply: the schema refers to "
                        "itself without descending into the payload."
                    ]
                else:
                    if failure:
                        errors.setdefault("example_payload", []).append(f"Does not meet the schema: {failure[0]}")
        if errors:
            raise ValidationError(errors)

    # Set on the registry's remembered rows (selectors.function_by_name): their allowed groups, frozen.
    remembered_group_names: frozenset[str] | None = None

    @property
    def allowed_group_names(self) -> frozenset[str]:
        """The remembered set of a registry row, else from a prefetched ``allowed_groups`` when there is one."""
        if self.remembered_group_names is not None:
            return self.remembered_group_names
        return frozenset(group.name for group in self.allowed_groups.all())


class Invocation(models.Model):
    """One attempt to call a function, whatever its outcome. Never holds a token or credentials."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded"
        QUEUED = "queued"
        FUNCTION_ERROR = "function_error"
        REJECTED = "rejected"
        NOT_FOUND = "not_found"
        DENIED = "denied"
        THROTTLED = "throttled"
        TIMEOUT = "timeout"
        UNAVAILABLE = "unavailable"
        CREDENTIALS_ERROR = "credentials_error"
        ERROR = "error"

    # No index of their own on the two foreign keys: Meta.indexes lead with them (user, function), and each index
    # costs every audit INSERT.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lambda_invocations",
        db_index=False,
    )
    username = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    function = models.ForeignKey(
        LambdaFunction, null=True, blank=True, on_delete=models.SET_NULL, related_name="invocations", db_index=False
    )
    function_key = models.CharField(max_length=170, help_text="The name asked for, kept when the function goes.")
    aws_function_name = models.CharField(max_length=170, blank=True)
    invocation_type = models.CharField(max_length=16, blank=True)
    credentials = models.CharField(max_length=16, blank=True)
    identity_id = models.CharField(max_length=64, blank=True, help_text="Identity-pool id for caller credentials.")
    payload_size = models.PositiveIntegerField(default=0)
    payload_sha256 = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(null=True, blank=True, help_text="Redacted body, stored only when configured.")
    status = models.CharField(max_length=20, choices=Status.choices, db_index=True)
    http_status = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True, db_index=True)
    error_type = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True, help_text="Time spent calling Lambda.")
    aws_request_id = models.CharField(max_length=64, blank=True)
    executed_version = models.CharField(max_length=64, blank=True)
    result_size = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="dashboard_inv_user_recent"),
            models.Index(fields=["function", "-created_at"], name="dashboard_inv_function_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.function_key} by {self.username or '?'}: {self.status}"

    def as_log(self) -> dict[str, Any]:
        return {"id": self.pk, "function": self.function_key, "status": self.status, "error_code": self.error_code}


class CloudConnectLogin(models.Model):
    """A user's Cloud Connect login: the privileged identity-pool credentials and the token that renews them.

    ``secret`` is encrypted with the token store's keys (``TOKEN_ENCRYPTION_KEY``); it never holds the password.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cloud_connect")
    cloud_username = models.CharField(max_length=150, help_text="The Cloud Connect username logged in with.")
    identity_id = models.CharField(max_length=64)
    secret = models.TextField(help_text="Encrypted: the login token and the credentials.")
    expires_at = models.DateTimeField(help_text="When the credentials expire.")
    token_expires_at = models.DateTimeField(help_text="When the login token expires: renewal needs a new login.")
    renewed_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Cloud Connect login"

    def __str__(self) -> str:
        return f"{self.cloud_username} ({self.identity_id})"
