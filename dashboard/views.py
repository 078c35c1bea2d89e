"""REST views: parse input, call a selector or the service, render. Authentication is the project's default
(Cognito bearer tokens, then the session); every view needs a signed-in user."""

from __future__ import annotations

import dataclasses
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import token_store

from . import selectors, services
from .api import RawJSONParser, exception_handler
from .exceptions import SessionEnded
from .serializers import (
    ErrorSerializer,
    InvocationFilterSerializer,
    InvocationSerializer,
    InvokeResultSerializer,
    LambdaFunctionDetailSerializer,
    LambdaFunctionSerializer,
)

TAG = "dashboard"


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer) for code in codes}


class DashboardView(APIView):
    def get_exception_handler(self) -> Any:
        return exception_handler

    def caller(self, request: Request) -> selectors.Caller:
        return selectors.caller_for(request.user, request.auth)


class LambdaListView(DashboardView):
    @extend_schema(
        tags=[TAG],
        summary="Functions you may call",
        responses={200: LambdaFunctionSerializer(many=True), **_errors(401)},
    )
    def get(self, request: Request) -> Response:
        functions = selectors.functions_for(self.caller(request))
        return Response(LambdaFunctionSerializer(functions, many=True).data)


class LambdaDetailView(DashboardView):
    @extend_schema(
        tags=[TAG],
        summary="One function, with its example payload and schema",
        responses={200: LambdaFunctionDetailSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request: Request, name: str) -> Response:
        function = selectors.function_for(self.caller(request), name)
        return Response(LambdaFunctionDetailSerializer(function).data)


class LambdaInvokeView(DashboardView):
    parser_classes = [RawJSONParser]
    # JSON only: the body is raw JSON passed to Lambda, which the browsable API's forms cannot edit; one renderer
    # also keeps content negotiation off the hot path.
    renderer_classes = [JSONRenderer]

    def caller(self, request: Request) -> selectors.Caller:
        """A session signed in with Cognito calls with its stored id token (renewed first when about to expire),
        read only when the function runs with the caller's credentials."""
        caller = super().caller(request)
        if caller.id_token or request.auth is None or getattr(request.auth, "raw", ""):
            return caller  # a bearer token, or a session not opened with Cognito
        django_request = request._request

        def stored_id_token() -> str:
            stored = token_store.tokens_for(django_request)
            if stored is None:
                if not django_request.user.is_authenticated:  # its tokens could not be read or renewed
                    raise SessionEnded()
                return ""
            return stored.id_token

        return dataclasses.replace(caller, id_token_source=stored_id_token)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, SessionEnded):  # DRF's own 401, with its WWW-Authenticate header
            exc = NotAuthenticated(exc.detail)
        return super().handle_exception(exc)

    @extend_schema(
        tags=[TAG],
        summary="Invoke a function",
        description=(
            "The request body is the payload, any JSON value, passed to Lambda byte for byte. Synchronous functions "
            "answer 200 with the result; event functions 202. Lambda is called at most once: a timeout is a 504 "
            "and is never retried. Every attempt, failed or not, is recorded in `/api/invocations/`."
        ),
        request={"application/json": OpenApiTypes.ANY},
        examples=[OpenApiExample("Observation query", value={"action": "FIND", "query": {"size": 1}})],
        responses={
            200: InvokeResultSerializer,
            202: InvokeResultSerializer,
            **_errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
        },
    )
    def post(self, request: Request, name: str) -> Response:
        raw = request.data if isinstance(request.data, services.RawPayload) else services.RawPayload.of(b"")
        outcome = services.invoke(self.caller(request), name, raw)
        invocation = outcome.invocation
        body = {
            "invocation": invocation.pk,
            "function": invocation.function_key,
            "status": invocation.status,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
            "result": outcome.result,
            "result_format": outcome.result_format,
            "executed_version": invocation.executed_version,
            "request_id": invocation.aws_request_id,
        }
        http = status.HTTP_202_ACCEPTED if invocation.status == invocation.Status.QUEUED else status.HTTP_200_OK
        return Response(body, status=http)


class InvocationPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class InvocationListView(DashboardView):
    pagination_class = InvocationPagination

    @extend_schema(
        tags=[TAG],
        summary="Invocation history",
        description="Your invocations, newest first; staff see everyone's and may filter by `user`.",
        parameters=[
            InvocationFilterSerializer,
            OpenApiParameter("page", int, description="Page number."),
            OpenApiParameter("page_size", int, description="Items per page (at most 100)."),
        ],
        responses={200: InvocationSerializer(many=True), **_errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        filters = InvocationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        queryset = selectors.invocations_for(
            self.caller(request),
            function=data.get("function"),
            status=data.get("status"),
            error_code=data.get("error_code"),
            username=data.get("user"),
            mine=data.get("mine", False),
            since=data.get("since"),
            until=data.get("until"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        assert page is not None
        return paginator.get_paginated_response(InvocationSerializer(page, many=True).data)
