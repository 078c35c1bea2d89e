"""One warm execution environment of the local Lambda runtime (``localaws/lambda_runtime.py``).

Run as a script (``python lambda_worker.py``) with the function's code directory as the working directory and
the function's environment; standard library only, so the handler sees no module of this project. It reads one
invocation per line on stdin (``{"request_id", "deadline", "payload"}``, the payload as JSON text) and writes one
answer per line on the original stdout (``{"result": <JSON text>}`` or ``{"error": {...}}`` in Lambda's error
shape); what the handler prints goes to stderr, the function's log. The handler is imported on the first
invocation, like Lambda's init phase, and kept for the next ones. The runtime kills the process on a timeout.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class Context:
    """The attributes and method of Lambda's Python context object that handlers use."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("LOCALAWS_FUNCTION_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


class InitError(Exception):
    """The handler could not be loaded; ``args[0]`` is Lambda's error answer."""


def _error(error_type: str, message: str, trace: list[str] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
    if trace is not None:
        answer["stackTrace"] = trace
    return answer


def _load(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise InitError(_error("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values"))
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise InitError(
            _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
        ) from None
    except Exception as exc:  # noqa: BLE001 - Lambda reports any error of the init phase this way
        kind = "Runtime.UserCodeSyntaxError" if isinstance(exc, SyntaxError) else type(exc).__name__
        raise InitError(_error(kind, str(exc), traceback.format_exception(exc))) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise InitError(
            _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
        )
    return function


def main() -> None:
    sys.path.insert(0, os.getcwd())
    # The protocol keeps the real stdout; the handler's prints go to the log (stderr), as in Lambda.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        handler = _load(os.environ.get("_HANDLER", ""))
    except InitError as exc:
        # Lambda's init phase failed: this environment is discarded, the next invocation starts a new one.
        answers.write(json.dumps({"error": exc.args[0]}) + "\n")
        answers.flush()
        return
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in sys.stdin:
        request = json.loads(line)
        answer: dict[str, Any]
        try:
            event = json.loads(request["payload"])
            result = handler(event, Context(request["request_id"], float(request["deadline"])))
            try:
                answer = {"result": json.dumps(result)}
            except (TypeError, ValueError) as exc:
                answer = {"error": _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")}
        except Exception as exc:  # noqa: BLE001 - any error of the handler is the function's error
            frames = traceback.extract_tb(exc.__traceback__)[1:]  # the handler's frames, not this loop's
            trace = [entry.rstrip("\n") for entry in traceback.format_list(frames)]
            answer = {"error": _error(type(exc).__name__, str(exc), trace)}
        sys.stderr.flush()
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
