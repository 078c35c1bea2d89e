"""A moto server process that also appends one line to a file for every refresh (REFRESH_TOKEN_AUTH) it answers,
so a test can count the refreshes every process of a site asks Cognito for. A process of its own: moto's state is
global per process, and the suite's in-process moto server is reset after every test.

    python -m tests.production.counting_moto <port> <count file>
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from moto.cognitoidp.models import CognitoIdpBackend
from moto.server import ThreadedMotoServer


def main() -> None:
    port, count_file = int(sys.argv[1]), Path(sys.argv[2])
    original = CognitoIdpBackend.initiate_auth

    def initiate_auth(self: Any, client_id: str, auth_flow: str, auth_parameters: dict[str, str]) -> Any:
        if auth_flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            with count_file.open("a") as out:
                out.write(f"{client_id}\n")
        return original(self, client_id, auth_flow, auth_parameters)

    CognitoIdpBackend.initiate_auth = initiate_auth  # type: ignore[method-assign]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        server._thread.join()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
