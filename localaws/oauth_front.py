"""A small front before cognito-local's hosted UI that puts the ``nonce`` (and ``at_hash``) into the id token.

cognito-local 5.3.0 accepts ``nonce`` on ``/oauth2/authorize`` but never writes it into the id token, and writes
no ``at_hash``; a site that checks both (as it must) cannot sign in against it unaided. This front passes every
request through to cognito-local and, for the authorization-code grant only, remembers the authorize request's
nonce by ``state``, then by the code cognito-local redirects with, and rewrites the id token the token endpoint
returns: the same claims plus ``nonce`` and ``at_hash``, re-signed with cognito-local's own published key (its
private key ships in ``node_modules/cognito-local/lib/keys``), so the site verifies it against cognito-local's
JWKS as it would any other token. It stands in for what real Cognito does; it is for tests and local use only.

Run: ``python -m localaws.oauth_front --port 9230 --upstream http://127.0.0.1:9229`` (``localaws up
--cognito-local`` starts it). No Django import: tests start it in a thread.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

KEY_FILE = Path(__file__).resolve().parent.parent / "node_modules/cognito-local/lib/keys/cognitoLocal.private.json"
KID = "CognitoLocal"
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


def half_hash(value: str) -> str:
    """OIDC ``at_hash`` for RS256: the left half of SHA-256, base64url without padding."""
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


class NonceFront:
    """The state: nonces by state, then by code (each used once)."""

    def __init__(self, upstream: str, key_file: Path = KEY_FILE) -> None:
        self.upstream = upstream.rstrip("/")
        self.pem = json.loads(key_file.read_text())["pem"]
        self.by_state: dict[str, str] = {}
        self.by_code: dict[str, str] = {}
        self.lock = threading.Lock()

    def resign(self, id_token: str, access_token: str, nonce: str) -> str:
        from authlib.jose import jwt

        payload_b64 = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
        claims["nonce"] = nonce
        claims["at_hash"] = half_hash(access_token)
        return bytes(jwt.encode({"alg": "RS256", "kid": KID, "typ": "JWT"}, claims, self.pem)).decode()


def make_handler(front: NonceFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _forward(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            path = urlsplit(self.path).path
            if method == "GET" and path == "/oauth2/authorize":
                query = parse_qs(urlsplit(self.path).query)
                state, nonce = query.get("state", [""])[0], query.get("nonce", [""])[0]
                if state and nonce:
                    with front.lock:
                        front.by_state[state] = nonce
            answer = requests.request(
                method, front.upstream + self.path, data=body, headers=headers, allow_redirects=False, timeout=30
            )
            content = answer.content
            if method == "POST" and path == "/oauth2/authorize" and answer.status_code in (301, 302, 303):
                query = parse_qs(urlsplit(answer.headers.get("Location", "")).query)
                code, state = query.get("code", [""])[0], query.get("state", [""])[0]
                with front.lock:
                    nonce = front.by_state.pop(state, "")
                    if code and nonce:
                        front.by_code[code] = nonce
            if method == "POST" and path == "/oauth2/token" and answer.status_code == 200:
                form = parse_qs(body.decode(errors="replace"))
                if form.get("grant_type", [""])[0] == "authorization_code":
                    with front.lock:
                        nonce = front.by_code.pop(form.get("code", [""])[0], "")
                    data = answer.json()
                    if nonce and data.get("id_token"):
                        data["id_token"] = front.resign(data["id_token"], data["access_token"], nonce)
                        content = json.dumps(data).encode()
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in HOP_HEADERS:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def do_GET(self) -> None:
            self._forward("GET")

        def do_POST(self) -> None:
            self._forward("POST")

    return Handler


def start(upstream: str, port: int = 0, host: str = "127.0.0.1") -> tuple[ThreadingHTTPServer, NonceFront]:
    """Serve the front in a daemon thread; returns the server (``server_address`` has the port) and its state."""
    front = NonceFront(upstream)
    server = ThreadingHTTPServer((host, port), make_handler(front))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="oauth-front", daemon=True).start()
    return server, front


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9230)
    parser.add_argument("--upstream", default="http://127.0.0.1:9229")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(NonceFront(args.upstream)))
    server.serve_forever()


if __name__ == "__main__":
    main()
