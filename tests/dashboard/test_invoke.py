"""Invoking registered functions through ``POST /api/lambdas/<name>/invoke/`` against the moto stand-in.

moto (Lambda without Docker) echoes the payload or returns a queued canned result and always succeeds; every
failure below is injected where the test says so (botocore's ``before-send`` on the client the service uses,
a closed port, or a TCP server that never answers).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from dashboard.models import Invocation
from tests.conftest import free_port

from .conftest import bearer, lambda_response

pytestmark = pytest.mark.django_db


def invoke(api: Any, name: str, body: bytes | str, content_type: str = "application/json") -> Any:
    data = body.encode() if isinstance(body, str) else body
    return api.generic("POST", f"/api/lambdas/{name}/invoke/", data, content_type=content_type)


@pytest.fixture
def alice(api: Any, cognito_user: Any, registry: dict[str, Any]) -> Any:
    """DRF client signed in with alice's real access token (Cognito group ``users``)."""
    return bearer(api, cognito_user.tokens.access_token)


def only_invocation() -> Invocation:
    rows = list(Invocation.objects.all())
    assert len(rows) == 1, rows
    return rows[0]


def test_sync_invoke_returns_the_functions_json_result_and_audits_it(alice: Any) -> None:
    body = b'{"action": "LIST", "page": 2}'
    response = invoke(alice, "thing", body)
    assert response.status_code == 200, response.content
    answer = response.json()
    # moto without Docker echoes the payload: the result is what Lambda returned, parsed.
    assert answer["result"] == {"action": "LIST", "page": 2}
    assert answer["status"] == "succeeded"
    assert answer["status_code"] == 200
    assert answer["result_format"] == "json"
    assert answer["duration_ms"] >= 0
    row = only_invocation()
    assert answer["invocation"] == row.pk
    assert row.username == "alice"
    assert row.function_key == "thing"
    assert row.aws_function_name == "ThingLambda"
    assert row.status == "succeeded"
    assert row.http_status == 200
    assert row.payload_size == len(body)
    assert row.payload_sha256 == hashlib.sha256(body).hexdigest()
    assert row.payload is None  # bodies are not stored unless configured
    assert row.duration_ms is not None
    assert row.error_code == ""


def test_canned_result_of_the_stand_in_is_returned(alice: Any, canned: Any) -> None:
    canned({"hits": {"total": 1, "hits": [{"_id": "o-1"}]}})
    response = invoke(alice, "observation", json.dumps({"action": "FIND", "query": {"size": 1}}))
    assert response.status_code == 200, response.content
    assert response.json()["result"] == {"hits": {"total": 1, "hits": [{"_id": "o-1"}]}}


def test_a_non_json_result_is_returned_as_text(alice: Any, canned: Any) -> None:
    canned("plain words")
    response = invoke(alice, "thing", "{}")
    assert response.status_code == 200
    assert response.json()["result"] == "plain words"
    assert response.json()["result_format"] == "text"


def test_event_invocation_answers_202_without_a_result(alice: Any, registry: dict[str, Any]) -> None:
    registry["thing"].invocation_type = "Event"
    registry["thing"].save()
    response = invoke(alice, "thing", '{"action": "LIST"}')
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    assert response.json()["result"] is None
    assert only_invocation().status == "queued"


def test_unknown_function_is_404_and_audited(alice: Any) -> None:
    response = invoke(alice, "no-such-function", "{}")
    assert response.status_code == 404
    assert response.json()["code"] == "function_not_found"
    row = only_invocation()
    assert (row.status, row.function_key, row.function, row.http_status) == ("not_found", "no-such-function", None, 404)


def test_disabled_function_is_404(alice: Any, registry: dict[str, Any]) -> None:
    registry["thing"].enabled = False
    registry["thing"].save()
    assert invoke(alice, "thing", "{}").status_code == 404


def test_function_of_another_group_is_403_and_audited(alice: Any, make_function: Any) -> None:
    make_function("admin-thing", "ThingLambda", groups=["admins"])
    response = invoke(alice, "admin-thing", "{}")
    assert response.status_code == 403
    assert response.json()["code"] == "function_forbidden"
    assert only_invocation().status == "denied"


def test_cognito_group_in_the_token_grants_access(alice: Any, make_function: Any) -> None:
    make_function("users-thing", "ThingLambda", groups=["users"])
    assert invoke(alice, "users-thing", "{}").status_code == 200


