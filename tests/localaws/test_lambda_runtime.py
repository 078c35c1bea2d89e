"""The local Lambda runtime: Invoke runs the function's code with Lambda's answers; other calls reach moto.

Each test creates its functions through the runtime (which keeps their code) in the moto server the ``aws``
fixture resets. Handlers are the test's own small ``app.py``; the sample handlers are in test_sample_functions.py.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from localaws.lambda_runtime import MAX_EVENT_PAYLOAD, MAX_SYNC_PAYLOAD, LambdaRuntime
from tests.localaws.conftest import Deployer, lambda_client, package

ECHO = """
import os
def handler(event, context):
    print("hello from the handler")
    return {"event": event, "function": context.function_name, "left_ms": context.get_remaining_time_in_millis(),
            "request_id": context.aws_request_id, "colour": os.environ.get("COLOUR"),
            "region": os.environ.get("AWS_REGION")}
"""

RAISES = """
def handler(event, context):
    return helper(event)

def helper(event):
    raise ValueError("the value " + str(event.get("n")) + " is wrong")
"""

SLEEPS = """
import os, time
def handler(event, context):
    with open(event["pid_file"], "w") as out:
        out.write(str(os.getpid()))
    time.sleep(event.get("sleep", 0))
    return {"slept": event.get("sleep", 0)}
"""

WRITES = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    with open(event["path"], "w") as out:
        out.write("ran")
    return None
"""

WAITS = """
import os, time
def handler(event, context):
    open(event["started"], "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(event["release"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"
"""

LARGE = """
def handler(event, context):
    return "x" * event["size"]
"""


def invoke(lam: Any, name: str, payload: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def test_invoke_runs_the_handler_with_its_environment_and_context(lam: Any, deploy: Deployer) -> None:
    deploy("Echo", ECHO, timeout=5, environment={"COLOUR": "teal"})

    response, result = invoke(lam, "Echo", {"a": [1, 2]})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert result["event"] == {"a": [1, 2]}
    assert (result["function"], result["colour"], result["region"]) == ("Echo", "teal", "us-east-1")
    assert 0 < result["left_ms"] <= 5000
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert response["ExecutedVersion"] == "$LATEST"


def test_a_warm_worker_serves_the_next_invocation(lam: Any, deploy: Deployer, tmp_path: Path) -> None:
    deploy("Sleeper", SLEEPS)
    pids = []
    for index in range(2):
        invoke(lam, "Sleeper", {"pid_file": str(tmp_path / f"{index}.pid")})
        pids.append((tmp_path / f"{index}.pid").read_text())

    assert pids[0] == pids[1]


def test_invoke_by_arn_and_with_a_qualifier_runs_the_same_function(lam: Any, deploy: Deployer) -> None:
    deploy("Echo", ECHO)
    arn = lam.get_function(FunctionName="Echo")["Configuration"]["FunctionArn"]

    _, result = invoke(lam, arn, {"by": "arn"})
    _, qualified = invoke(lam, "Echo", {"by": "qualifier"}, Qualifier="$LATEST")

    assert (result["event"], qualified["event"]) == ({"by": "arn"}, {"by": "qualifier"})


def test_a_handler_that_raises_answers_lambdas_function_error(lam: Any, deploy: Deployer) -> None:
    deploy("Raises", RAISES)

    response, error = invoke(lam, "Raises", {"n": 7})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the value 7 is wrong"
    # Lambda's stack trace shows the function's frames only, not the runtime's.
    assert len(error["stackTrace"]) == 2
    assert "app.py" in error["stackTrace"][0] and "lambda_worker" not in json.dumps(error["stackTrace"])


def test_a_handler_past_its_timeout_is_stopped_and_answers_sandbox_timedout(
    lam: Any, deploy: Deployer, tmp_path: Path
) -> None:
    deploy("Sleeper", SLEEPS, timeout=1)
    pid_file = tmp_path / "slow.pid"
    started = time.monotonic()

    response, error = invoke(lam, "Sleeper", {"pid_file": str(pid_file), "sleep": 60})

    assert time.monotonic() - started < 30  # stopped at its 1 s timeout, long before its 60 s sleep
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.05)
    assert not _running(pid), "the worker that ran past its timeout was not stopped"
    # The next invocation gets a fresh worker.
    response, result = invoke(lam, "Sleeper", {"pid_file": str(tmp_path / "next.pid")})
    assert result == {"slept": 0}
    assert int((tmp_path / "next.pid").read_text()) != pid


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return True


def test_an_event_answers_202_at_once_and_runs_in_the_background(lam: Any, deploy: Deployer, tmp_path: Path) -> None:
    deploy("Waiter", WAITS, timeout=30)
    started, release = tmp_path / "started", tmp_path / "release"

    response = lam.invoke(
        FunctionName="Waiter",
        InvocationType="Event",
        Payload=json.dumps({"started": str(started), "release": str(release)}).encode(),
    )

    try:
        assert response["StatusCode"] == 202
        assert response["Payload"].read() == b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not started.exists():
            time.sleep(0.02)
        assert started.exists(), "the event did not run"  # while the caller already had its answer
    finally:
        release.touch()


