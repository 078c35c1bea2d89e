"""Shared fixtures: the real stand-ins every test runs against.

- ``moto_server`` (session): a moto server on a free loopback port; ``aws`` (autouse) points the project's one
  boto3 seam at it and resets it after each test, so every test leaves the stand-in as it found it.
- ``cognito``: a helper that creates pools, app clients and confirmed users and returns real tokens from
  InitiateAuth; ``user_pool`` and ``cognito_user`` build the common case and configure ``settings.COGNITO``.
- ``redis_url`` / ``celery_worker`` (session): a real ``redis-server`` and a real Celery worker process.
- ``browser_page``: Debian's Chromium driven by Playwright, for pages served by ``live_server``.

Under ``CI`` (``.ci/run`` sets ``CI=true``) a skipped, xfailed or xpassed test fails the run (``pytest_sessionfinish``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
# Playwright's sync API runs an event loop in the test thread; Django's ORM would otherwise refuse to run there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
for _var in [v for v in os.environ if v.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_var]

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PASSWORD = "Str0ng-Passw0rd!"
# A JWT's shape: base64url JSON header "." base64url JSON payload ".". A bare "eyJ" is not enough: a random
# 64-character CSRF token or session key contains it about once in 4,000 draws.
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")


def has_jwt(text: str) -> bool:
    """Whether `text` holds anything shaped like a JWT (header and payload)."""
    return JWT_SHAPE.search(text) is not None


PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": False,
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# --- the moto server ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    url = f"http://127.0.0.1:{port}"
    yield url
    server.stop()


def reset_moto(url: str) -> None:
    requests.post(f"{url}/moto-api/reset", timeout=10)
    requests.post(f"{url}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10)


@pytest.fixture(autouse=True)
def aws(moto_server: str, settings: Any) -> Iterator[str]:
    """Point the project's AWS clients at the stand-in; reset the stand-in and the caches afterwards."""
    from django.core.cache import caches

    from cognito_backend.clients import reset_clients

    settings.AWS = settings.COGNITO_AWS = {
        "REGION": REGION,
        "ENDPOINT_URL": moto_server,
        "ENDPOINT_URLS": {},
        "CONNECT_TIMEOUT": 2.0,
        "READ_TIMEOUT": 10.0,
        "MAX_ATTEMPTS": 2,
    }
    reset_moto(moto_server)
    yield moto_server
    reset_moto(moto_server)
    reset_clients()
    for cache in caches.all():
        cache.clear()
    forget_registry()


def forget_registry() -> None:
    """Drop the dashboard's remembered registry rows (a per-process memo): each test builds its own registry."""
    from django.apps import apps

    if apps.is_installed("dashboard"):  # not in the package's minimal site
        from dashboard import selectors

        selectors._registry.clear()