def test_anonymous_caller_is_401_with_www_authenticate(api: Any, registry: dict[str, Any]) -> None:
    response = invoke(api, "thing", "{}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Invocation.objects.exists()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b'{"action": }', "line 1 column 12"),
        (b'{\n  "action": "LIST",\n  "size": 1,\n}', "line 4 column 1"),
        (b'{"action": "LIST", "action": "FIND"}', "Duplicate key 'action'"),
        (b"NaN", "NaN is not valid JSON"),
        (b'{"n": Infinity}', "Infinity is not valid JSON"),
        (b"", "empty"),
        (b"   ", "empty"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
    ],
    ids=["missing-value", "trailing-comma", "duplicate-key", "nan", "infinity", "empty", "blank", "latin1", "deep"],
)
def test_invalid_json_is_400_naming_the_problem(alice: Any, body: bytes, names: str) -> None:
    response = invoke(alice, "thing", body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid_json"
    assert names in answer["detail"]
    assert answer["fields"]["payload"] == [answer["detail"]]
    row = only_invocation()
    assert (row.status, row.error_code, row.payload_size) == ("rejected", "invalid_json", len(body))


def test_payload_failing_the_schema_is_400_with_the_json_path(alice: Any) -> None:
    response = invoke(alice, "observation", json.dumps({"action": "FIND", "query": {"size": -5}}))
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "schema_mismatch"
    assert "$.query.size" in answer["detail"]
    assert "minimum" in answer["detail"]
    row = only_invocation()
    assert row.status == "rejected"
    # The audit log names the path and the rule, never the value sent.
    assert row.error_message == "$.query.size: fails 'minimum'"


def test_payload_missing_a_required_member_is_400(alice: Any) -> None:
    response = invoke(alice, "observation", '{"query": {}}')
    assert response.status_code == 400
    assert "'action' is a required property" in response.json()["detail"]


def test_sync_payload_over_6_mb_is_413_and_audited(alice: Any) -> None:
    body = b'{"blob": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    response = invoke(alice, "thing", body)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["limit"] == 6 * 1024 * 1024
    row = only_invocation()
    assert (row.status, row.payload_size, row.http_status) == ("rejected", len(body), 413)


def test_sync_payload_just_under_6_mb_is_sent(alice: Any, canned: Any) -> None:
    # Above Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), below Lambda's limit: it must reach Lambda.
    canned({"received": True})
    body = b'{"blob": "' + b"x" * (6 * 1024 * 1024 - 20) + b'"}'
    response = invoke(alice, "thing", body)
    assert response.status_code == 200
    assert response.json()["result"] == {"received": True}
    assert only_invocation().payload_size == len(body)


def test_result_too_large_for_lambda_is_a_502_function_error(alice: Any) -> None:
    # No injection: the stand-in echoes the 6.1 MB payload and, like Lambda, refuses such a large response.
    body = b'{"blob": "' + b"x" * 6_100_000 + b'"}'
    response = invoke(alice, "thing", body)
    assert response.status_code == 502
    assert response.json()["error_type"] == "Function.ResponseSizeTooLarge"


def test_event_payload_over_256_kb_is_413(alice: Any, registry: dict[str, Any]) -> None:
    registry["thing"].invocation_type = "Event"
    registry["thing"].save()
    body = b'{"blob": "' + b"x" * (256 * 1024) + b'"}'
    response = invoke(alice, "thing", body)
    assert response.status_code == 413
    assert response.json()["limit"] == 256 * 1024


def test_function_error_is_502_with_type_and_message(alice: Any, registry: dict[str, Any], lambda_faults: Any) -> None:
    lambda_faults.inject(registry["thing"], "function_error")  # injected: Lambda's FunctionError answer
    response = invoke(alice, "thing", '{"action": "LIST"}')
    assert response.status_code == 502
    answer = response.json()
    assert answer["code"] == "function_error"
    assert answer["error_type"] == "ValueError"
    assert answer["error_message"] == "size must be positive"
    assert "stackTrace" not in json.dumps(answer)
    row = only_invocation()
    assert (row.status, row.error_type, row.error_message) == ("function_error", "ValueError", "size must be positive")


def test_throttling_is_429_with_retry_after(alice: Any, registry: dict[str, Any], lambda_faults: Any) -> None:
    lambda_faults.inject(registry["thing"], "throttled")  # injected: TooManyRequestsException, Retry-After 7
    response = invoke(alice, "thing", "{}")
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert response.json()["code"] == "throttled"
    assert len(lambda_faults.requests) == 1  # retries are off: throttling is not retried either
    row = only_invocation()
    assert (row.status, row.aws_request_id) == ("throttled", "r-1")


def test_lambda_service_error_is_503_with_retry_after(alice: Any, registry: dict[str, Any], lambda_faults: Any) -> None:
    lambda_faults.inject(registry["thing"], "service_exception")  # injected: HTTP 500 ServiceException
    response = invoke(alice, "thing", "{}")
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert only_invocation().status == "unavailable"


def test_read_timeout_is_504_and_invokes_exactly_once(alice: Any, registry: dict[str, Any], lambda_faults: Any) -> None:
    lambda_faults.inject(registry["thing"], "read_timeout")  # injected: botocore ReadTimeoutError
    response = invoke(alice, "thing", "{}")
    assert response.status_code == 504
    assert response.json()["code"] == "lambda_timeout"
    assert len(lambda_faults.requests) == 1
    assert only_invocation().status == "timeout"


@pytest.fixture
def silent_server() -> Iterator[dict[str, Any]]:
    """A TCP server that reads requests and never answers: a real read timeout. Counts the requests it got."""
    state: dict[str, Any] = {"requests": 0, "url": ""}
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)
            conn.settimeout(5)
            try:
                if conn.recv(65536).startswith(b"POST "):
                    state["requests"] += 1
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{listener.getsockname()[1]}"
    yield state
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def test_real_read_timeout_never_invokes_twice(
    alice: Any, registry: dict[str, Any], settings: Any, silent_server: dict[str, Any]
) -> None:
    # Fault: Lambda's endpoint is a server that accepts the request and never answers.
    settings.AWS = {**settings.AWS, "ENDPOINT_URLS": {"lambda": silent_server["url"]}}
    settings.DASHBOARD = {"READ_TIMEOUT_MARGIN": 0}
    registry["thing"].timeout = 1
    registry["thing"].save()
    response = invoke(alice, "thing", "{}")
    assert response.status_code == 504
    assert silent_server["requests"] == 1
    assert only_invocation().status == "timeout"


