"""A local Lambda runtime beside moto: serves Lambda's Invoke API by running the functions' real code.

moto stores Lambda functions but runs none of their code without Docker. This server sits in front of moto for
the Lambda API (``AWS_ENDPOINT_URL_LAMBDA`` points here; ``manage.py localaws up`` starts it):

- ``POST /2015-03-31/functions/<name>/invocations`` (Invoke) runs the function's handler, as Lambda does: the
  code is the zip the function was created or updated with (kept under the state directory, keyed by its
  SHA-256), the handler, timeout and environment come from moto's configuration of the function. Each function
  has warm worker processes (``lambda_worker.py``, one invocation at a time each, up to ``concurrency`` at once,
  beyond that ``TooManyRequestsException``); a worker past the function's timeout is killed and the caller gets
  Lambda's ``Sandbox.Timedout`` function error. ``InvocationType`` ``RequestResponse`` (200 with the result, or
  ``X-Amz-Function-Error: Unhandled`` and Lambda's ``{"errorType", "errorMessage", ...}``), ``Event`` (202 at
  once, run in the background) and ``DryRun`` (204). Payloads over Lambda's limits (6 MB synchronous, 256 KB
  event) are refused with 413 ``RequestTooLargeException``, results over 6 MB become the function error
  ``Function.ResponseSizeTooLarge``, a payload that is not JSON 400 ``InvalidRequestContentException``, an
  unknown function moto's 404 ``ResourceNotFoundException``.
- Every other Lambda call (CreateFunction, GetFunction, UpdateFunctionCode, ...) is forwarded to moto, so
  provisioning works as before; the code of CreateFunction and UpdateFunctionCode is kept on the way.
- A function whose code this runtime never saw (created on moto directly) is invoked on moto (which echoes).

Workers get the function's environment plus Lambda's own variables, local credentials and
``AWS_ENDPOINT_URL`` (the stand-in), so handlers that call AWS reach moto. Handlers' output goes to
``<state dir>/logs/<function>.log``. Standard library and ``requests`` only: it runs without Django
(``python -m localaws.lambda_runtime --port 5001 --upstream http://127.0.0.1:5000``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import io
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

logger = logging.getLogger("localaws.lambda_runtime")

API = "/2015-03-31/functions"
HEALTH_PATH = "/localaws/health"
WORKER = Path(__file__).with_name("lambda_worker.py")
# Lambda's quotas: invocation payload (request and response) 6 MB synchronous, 256 KB asynchronous.
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_EVENT_PAYLOAD = 256 * 1024
# Lambda's init phase (importing the handler) has its own limit of 10 s, apart from the function's timeout.
INIT_TIMEOUT = 10.0
# Variables of the runtime's own environment a worker keeps (the rest is the function's and Lambda's).
_INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "SYSTEMROOT", "TMPDIR")
_LAMBDA_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "server", "date"}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def aws_error(status: int, code: str, message: str, **extra: Any) -> Answer:
    """An error of the Lambda API itself, as Lambda sends it (botocore reads the type from the header)."""
    body = json.dumps({"Type": "User", "message": message, **extra}).encode()
    return Answer(status, body, {"Content-Type": "application/json", "X-Amzn-ErrorType": f"{code}:"})


class Worker:
    """One worker process: a warm execution environment running one invocation at a time."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        self._buffer = b""
        self.initialised = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def _line(self, timeout: float) -> tuple[dict[str, Any] | None, str]:
        """The worker's next line, and "ok", "timeout" (nothing within ``timeout`` s) or "exited"."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, "timeout"
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None, "exited"
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer, "ok"

    def init(self, timeout: float) -> tuple[dict[str, Any] | None, str]:
        """Waits for the worker to import the handler (Lambda's init phase, timed apart from the function)."""
        if self.initialised:
            return {"ready": True}, "ok"
        answer, outcome = self._line(timeout)
        self.initialised = outcome == "ok" and bool(answer and answer.get("ready"))
        return answer, outcome

    def run(self, request: dict[str, Any], timeout: float) -> tuple[dict[str, Any] | None, str]:
        """The worker's answer to ``request``, and "ok", "timeout" or "exited"."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None, "exited"
        return self._line(timeout)

    def exit_status(self) -> int | None:
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@dataclass
class FunctionSpec:
    """What an invocation needs from the function's configuration."""

    name: str
    arn: str
    handler: str
    runtime: str
    timeout: float
    memory: int
    code_dir: Path
    environment: dict[str, str]

    @property
    def key(self) -> str:
        parts = [self.code_dir, self.handler, self.runtime, self.timeout, self.memory, sorted(self.environment.items())]
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


class LambdaRuntime:
    """The server; ``start()`` runs it in a thread (tests), ``serve_forever()`` in the foreground."""

    def __init__(
        self,
        upstream: str,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        state_dir: Path | str,
        aws_endpoint: str | None = None,
        concurrency: int = 10,
        max_sync_payload: int = MAX_SYNC_PAYLOAD,
        max_event_payload: int = MAX_EVENT_PAYLOAD,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.state_dir = Path(state_dir)
        self.aws_endpoint = aws_endpoint if aws_endpoint is not None else self.upstream
        self.concurrency = concurrency
        self.max_sync_payload = max_sync_payload
        self.max_event_payload = max_event_payload
        self._lock = threading.Lock()
        self._idle: dict[str, list[Worker]] = {}
        self._busy: dict[str, int] = {}
        self._keys: dict[str, str] = {}  # function name -> key of its current workers
        self._sessions = threading.local()
        self.invocations = 0
        runtime = self

        class _Handler(_RequestHandler):
            owner = runtime

        self.server = _Server((host, port), _Handler)
        self.port = int(self.server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LambdaRuntime:
        self._thread = threading.Thread(target=self.server.serve_forever, name="lambda-runtime", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.server.serve_forever()
        finally:
            self.stop_workers()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.stop_workers()

    def stop_workers(self) -> None:
        with self._lock:
            workers = [worker for pool in self._idle.values() for worker in pool]
            self._idle.clear()
            self._keys.clear()
        for worker in workers:
            worker.kill()

    # --- moto ---------------------------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        headers = {k: v for k, v in headers.items() if k.lower() not in {"host", "content-length", "connection"}}
        try:
            response = self._session().request(
                method, f"{self.upstream}{path}", headers=headers, data=body, timeout=60, allow_redirects=False
            )
        except requests.RequestException as exc:
            return aws_error(502, "ServiceException", f"The local Lambda's store (moto) did not answer: {exc}")
        kept = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP}
        return Answer(response.status_code, response.content, kept)

    # --- code -----------------------------------------------------------------------------------------------------

    def code_dir(self, sha_hex: str) -> Path:
        return self.state_dir / "code" / sha_hex

    def keep_code(self, zip_b64: str) -> None:
        """Unpacks a function's zip under its SHA-256 (moto's ``CodeSha256`` is the same digest, base64)."""
        try:
            data = base64.b64decode(zip_b64)
            target = self.code_dir(hashlib.sha256(data).hexdigest())
            if target.is_dir():
                return
            staging = target.with_name(f"{target.name}.{uuid.uuid4().hex}")
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                archive.extractall(staging)
            try:
                staging.rename(target)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)  # another thread kept the same code meanwhile
        except (binascii.Error, ValueError, zipfile.BadZipFile, OSError) as exc:
            logger.warning("could not keep a function's code: %s", exc)

    def spec(self, configuration: dict[str, Any]) -> FunctionSpec | None:
        """The function as this runtime runs it, or None when its code was never seen here."""
        try:
            sha_hex = base64.b64decode(str(configuration.get("CodeSha256", ""))).hex()
        except (binascii.Error, ValueError):
            return None
        code_dir = self.code_dir(sha_hex)
        if not sha_hex or not code_dir.is_dir():
            return None
        return FunctionSpec(
            name=str(configuration["FunctionName"]),
            arn=str(configuration.get("FunctionArn", "")),
            handler=str(configuration.get("Handler") or ""),
            runtime=str(configuration.get("Runtime") or ""),
            timeout=float(configuration.get("Timeout") or 3),
            memory=int(configuration.get("MemorySize") or 128),
            code_dir=code_dir,
            environment={
                str(k): str(v) for k, v in ((configuration.get("Environment") or {}).get("Variables") or {}).items()
            },
        )

    # --- workers --------------------------------------------------------------------------------------------------

    def _worker_env(self, spec: FunctionSpec) -> dict[str, str]:
        region = spec.arn.split(":")[3] if spec.arn.count(":") >= 4 else os.environ.get("AWS_DEFAULT_REGION", "")
        env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        env.update(
            {
                "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                "AWS_REGION": region or "us-east-1",
                "AWS_DEFAULT_REGION": region or "us-east-1",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "LOCALAWS_FUNCTION_ARN": spec.arn,
                "_HANDLER": spec.handler,
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.aws_endpoint:
            env["AWS_ENDPOINT_URL"] = self.aws_endpoint
        env.update(spec.environment)
        return env

    def _acquire(self, spec: FunctionSpec) -> Worker | None:
        """An idle warm worker of this very configuration, or a new one; None when at the concurrency limit."""
        stale: list[Worker] = []
        with self._lock:
            if self._keys.get(spec.name) != spec.key:
                # New code or configuration: the old environments go, as Lambda retires them.
                old = self._keys.get(spec.name)
                if old is not None:
                    stale = self._idle.pop(old, [])
                self._keys[spec.name] = spec.key
            pool = self._idle.setdefault(spec.key, [])
            worker = None
            while pool and worker is None:
                candidate = pool.pop()
                if candidate.alive():
                    worker = candidate
                else:
                    stale.append(candidate)
            if worker is None and self._busy.get(spec.key, 0) >= self.concurrency:
                for each in stale:
                    each.kill()
                return None
            self._busy[spec.key] = self._busy.get(spec.key, 0) + 1
        for each in stale:
            each.kill()
        if worker is None:
            worker = Worker(
                [sys.executable, str(WORKER)],
                spec.code_dir,
                self._worker_env(spec),
                self.state_dir / "logs" / f"{spec.name}.log",
            )
        return worker

    def _release(self, spec: FunctionSpec, worker: Worker, *, keep: bool) -> None:
        with self._lock:
            self._busy[spec.key] = max(0, self._busy.get(spec.key, 1) - 1)
            if keep and self._keys.get(spec.name) == spec.key:
                self._idle.setdefault(spec.key, []).append(worker)
                return
        worker.kill()

    def run(self, spec: FunctionSpec, payload: bytes, request_id: str) -> tuple[bytes, str | None] | None:
        """(body, function error or None); None when the function is at its concurrency limit."""
        if not spec.runtime.startswith("python"):
            message = f"The local Lambda runtime runs Python functions only, not {spec.runtime or 'this runtime'}."
            return _error_body("Runtime.InvalidRuntime", message), "Unhandled"
        worker = self._acquire(spec)
        if worker is None:
            return None
        with self._lock:
            self.invocations += 1
        ready, outcome = worker.init(INIT_TIMEOUT)
        if not worker.initialised:
            self._release(spec, worker, keep=False)
            if ready is not None and "error" in ready:
                return json.dumps(ready["error"]).encode(), "Unhandled"
            status = "timed out" if outcome == "timeout" else f"exited with status {worker.exit_status()}"
            message = f"RequestId: {request_id} Error: the runtime {status} during init"
            return _error_body("Runtime.InitError", message), "Unhandled"
        started = time.time()
        request = {"request_id": request_id, "deadline": started + spec.timeout, "payload": payload.decode()}
        answer, outcome = worker.run(request, spec.timeout)
        if answer is None:
            self._release(spec, worker, keep=False)
            if outcome == "timeout":
                message = f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds"
                return _error_body("Sandbox.Timedout", message), "Unhandled"
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {worker.exit_status()}"
            return _error_body("Runtime.ExitError", message), "Unhandled"
        self._release(spec, worker, keep=True)
        if "error" in answer:
            return json.dumps(answer["error"]).encode(), "Unhandled"
        body = str(answer["result"]).encode()
        if len(body) > self.max_sync_payload:
            message = f"Response payload size exceeded maximum allowed payload size ({self.max_sync_payload} bytes)."
            return _error_body("Function.ResponseSizeTooLarge", message), "Unhandled"
        return body, None

    # --- the Invoke API -------------------------------------------------------------------------------------------

    def invoke(self, identifier: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
        if kind not in {"RequestResponse", "Event", "DryRun"}:
            return aws_error(400, "InvalidParameterValueException", f"Unsupported InvocationType: {kind}")
        limit = self.max_event_payload if kind == "Event" else self.max_sync_payload
        if len(body) > limit:
            return aws_error(
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            )
        qualifier = f"?{query}" if query else ""
        # moto tells the service by the credential scope of the request's signature (it checks nothing else).
        signed = {"Authorization": headers.get("authorization") or _LAMBDA_AUTHORIZATION}
        configuration = self.forward("GET", f"{API}/{identifier}/configuration{qualifier}", signed, b"")
        if configuration.status != 200:
            return configuration
        spec = self.spec(json.loads(configuration.body))
        if spec is None:
            logger.warning(
                "function %s: its code was never deployed through this runtime; moto answers (it echoes). "
                "Deploy it through the runtime (manage.py localaws up does) to run it.",
                identifier,
            )
            return self.forward("POST", f"{API}/{identifier}/invocations{qualifier}", headers, body)
        text = body.decode("utf-8", "replace") if body.strip() else "{}"
        try:
            json.loads(text)
        except ValueError as exc:
            return aws_error(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: Could not parse payload into json: {exc}",
            )
        payload = text.encode()
        request_id = str(uuid.uuid4())
        base = {"X-Amzn-RequestId": request_id, "Content-Type": "application/json"}
        if kind == "DryRun":
            return Answer(204, b"", base)
        if kind == "Event":
            threading.Thread(target=self._run_event, args=(spec, payload, request_id), daemon=True).start()
            return Answer(202, b"", base)
        outcome = self.run(spec, payload, request_id)
        if outcome is None:
            return aws_error(
                429, "TooManyRequestsException", "Rate Exceeded.", Reason="ConcurrentInvocationLimitExceeded"
            )
        result, function_error = outcome
        answer = Answer(200, result, {**base, "X-Amz-Executed-Version": "$LATEST"})
        if function_error:
            answer.headers["X-Amz-Function-Error"] = function_error
        return answer

    def _run_event(self, spec: FunctionSpec, payload: bytes, request_id: str) -> None:
        # Lambda retries a failed event twice; locally it runs once and the outcome goes to the function's log.
        deadline = time.monotonic() + 60
        outcome = self.run(spec, payload, request_id)
        while outcome is None and time.monotonic() < deadline:  # throttled: Lambda queues the event
            time.sleep(0.1)
            outcome = self.run(spec, payload, request_id)
        if outcome is not None and outcome[1]:
            with (self.state_dir / "logs" / f"{spec.name}.log").open("a") as log:
                log.write(f"event {request_id} failed: {outcome[0].decode('utf-8', 'replace')}\n")

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        parts = urlsplit(target)
        path = parts.path
        if path == HEALTH_PATH:
            return Answer(200, b'{"status": "ok"}', {"Content-Type": "application/json"})
        lowered = {k.lower(): v for k, v in headers.items()}
        if path.startswith(f"{API}/") and path.endswith("/invocations") and method == "POST":
            identifier = path[len(API) + 1 : -len("/invocations")]
            if "/" not in identifier:
                return self.invoke(identifier, parts.query, lowered, body)
        answer = self.forward(method, target, headers, body)
        if answer.status < 300 and method in {"POST", "PUT"} and body:
            is_create = method == "POST" and path.rstrip("/") == API
            is_update = method == "PUT" and path.startswith(f"{API}/") and path.endswith("/code")
            if is_create or is_update:
                try:
                    request = json.loads(body)
                except ValueError:
                    request = {}
                code = request.get("Code", {}) if is_create else request
                if isinstance(code, dict) and code.get("ZipFile"):
                    self.keep_code(str(code["ZipFile"]))
        return answer


def _error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 refuses connections when several clients start at once


class _RequestHandler(BaseHTTPRequestHandler):
    owner: LambdaRuntime
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            answer = self.owner.handle(self.command, self.path, dict(self.headers.items()), body)
        except Exception as exc:
            logger.exception("local Lambda runtime failed on %s %s", self.command, self.path)
            answer = aws_error(500, "ServiceException", f"The local Lambda runtime failed: {type(exc).__name__}")
        self.send_response(answer.status)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description="The local Lambda runtime in front of moto.")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--upstream", default="http://127.0.0.1:5000", help="the moto server")
    parser.add_argument("--state-dir", default=".localaws/lambda-runtime")
    parser.add_argument("--aws-endpoint", default=None, help="AWS_ENDPOINT_URL of the handlers (default: upstream)")
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent invocations per function")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    runtime = LambdaRuntime(
        args.upstream,
        port=args.port,
        host=args.host,
        state_dir=args.state_dir,
        aws_endpoint=args.aws_endpoint,
        concurrency=args.concurrency,
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=runtime.server.shutdown).start())
    logger.info("local Lambda runtime on %s, in front of %s", runtime.url, runtime.upstream)
    runtime.serve_forever()


if __name__ == "__main__":
    main()