@pytest.fixture(scope="session")
def lambda_runtime_server(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local Lambda runtime (``localaws/lambda_runtime.py``) in front of ``moto_server``: runs real handlers."""
    from localaws.lambda_runtime import LambdaRuntime

    runtime = LambdaRuntime(moto_server, state_dir=tmp_path_factory.mktemp("lambda-runtime")).start()
    yield runtime
    runtime.stop()


@pytest.fixture
def lambda_runtime(aws: str, lambda_runtime_server: Any, settings: Any) -> str:
    """The site's Lambda client goes to the local runtime (as ``AWS_ENDPOINT_URL_LAMBDA`` does); its URL.

    Functions created through it (``localaws.stack.ensure_functions`` with ``config.aws.get_client("lambda")``)
    run their code on Invoke; handler output lands in ``<state dir>/logs/<function>.log``.
    """
    url = str(lambda_runtime_server.url)
    settings.AWS = {**settings.AWS, "ENDPOINT_URLS": {**settings.AWS["ENDPOINT_URLS"], "lambda": url}}
    return url


# --- Cognito helper ----------------------------------------------------------------------------------------------


@dataclass
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str
    expires_in: int

    @classmethod
    def from_auth_result(cls, result: dict[str, Any]) -> Tokens:
        return cls(
            id_token=result["IdToken"],
            access_token=result["AccessToken"],
            refresh_token=result.get("RefreshToken", ""),
            expires_in=int(result.get("ExpiresIn", 3600)),
        )


@dataclass
class CognitoUser:
    username: str
    password: str
    email: str
    sub: str
    pool_id: str
    client_id: str
    tokens: Tokens
    groups: list[str] = field(default_factory=list)


@dataclass
class UserPool:
    pool_id: str
    client_id: str
    endpoint: str
    client_secret: str = ""

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    def settings(self) -> dict[str, Any]:
        return {
            "REGION": REGION,
            "USER_POOL_ID": self.pool_id,
            "APP_CLIENT_ID": self.client_id,
            "APP_CLIENT_SECRET": self.client_secret,
            "ISSUER": "",
            "JWKS_URL": self.jwks_url,
            "IDENTITY_POOL_ID": "",
            "DOMAIN": "",
        }


class CognitoFactory:
    """Creates real pools, clients and users in the stand-in, and signs users in for real tokens."""

    def __init__(self, endpoint: str) -> None:
        from cognito_backend.clients import get_client

        self.endpoint = endpoint
        self.idp = get_client("cognito-idp")

    def create_pool(self, name: str = "test-pool", **kwargs: Any) -> str:
        params: dict[str, Any] = {
            "PoolName": name,
            "Policies": {"PasswordPolicy": PASSWORD_POLICY},
            "AliasAttributes": ["email"],
            "AutoVerifiedAttributes": ["email"],
            "Schema": [
                {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
                {"Name": "telnum", "AttributeDataType": "String", "Mutable": True},
            ],
        }
        params.update(kwargs)
        return str(self.idp.create_user_pool(**params)["UserPool"]["Id"])

    def create_client(self, pool_id: str, *, secret: bool = False, name: str = "test-client") -> tuple[str, str]:
        client = self.idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=name,
            GenerateSecret=secret,
            ExplicitAuthFlows=[
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_USER_SRP_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            ],
        )["UserPoolClient"]
        return str(client["ClientId"]), str(client.get("ClientSecret", ""))

    def create_pool_with_client(self, *, secret: bool = False, **kwargs: Any) -> UserPool:
        pool_id = self.create_pool(**kwargs)
        client_id, client_secret = self.create_client(pool_id, secret=secret)
        return UserPool(pool_id=pool_id, client_id=client_id, endpoint=self.endpoint, client_secret=client_secret)

    def create_user(
        self,
        pool: UserPool,
        username: str = "alice",
        password: str = DEFAULT_PASSWORD,
        *,
        email: str | None = None,
        email_verified: bool = True,
        groups: list[str] | None = None,
        attributes: dict[str, str] | None = None,
        sign_in: bool = True,
    ) -> CognitoUser:
        """A confirmed user with a permanent password, signed in (real InitiateAuth tokens) by default."""
        email = email or f"{username}@example.com"
        user_attributes = [
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true" if email_verified else "false"},
        ]
        user_attributes += [{"Name": k, "Value": v} for k, v in (attributes or {}).items()]
        self.idp.admin_create_user(
            UserPoolId=pool.pool_id,
            Username=username,
            UserAttributes=user_attributes,
            MessageAction="SUPPRESS",
            TemporaryPassword="Temp-Passw0rd!",
        )
        self.idp.admin_set_user_password(UserPoolId=pool.pool_id, Username=username, Password=password, Permanent=True)
        for group in groups or []:
            try:
                self.idp.create_group(UserPoolId=pool.pool_id, GroupName=group)
            except self.idp.exceptions.GroupExistsException:
                pass
            self.idp.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=username, GroupName=group)
        attrs = self.idp.admin_get_user(UserPoolId=pool.pool_id, Username=username)["UserAttributes"]
        sub = next(a["Value"] for a in attrs if a["Name"] == "sub")
        tokens = self.sign_in(pool, username, password) if sign_in else Tokens("", "", "", 0)
        return CognitoUser(
            username=username,
            password=password,
            email=email,
            sub=sub,
            pool_id=pool.pool_id,
            client_id=pool.client_id,
            tokens=tokens,
            groups=list(groups or []),
        )

    def sign_in(self, pool: UserPool, username: str, password: str) -> Tokens:
        params = {"USERNAME": username, "PASSWORD": password}
        if pool.client_secret:
            params["SECRET_HASH"] = secret_hash(username, pool.client_id, pool.client_secret)
        result = self.idp.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)
        return Tokens.from_auth_result(result["AuthenticationResult"])


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def cognito(aws: str) -> CognitoFactory:
    return CognitoFactory(aws)


@pytest.fixture
def user_pool(cognito: CognitoFactory, settings: Any) -> UserPool:
    """A pool and app client in the stand-in, configured as the site's ``settings.COGNITO``."""
    pool = cognito.create_pool_with_client()
    settings.COGNITO = pool.settings()
    return pool


@pytest.fixture
def cognito_user(cognito: CognitoFactory, user_pool: UserPool) -> CognitoUser:
    """A confirmed user of ``user_pool`` with real tokens."""
    return cognito.create_user(user_pool, "alice", groups=["users"])


@pytest.fixture
def identity_pool(user_pool: UserPool, settings: Any) -> str:
    """An identity pool trusting ``user_pool`` (authenticated identities only), configured as the site's."""
    from cognito_backend.clients import get_client

    pool_id = get_client("cognito-identity").create_identity_pool(
        IdentityPoolName="tests",
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[
            {
                "ProviderName": f"cognito-idp.us-east-1.amazonaws.com/{user_pool.pool_id}",
                "ClientId": user_pool.client_id,
            }
        ],
    )["IdentityPoolId"]
    settings.COGNITO = {**settings.COGNITO, "IDENTITY_POOL_ID": pool_id}
    return str(pool_id)


# --- Redis and a Celery worker ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (bin/test installs it)")
    workdir = tmp_path_factory.mktemp("redis")
    process, port = start_redis(binary, workdir)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def start_redis(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server of our own on a free port, confirmed by its answer to PING from that very process.

    A free port can be taken by another test's server (the other xdist worker starts servers too) between
    ``free_port()`` and redis binding it; redis then exits, and "something listens on the port" would be that other
    server. So: our process must still run and answer PING, else start again on another port.
    """
    import redis

    for _ in range(5):
        port = free_port()
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)]
        process = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping():
                    time.sleep(0.1)
                    if process.poll() is None:
                        return process, port
            except redis.RedisError:
                pass
            time.sleep(0.05)
        process.kill()
        process.wait(timeout=10)
    raise RuntimeError("redis-server could not be started on a free port")


@dataclass
class CeleryWorker:
    broker_url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def celery_worker(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryWorker]:
    """A real ``celery worker`` process on the real Redis, with the test settings."""
    from config.celery import app

    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    # Celery's settings prefer these variables over the Django settings; the test process uses them too.
    saved_env = {k: os.environ.get(k) for k in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    saved_options = app.conf.broker_transport_options
    os.environ["CELERY_BROKER_URL"] = redis_url
    os.environ["CELERY_RESULT_BACKEND"] = redis_url
    app.conf.update(CELERY_BROKER_TRANSPORT_OPTIONS={})
    app._local.__dict__.pop("backend", None)
    # The app keeps a pool of broker connections made for the broker URL of the moment: a test that pointed it at
    # a closed port (tests/foundation/test_health.py) would leave the ping below knocking there.
    app._pool = None
    app.amqp._producer_pool = None  # bound to the pool of its time
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"celery worker exited: {log.read_text()[-2000:]}")
            if app.control.ping(timeout=0.5):
                break
            # No answer yet: ask again on fresh connections (a stale pooled one would never hear the reply).
            app._pool = None
            app.amqp._producer_pool = None
        else:
            broker = app.connection_for_write().as_uri()
            raise RuntimeError(f"celery worker did not answer (asked at {broker}): {log.read_text()[-2000:]}")
        yield CeleryWorker(redis_url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        app.conf.update(CELERY_BROKER_TRANSPORT_OPTIONS=saved_options)
        app._local.__dict__.pop("backend", None)


# --- a real browser ----------------------------------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (bin/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def browser_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- CI: a skipped, xfailed or xpassed test is a failure -------------------------------------------------------

GUARDED_OUTCOMES = ("skipped", "xfailed", "xpassed")


def ci_enabled() -> bool:
    """``CI`` set to anything but empty, ``0`` or ``false`` (``.ci/run`` exports ``CI=true`` itself)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a test that did not run (skipped) or whose failure was expected (xfail) fails the run.

    A missing service must not turn into a green run, and neither may a known failure marked ``xfail`` (xfailed)
    or a fixed one still marked (xpassed). Under xdist this runs in the controller, which holds every report.
    """
    if not ci_enabled() or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    counts = {outcome: len(reporter.stats.get(outcome, [])) for outcome in GUARDED_OUTCOMES}
    if any(counts.values()):
        found = ", ".join(f"{count} {outcome}" for outcome, count in counts.items() if count)
        print(f"\nCI: {found}; a test that did not run or was expected to fail fails the run in CI.", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