def test_unreachable_lambda_is_503_and_the_attempt_is_audited(
    alice: Any, registry: dict[str, Any], settings: Any
) -> None:
    # Fault: Lambda's endpoint points at a closed loopback port.
    settings.AWS = {**settings.AWS, "ENDPOINT_URLS": {"lambda": f"http://127.0.0.1:{free_port()}"}}
    response = invoke(alice, "thing", '{"action": "LIST"}')
    assert response.status_code == 503
    assert response.json()["code"] == "lambda_unavailable"
    assert int(response["Retry-After"]) >= 1
    row = only_invocation()
    assert (row.status, row.http_status, row.error_code) == ("unavailable", 503, "lambda_unavailable")


def test_injected_connection_refused_is_503(alice: Any, registry: dict[str, Any], lambda_faults: Any) -> None:
    lambda_faults.inject(registry["thing"], "connection_refused")  # injected: EndpointConnectionError
    assert invoke(alice, "thing", "{}").status_code == 503
    assert len(lambda_faults.requests) == 1


def test_function_registered_but_missing_in_lambda_is_502(alice: Any, make_function: Any, lambda_faults: Any) -> None:
    # Injected: moto's Docker-less Lambda answers Invoke even for a function it does not have.
    lambda_faults.inject(make_function("ghost", "GhostLambda"), "resource_not_found")
    response = invoke(alice, "ghost", "{}")
    assert response.status_code == 502
    assert response.json()["code"] == "function_missing"
    assert only_invocation().status == "error"


def test_payload_is_stored_redacted_only_when_configured(alice: Any, settings: Any) -> None:
    settings.DASHBOARD = {"STORE_PAYLOADS": True, "REDACT_FIELDS": ["password", "Token"]}
    body = {"action": "LIST", "password": "hunter2", "nested": [{"TOKEN": "abc", "keep": 1}]}
    assert invoke(alice, "thing", json.dumps(body)).status_code == 200
    stored = only_invocation().payload
    assert stored == {"action": "LIST", "password": "[redacted]", "nested": [{"TOKEN": "[redacted]", "keep": 1}]}


def test_wrong_content_type_is_415(alice: Any) -> None:
    assert invoke(alice, "thing", "{}", content_type="text/plain").status_code == 415


