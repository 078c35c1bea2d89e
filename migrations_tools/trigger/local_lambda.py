"""A local stand-in for Lambda's Invoke API running ``handler.handler`` in-process, for cognito-local.

cognito-local invokes triggers through the AWS SDK's Lambda client; point its ``LambdaClient.endpoint`` here:
``python -m migrations_tools.trigger.local_lambda --port 9230`` (with the handler's ``MIGRATION_*`` environment).
Every function name runs the same handler. An exception becomes Lambda's ``X-Amz-Function-Error: Unhandled``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import handler as trigger

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LocalLambda:
    """``start()`` serves on 127.0.0.1:``port`` (0 picks one) in a thread; ``invocations`` counts the calls."""

    def __init__(self, port: int = 0, handler: Handler = trigger.handler) -> None:
        self.handler = handler
        self.invocations = 0
        owner = self

        class _Request(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if not INVOKE_PATH.match(self.path.split("?")[0]):
                    self._reply(404, {"message": "not found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                event = json.loads(self.rfile.read(length) or b"{}")
                owner.invocations += 1
                try:
                    self._reply(200, owner.handler(event, None))
                except Exception as error:  # noqa: BLE001 - Lambda reports any error of the function this way
                    self._reply(200, {"errorMessage": str(error), "errorType": type(error).__name__}, error=True)

            def _reply(self, status: int, body: dict[str, Any], *, error: bool = False) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error:
                    self.send_header("X-Amz-Function-Error", "Unhandled")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Request)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalLambda:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9230)
    args = parser.parse_args()
    server = LocalLambda(args.port)
    print(f"Lambda Invoke stand-in for the user-migration trigger on {server.url}")  # noqa: T201
    server.server.serve_forever()


if __name__ == "__main__":
    main()
