"""Input and output shapes of the dashboard API (also what the OpenAPI schema shows)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from .models import Invocation, LambdaFunction


class LambdaFunctionSerializer(serializers.ModelSerializer[LambdaFunction]):
    url = serializers.SerializerMethodField()
    invoke_url = serializers.SerializerMethodField()

    class Meta:
        model = LambdaFunction
        fields = [
            "name",
            "display_name",
            "description",
            "invocation_type",
            "credentials",
            "timeout",
            "url",
            "invoke_url",
        ]
        read_only_fields = fields

    def get_url(self, obj: LambdaFunction) -> str:
        return reverse("dashboard:lambda-detail", args=[obj.name])

    def get_invoke_url(self, obj: LambdaFunction) -> str:
        return reverse("dashboard:lambda-invoke", args=[obj.name])


class LambdaFunctionDetailSerializer(LambdaFunctionSerializer):
    example_payload = serializers.JSONField(read_only=True)
    payload_schema = serializers.JSONField(read_only=True, allow_null=True)

    class Meta(LambdaFunctionSerializer.Meta):
        fields = [*LambdaFunctionSerializer.Meta.fields, "example_payload", "payload_schema"]
        read_only_fields = fields


class InvocationSerializer(serializers.ModelSerializer[Invocation]):
    function = serializers.CharField(source="function_key", read_only=True)

    class Meta:
        model = Invocation
        fields = [
            "id",
            "function",
            "username",
            "status",
            "http_status",
            "error_code",
            "error_type",
            "error_message",
            "invocation_type",
            "credentials",
            "payload_size",
            "payload_sha256",
            "payload",
            "duration_ms",
            "aws_request_id",
            "executed_version",
            "result_size",
            "created_at",
        ]
        read_only_fields = fields


class InvocationFilterSerializer(serializers.Serializer[dict[str, Any]]):
    function = serializers.SlugField(required=False, max_length=64, help_text="Function name (slug).")
    status = serializers.ChoiceField(required=False, choices=Invocation.Status.choices)
    error_code = serializers.CharField(required=False, max_length=64)
    user = serializers.CharField(required=False, max_length=150, help_text="Username (staff only).")
    mine = serializers.BooleanField(required=False, default=False, help_text="Only your own (for staff).")
    since = serializers.DateTimeField(required=False, help_text="Only invocations at or after this time.")
    until = serializers.DateTimeField(required=False, help_text="Only invocations before this time.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["Must be later than since."]})
        return attrs


class InvokeResultSerializer(serializers.Serializer[dict[str, Any]]):
    """The answer of ``POST /api/lambdas/<name>/invoke/``."""

    invocation = serializers.IntegerField(help_text="Id of the audit record.")
    function = serializers.CharField()
    status = serializers.ChoiceField(choices=[Invocation.Status.SUCCEEDED, Invocation.Status.QUEUED])
    status_code = serializers.IntegerField(help_text="Lambda's StatusCode: 200 (synchronous) or 202 (event).")
    duration_ms = serializers.FloatField()
    result = serializers.JSONField(allow_null=True, help_text="The function's JSON result (null for events).")
    result_format = serializers.ChoiceField(choices=["json", "text", "none"])
    executed_version = serializers.CharField(allow_blank=True)
    request_id = serializers.CharField(allow_blank=True)


ErrorSerializer = inline_serializer(
    name="DashboardError",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
        "error_type": serializers.CharField(required=False, help_text="FunctionError: the function's error type."),
        "error_message": serializers.CharField(required=False, help_text="FunctionError: the function's message."),
        "retry_after": serializers.IntegerField(required=False, help_text="Seconds; also in the Retry-After header."),
    },
)