def test_session_user_invokes_with_csrf_enforced(registry: dict[str, Any]) -> None:
    from rest_framework.test import APIClient

    user = get_user_model().objects.create_user("bob", password="x-Passw0rd-1")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert invoke(client, "thing", "{}").status_code == 403  # no CSRF token
    client.get("/dashboard/")
    token = client.cookies["csrftoken"].value
    response = client.generic(
        "POST", "/api/lambdas/thing/invoke/", "{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200, response.content


def test_logs_hold_neither_the_payload_nor_the_token(
    alice: Any, cognito_user: Any, caplog: Any, lambda_faults: Any, registry: dict[str, Any]
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    marker = "s3cr3t-payload-value"
    invoke(alice, "thing", json.dumps({"action": "LIST", "note": marker}))
    invoke(alice, "observation", json.dumps({"action": marker, "query": {}}))  # schema failure
    lambda_faults.inject(registry["thing"], "function_error")
    invoke(alice, "thing", json.dumps({"note": marker}))
    assert Invocation.objects.count() == 3
    assert marker not in caplog.text
    assert cognito_user.tokens.access_token not in caplog.text
    assert "lambda invocation" in caplog.text


def test_nul_characters_never_stop_the_audit_row_from_being_written(
    alice: Any, settings: Any, canned: Any, registry: dict[str, Any], lambda_faults: Any
) -> None:
    # PostgreSQL refuses NUL in text and jsonb: a hostile name, payload or error message must still be audited.
    settings.DASHBOARD = {"STORE_PAYLOADS": True}
    assert invoke(alice, "a%00b", "{}").status_code == 404
    assert invoke(alice, "thing", json.dumps({"k\u0000": "v\u0000"})).status_code == 200
    lambda_faults.inject(
        registry["thing"],
        lambda request: lambda_response(
            200,
            {"errorType": "Bad\u0000Type", "errorMessage": "nul \u0000 here"},
            {"X-Amz-Function-Error": "Unhandled"},
        ),
    )
    assert invoke(alice, "thing", "{}").status_code == 502
    rows = list(Invocation.objects.order_by("id"))
    assert [r.status for r in rows] == ["not_found", "succeeded", "function_error"]
    assert rows[1].payload == {"k\ufffd": "v\ufffd"}
    assert "\x00" not in rows[2].error_message + rows[2].error_type + rows[0].function_key


def test_a_schema_saved_around_the_admins_checks_is_a_500_not_a_crash(alice: Any, registry: dict[str, Any]) -> None:
    type(registry["thing"]).objects.filter(pk=registry["thing"].pk).update(payload_schema={"type": "no-such-type"})
    response = invoke(alice, "thing", "{}")
    assert response.status_code == 500
    assert response.json()["code"] == "function_misconfigured"
    assert only_invocation().error_code == "function_misconfigured"


def test_the_audit_row_is_one_insert_holding_what_the_orms_save_would(alice: Any, settings: Any) -> None:
    # services._insert writes the row without Model.save(): the row must be the one save() writes, in one query.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dashboard import services

    settings.DASHBOARD = {"STORE_PAYLOADS": True}
    with CaptureQueriesContext(connection) as queries:
        assert invoke(alice, "thing", b'{"action": "GET", "id": 7, "ratio": 0.5}').status_code == 200
    writes = [q["sql"] for q in queries.captured_queries if "dashboard_invocation" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("INSERT"), writes
    fast = only_invocation()
    assert fast.created_at is not None and fast.payload == {"action": "GET", "id": 7, "ratio": 0.5}
    copy = Invocation.objects.get(pk=fast.pk)
    copy.pk = None
    copy._state.adding = True
    copy.save()  # the ORM's own INSERT of the same values
    orm = Invocation.objects.get(pk=copy.pk)
    skip = {"id", "created_at"}
    columns = [f.attname for f in Invocation._meta.concrete_fields if f.attname not in skip]
    assert {c: getattr(fast, c) for c in columns} == {c: getattr(orm, c) for c in columns}
    # A record with the nullable fields left empty reads back as None, as the ORM stores them (SQL NULL).
    bare = Invocation(username="", function_key="x", status=Invocation.Status.ERROR)
    services._insert(bare, "default")
    assert bare.pk and not bare._state.adding
    again = Invocation.objects.get(pk=bare.pk)
    assert (again.payload, again.duration_ms, again.result_size, again.user_id) == (None, None, None, None)
    assert Invocation.objects.filter(pk=bare.pk, payload__isnull=True).exists()


def test_receivers_of_the_invocation_model_signals_still_run(alice: Any) -> None:
    # With a receiver connected, the audit row goes through Model.save(), so a site's post_save hook is never skipped.
    from django.db.models.signals import post_save

    seen: list[tuple[int, bool]] = []

    def receiver(sender: Any, instance: Invocation, created: bool, **kwargs: Any) -> None:
        seen.append((instance.pk, created))

    post_save.connect(receiver, sender=Invocation, weak=False)
    try:
        assert invoke(alice, "thing", "{}").status_code == 200
    finally:
        post_save.disconnect(receiver, sender=Invocation)
    assert seen == [(only_invocation().pk, True)]