def test_dry_run_answers_204_without_running(lam: Any, deploy: Deployer, tmp_path: Path) -> None:
    deploy("Writer", WRITES)

    response = lam.invoke(FunctionName="Writer", InvocationType="DryRun", Payload=b'{"path": "/nonexistent/x"}')

    assert response["StatusCode"] == 204


@pytest.mark.parametrize(
    ("invocation_type", "limit"), [("RequestResponse", MAX_SYNC_PAYLOAD), ("Event", MAX_EVENT_PAYLOAD)]
)
def test_a_payload_over_lambdas_limit_is_refused_with_413(
    lam: Any, deploy: Deployer, invocation_type: str, limit: int
) -> None:
    deploy("Echo", ECHO)
    payload = json.dumps("x" * (limit - 1)).encode()  # limit + 1 bytes with the quotes

    with pytest.raises(lam.exceptions.RequestTooLargeException) as caught:
        lam.invoke(FunctionName="Echo", InvocationType=invocation_type, Payload=payload)

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert f"Request must be smaller than {limit} bytes" in str(caught.value)


def test_an_event_payload_at_the_limit_is_accepted(lam: Any, deploy: Deployer) -> None:
    deploy("Echo", ECHO)
    payload = json.dumps("x" * (MAX_EVENT_PAYLOAD - 2)).encode()
    assert len(payload) == MAX_EVENT_PAYLOAD

    assert lam.invoke(FunctionName="Echo", InvocationType="Event", Payload=payload)["StatusCode"] == 202


def test_a_result_over_the_limit_is_a_function_error(lam: Any, deploy: Deployer) -> None:
    deploy("Large", LARGE)

    response, error = invoke(lam, "Large", {"size": MAX_SYNC_PAYLOAD})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Function.ResponseSizeTooLarge"


def test_a_payload_that_is_not_json_is_refused(lam: Any, deploy: Deployer) -> None:
    deploy("Echo", ECHO)

    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="Echo", Payload=b"{not json")


def test_an_unknown_function_is_resource_not_found(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="NoSuchFunction", Payload=b"{}")


def test_other_lambda_calls_reach_moto(lam: Any, deploy: Deployer) -> None:
    deploy("Echo", ECHO, timeout=7)

    assert lam.get_function(FunctionName="Echo")["Configuration"]["Timeout"] == 7
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["Echo"]
    lam.update_function_configuration(FunctionName="Echo", Environment={"Variables": {"COLOUR": "red"}})
    assert invoke(lam, "Echo", {})[1]["colour"] == "red"
    lam.delete_function(FunctionName="Echo")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="Echo", Payload=b"{}")


def test_new_code_replaces_the_old_one(lam: Any, deploy: Deployer) -> None:
    deploy("Echo", ECHO)
    assert invoke(lam, "Echo", {})[1]["colour"] is None

    lam.update_function_code(
        FunctionName="Echo", ZipFile=package({"app.py": "def handler(event, context):\n    return 'new'\n"})
    )

    assert invoke(lam, "Echo", {})[1] == "new"


def test_invocations_over_the_concurrency_limit_are_throttled(
    aws: str, lam: Any, deploy: Deployer, tmp_path: Path
) -> None:
    deploy("Waiter", WAITS, timeout=30)
    runtime = LambdaRuntime(aws, state_dir=tmp_path / "runtime", concurrency=1).start()
    started, release = tmp_path / "started", tmp_path / "release"
    try:
        # The function's code is kept by the runtime that created it: this one learns it the same way.
        narrow = lambda_client(runtime.url)
        narrow.update_function_code(FunctionName="Waiter", ZipFile=_code_of(WAITS))
        event = {"started": str(started), "release": str(release)}
        busy = threading.Thread(target=invoke, args=(narrow, "Waiter", event))
        busy.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not started.exists():
            time.sleep(0.02)

        with pytest.raises(narrow.exceptions.TooManyRequestsException):
            invoke(narrow, "Waiter", event)
        release.touch()
        busy.join()
    finally:
        release.touch()
        runtime.stop()


def _code_of(code: str) -> bytes:
    return package({"app.py": code})


def test_a_function_whose_code_it_never_saw_is_left_to_moto(lam: Any, aws: str, deploy: Deployer) -> None:
    moto = lambda_client(aws)
    iam_role = deploy.role
    moto.create_function(
        FunctionName="Elsewhere",
        Runtime="python3.12",
        Role=iam_role,
        Handler="app.handler",
        Code={"ZipFile": _code_of(RAISES)},
    )

    # moto without Docker echoes the payload.
    assert invoke(lam, "Elsewhere", {"n": 1})[1] == {"n": 1}


@pytest.mark.parametrize(
    ("code", "handler", "error_type"),
    [
        ("import os\ndef handler(event, context):\n    os._exit(3)\n", "app.handler", "Runtime.ExitError"),
        ("def handler(event, context):\n    return 1\n", "missing.handler", "Runtime.ImportModuleError"),
        ("def other(event, context):\n    return 1\n", "app.handler", "Runtime.HandlerNotFound"),
    ],
)
def test_a_function_that_cannot_run_answers_lambdas_runtime_error(
    lam: Any, deploy: Deployer, code: str, handler: str, error_type: str
) -> None:
    deploy("Broken", code)
    lam.update_function_configuration(FunctionName="Broken", Handler=handler)

    response, error = invoke(lam, "Broken", {})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == error_type


# once: no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
