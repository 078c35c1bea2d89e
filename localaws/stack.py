"""The local AWS stand-ins: start, stop and fill them.

The moto server serves Cognito user pools, identity pools and Lambda on loopback. ``provision()`` creates the
demo user pool, app client, groups, identity pool, sample Lambda functions and demo user, finding each by name
first so that running it twice changes nothing. Processes are detached and tracked by pid files in
``.localaws/`` so ``down`` and ``status`` work from another shell.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import override_settings

from cognito_backend.clients import get_client, reset_clients
from config import aws as site_aws

from . import template

STATE_DIR = Path(settings.BASE_DIR) / ".localaws"
DOTENV = Path(settings.BASE_DIR) / ".env"

POOL_NAME = "cognito-django-demo"
IDENTITY_POOL_NAME = "cognito_django_demo"
DEMO_USERNAME = os.environ.get("LOCALAWS_DEMO_USERNAME", "demo")
DEMO_PASSWORD = os.environ.get("LOCALAWS_DEMO_PASSWORD", "Demo-pass-1234")
DEMO_EMAIL = os.environ.get("LOCALAWS_DEMO_EMAIL", "demo@example.com")
LAMBDA_ROLE = "cognito-django-demo-lambda"
# The identity pool's unauthenticated role (the template's UnauthenticatedRole): Cloud Connect's step 1 assumes it
# in the basic flow (CLOUD_CONNECT_UNAUTH_ROLE_ARN).
UNAUTH_ROLE = "cognito-django-demo-unauthenticated"
CALLBACK_URLS = ["http://127.0.0.1:8000/accounts/callback/", "http://localhost:8000/accounts/callback/"]
LOGOUT_URLS = ["http://127.0.0.1:8000/", "http://localhost:8000/"]
# The values of deploy/cognito.yaml's parameters here: the pool, clients, groups and identity pool are created
# from the template's own properties (localaws/template.py); the server's client has no secret locally.
TEMPLATE_PARAMETERS: dict[str, Any] = {
    "PoolName": POOL_NAME,
    "IdentityPoolName": IDENTITY_POOL_NAME,
    "DomainPrefix": "localaws",
    "CallbackUrls": CALLBACK_URLS,
    "LogoutUrls": LOGOUT_URLS,
    "ServerClientSecret": "false",
}

# The pool's password policy as deploy/cognito.yaml sets it (cognito-local's hosted-UI pool gets it too).
PASSWORD_POLICY: dict[str, Any] = template.load()["Resources"]["UserPool"]["Properties"]["Policies"]["PasswordPolicy"]

LAMBDAS_DIR = Path(settings.BASE_DIR) / "lambdas"

# The sample functions: plain Lambda handlers in ``lambdas/`` (with their data files), zipped as deployed. The local
# Lambda runtime (``localaws/lambda_runtime.py``) runs them; moto alone would only echo the payload.
SAMPLE_FUNCTIONS: dict[str, dict[str, Any]] = {
    "AuthLambda": {
        "description": "Signs a Cloud Connect user in; answers the account and its ID token.",
        "module": "auth_lambda",
        "files": [],
    },
    "ThingLambda": {
        "description": 'Lists and gets things; takes {"action": "LIST"} or {"action": "GET", "id": ...}.',
        "module": "thing_lambda",
        "files": ["data/things.json"],
    },
    "ObservationLambda": {
        "description": "FIND and COUNT over observations with a subset of Elasticsearch's query DSL.",
        "module": "observation_lambda",
        "files": ["data/observations.json"],
    },
}
SAMPLE_TIMEOUT = 10


class LocalAwsError(Exception):
    """Something the operator must fix (port taken, stand-in not starting); the message says what."""


@dataclass
class ManagedProcess:
    """A detached background process with a pid file and a log file under ``.localaws/``."""

    name: str
    port: int
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/"
    cwd: Path | None = None

    @property
    def pid_file(self) -> Path:
        return STATE_DIR / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return STATE_DIR / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def answers(self) -> bool:
        try:
            requests.get(f"{self.url}{self.ready_path}", timeout=1)
        except requests.RequestException:
            return False
        return True

    def running(self) -> bool:
        return self.pid() is not None and self.answers()

    def start(self, timeout: float = 30.0) -> bool:
        """Start unless already running; returns True when it was started now."""
        if self.running():
            return False
        if port_in_use(self.port):
            raise LocalAwsError(
                f"port {self.port} on 127.0.0.1 is taken by another process; stop it or choose another port "
                f"(LOCALAWS_{self.name.upper().replace('-', '_')}_PORT)."
            )
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            start_new_session=True,
        )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalAwsError(f"{self.name} exited at start; see {self.log_file}")
            if self.answers():
                return True
            time.sleep(0.2)
        self.stop()
        raise LocalAwsError(
            f"{self.name} did not answer on port {self.port} within {timeout:.0f}s; see {self.log_file}"
        )

    def stop(self) -> bool:
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return False
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return True


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def moto_process(port: int | None = None) -> ManagedProcess:
    port = port or int(os.environ.get("LOCALAWS_MOTO_PORT", "5000"))
    moto_server = str(Path(sys.executable).with_name("moto_server"))
    return ManagedProcess(
        name="moto",
        port=port,
        argv=[moto_server, "-H", "127.0.0.1", "-p", str(port)],
        env={"MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true"},
        ready_path="/moto-api/",
    )


def cognito_local_process(
    port: int | None = None, lambda_endpoint: str = "", triggers: dict[str, str] | None = None
) -> ManagedProcess:
    """cognito-local (npm), for what moto lacks: hosted UI ``/oauth2/*`` with PKCE, real codes, triggers.

    Its data and config live in ``.localaws/cognito-local/.cognito``; usernames are usernames (not emails). With
    ``lambda_endpoint`` (the local Lambda runtime) its triggers are invoked there; ``triggers`` (e.g.
    ``{"UserMigration": "MigrateUser"}``, empty for none) replaces its ``TriggerFunctions``. cognito-local reads
    its config when it starts.
    """
    port = port or int(os.environ.get("LOCALAWS_COGNITO_LOCAL_PORT", "9229"))
    workdir = STATE_DIR / "cognito-local"
    config_dir = workdir / ".cognito"
    config_dir.mkdir(parents=True, exist_ok=True)
    config_file = config_dir / "config.json"
    config: dict[str, Any] = {"UserPoolDefaults": {"UsernameAttributes": []}}
    if config_file.exists():
        try:
            config = json.loads(config_file.read_text())
        except ValueError:
            pass
    updated = dict(config)
    if lambda_endpoint:
        updated["LambdaClient"] = {
            "endpoint": lambda_endpoint,
            "region": os.environ.get("COGNITO_REGION", "us-east-1"),
            "credentials": {"accessKeyId": "local", "secretAccessKey": "local"},
        }
    if triggers is not None:
        updated["TriggerFunctions"] = dict(triggers)
    if updated != config or not config_file.exists():
        config_file.write_text(json.dumps(updated, indent=2))
    binary = Path(settings.BASE_DIR) / "node_modules" / ".bin" / "cognito-local"
    return ManagedProcess(
        name="cognito-local",
        port=port,
        argv=[str(binary)],
        env={"PORT": str(port), "HOST": "127.0.0.1", "DEBUG": "0"},
        ready_path="/health",
        cwd=workdir,
    )


def oauth_front_process(upstream: str, port: int | None = None) -> ManagedProcess:
    """The nonce front (``localaws.oauth_front``) before cognito-local's hosted UI; COGNITO_DOMAIN points here."""
    port = port or int(os.environ.get("LOCALAWS_OAUTH_FRONT_PORT", "9230"))
    return ManagedProcess(
        name="oauth-front",
        port=port,
        argv=[sys.executable, "-m", "localaws.oauth_front", "--port", str(port), "--upstream", upstream],
        ready_path="/health",
        cwd=Path(settings.BASE_DIR),
    )


def lambda_runtime_process(upstream: str, port: int | None = None) -> ManagedProcess:
    """The local Lambda runtime (``localaws.lambda_runtime``) in front of moto; AWS_ENDPOINT_URL_LAMBDA points here."""
    port = port or int(os.environ.get("LOCALAWS_LAMBDA_RUNTIME_PORT", "5001"))
    return ManagedProcess(
        name="lambda-runtime",
        port=port,
        argv=[
            sys.executable,
            "-m",
            "localaws.lambda_runtime",
            "--port",
            str(port),
            "--upstream",
            upstream,
            "--state-dir",
            str(STATE_DIR / "lambda-runtime"),
        ],
        ready_path="/localaws/health",
        cwd=Path(settings.BASE_DIR),
    )


HOSTED_POOL_NAME = "cognito-django-hosted-ui"
HOSTED_CLIENT_NAME = "hosted-ui"


def provision_hosted_ui(cognito_local_url: str, front_url: str, region: str = "us-east-1") -> dict[str, str]:
    """A pool, a hosted-UI app client (code flow, this site's callback URLs) and the demo user in cognito-local;
    returns the ``.env`` entries that make the site offer "Sign in with the hosted UI" and trust that pool."""
    with _aws_override(cognito_local_url, region):
        reset_clients()
        try:
            idp = get_client("cognito-idp")
            pool_id = next(
                (
                    str(p["Id"])
                    for p in idp.list_user_pools(MaxResults=60)["UserPools"]
                    if p["Name"] == HOSTED_POOL_NAME
                ),
                "",
            ) or str(
                idp.create_user_pool(PoolName=HOSTED_POOL_NAME, Policies={"PasswordPolicy": PASSWORD_POLICY})[
                    "UserPool"
                ]["Id"]
            )
            clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
            client_id = next((str(c["ClientId"]) for c in clients if c["ClientName"] == HOSTED_CLIENT_NAME), "")
            if not client_id:
                client_id = str(
                    idp.create_user_pool_client(
                        UserPoolId=pool_id,
                        ClientName=HOSTED_CLIENT_NAME,
                        CallbackURLs=CALLBACK_URLS,
                        LogoutURLs=LOGOUT_URLS,
                        AllowedOAuthFlows=["code"],
                        AllowedOAuthScopes=["openid", "email", "profile"],
                        AllowedOAuthFlowsUserPoolClient=True,
                    )["UserPoolClient"]["ClientId"]
                )
            try:
                idp.admin_get_user(UserPoolId=pool_id, Username=DEMO_USERNAME)
            except idp.exceptions.UserNotFoundException:
                idp.admin_create_user(
                    UserPoolId=pool_id,
                    Username=DEMO_USERNAME,
                    UserAttributes=[
                        {"Name": "email", "Value": DEMO_EMAIL},
                        {"Name": "email_verified", "Value": "true"},
                    ],
                    MessageAction="SUPPRESS",
                    TemporaryPassword=f"Tmp-{secrets.token_urlsafe(12)}1a",
                )
                idp.admin_set_user_password(
                    UserPoolId=pool_id, Username=DEMO_USERNAME, Password=DEMO_PASSWORD, Permanent=True
                )
        finally:
            reset_clients()
    issuer = f"{cognito_local_url}/{pool_id}"
    pools = [
        {
            "USER_POOL_ID": pool_id,
            "APP_CLIENT_IDS": [client_id],
            "ISSUER": issuer,
            "JWKS_URL": f"{issuer}/.well-known/jwks.json",
        }
    ]
    return {
        "COGNITO_DOMAIN": front_url,
        "COGNITO_HOSTED_UI_CLIENT_ID": client_id,
        # cognito-local has no /logout: sign-out ends the session here and stays on this site.
        "COGNITO_HOSTED_UI_LOGOUT": "false",
        "COGNITO_POOLS": json.dumps(pools, separators=(",", ":")),
    }


@dataclass
class Provisioned:
    region: str
    endpoint: str
    user_pool_id: str
    app_client_id: str
    identity_pool_id: str
    functions: dict[str, str]
    created: list[str]
    lambda_endpoint: str = ""
    unauth_role_arn: str = ""

    def env(self) -> dict[str, str]:
        lambda_endpoint = {"AWS_ENDPOINT_URL_LAMBDA": self.lambda_endpoint} if self.lambda_endpoint else {}
        unauth_role = {"CLOUD_CONNECT_UNAUTH_ROLE_ARN": self.unauth_role_arn} if self.unauth_role_arn else {}
        return {
            **lambda_endpoint,
            **unauth_role,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "COGNITO_REGION": self.region,
            "COGNITO_USER_POOL_ID": self.user_pool_id,
            "COGNITO_APP_CLIENT_ID": self.app_client_id,
            "COGNITO_IDENTITY_POOL_ID": self.identity_pool_id,
            "COGNITO_JWKS_URL": f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json",
        }


def _aws_override(endpoint: str, region: str, endpoints: dict[str, str] | None = None) -> Any:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    options = {
        "REGION": region,
        "ENDPOINT_URL": endpoint,
        "ENDPOINT_URLS": dict(endpoints or {}),
        "CONNECT_TIMEOUT": 2.0,
        "READ_TIMEOUT": 30.0,
        "MAX_ATTEMPTS": 3,
    }
    return override_settings(AWS=options, COGNITO_AWS=options)


def sample_zip(name: str) -> bytes:
    """The deployment package of sample function ``name``: its handler and data files, byte for byte the same
    every time (fixed timestamps), so an unchanged function is recognised by its CodeSha256."""
    spec = SAMPLE_FUNCTIONS[name]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in [f"{spec['module']}.py", *spec["files"]]:
            info = zipfile.ZipInfo(relative, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (LAMBDAS_DIR / relative).read_bytes())
    return buffer.getvalue()


def code_sha256(package: bytes) -> str:
    """Lambda's ``CodeSha256`` of a deployment package."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def local_template(
    region: str, ids: dict[str, str] | None = None, attributes: dict[tuple[str, str], str] | None = None
) -> template.Resolver:
    """deploy/cognito.yaml resolved with the local parameter values and the ids (and ``Fn::GetAtt`` attributes)
    of what exists so far."""
    return template.Resolver(TEMPLATE_PARAMETERS, dict(ids or {}), region=region, attributes=attributes)


def ensure_user_pool(idp: Any, created: list[str], region: str = "us-east-1") -> str:
    properties = local_template(region).properties("UserPool")
    name = properties.pop("UserPoolName")
    for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return str(pool["Id"])
    # CloudFormation's EnabledMfas is SetUserPoolMfaConfig in the API; moto offers TOTP by its environment.
    properties.pop("EnabledMfas", None)
    response = idp.create_user_pool(PoolName=name, **properties)
    created.append(f"user pool {name}")
    return str(response["UserPool"]["Id"])


def ensure_app_clients(idp: Any, pool_id: str, created: list[str], region: str = "us-east-1") -> dict[str, str]:
    """Every app client of the template, by logical id (ServerClient, HostedUiClient)."""
    resolver = local_template(region, {"UserPool": pool_id})
    existing: dict[str, str] = {}
    for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60):
        existing.update({str(c["ClientName"]): str(c["ClientId"]) for c in page["UserPoolClients"]})
    ids: dict[str, str] = {}
    for logical_id in template.resources_of("AWS::Cognito::UserPoolClient"):
        properties = resolver.properties(logical_id)
        name = properties["ClientName"]
        if name not in existing:
            existing[name] = str(idp.create_user_pool_client(**properties)["UserPoolClient"]["ClientId"])
            created.append(f"app client {name}")
        ids[logical_id] = existing[name]
    return ids


def ensure_groups(idp: Any, pool_id: str, created: list[str], region: str = "us-east-1") -> None:
    resolver = local_template(region, {"UserPool": pool_id})
    existing = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id).get("Groups", [])}
    for logical_id in template.resources_of("AWS::Cognito::UserPoolGroup"):
        properties = resolver.properties(logical_id)
        if properties["GroupName"] not in existing:
            idp.create_group(**properties)
            created.append(f"group {properties['GroupName']}")


def ensure_identity_pool(identity: Any, region: str, ids: dict[str, str], created: list[str]) -> str:
    """The identity pool; ``ids`` holds the user pool's and app clients' ids by logical id. Its roles are not
    attached locally: moto does not check IAM."""
    properties = local_template(region, ids).properties("IdentityPool")
    for pool in identity.list_identity_pools(MaxResults=60).get("IdentityPools", []):
        if pool["IdentityPoolName"] == properties["IdentityPoolName"]:
            return str(pool["IdentityPoolId"])
    response = identity.create_identity_pool(**properties)
    created.append(f"identity pool {properties['IdentityPoolName']}")
    return str(response["IdentityPoolId"])


def ensure_lambda_role(iam: Any, created: list[str]) -> str:
    try:
        return str(iam.get_role(RoleName=LAMBDA_ROLE)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    response = iam.create_role(RoleName=LAMBDA_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    created.append(f"IAM role {LAMBDA_ROLE}")
    return str(response["Role"]["Arn"])


def ensure_unauth_role(
    iam: Any, identity_pool_id: str, auth_lambda_arn: str, created: list[str], region: str = "us-east-1"
) -> str:
    """The template's UnauthenticatedRole (trust and policy as there). moto checks no IAM; the role is created so
    that Cloud Connect's step 1 assumes the same role, by ARN, as on AWS (the basic flow)."""
    try:
        return str(iam.get_role(RoleName=UNAUTH_ROLE)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    resolver = local_template(region, {"IdentityPool": identity_pool_id}, {("AuthLambda", "Arn"): auth_lambda_arn})
    properties = resolver.properties("UnauthenticatedRole")
    response = iam.create_role(
        RoleName=UNAUTH_ROLE, AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"])
    )
    for policy in properties.get("Policies", []):
        iam.put_role_policy(
            RoleName=UNAUTH_ROLE, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
        )
    created.append(f"IAM role {UNAUTH_ROLE}")
    return str(response["Role"]["Arn"])


def ensure_function(
    lam: Any,
    name: str,
    *,
    package: bytes,
    handler: str,
    description: str,
    role_arn: str,
    variables: dict[str, str],
    created: list[str],
    timeout: int = SAMPLE_TIMEOUT,
) -> str:
    """Creates the function, or brings its code, handler and environment up to date; returns its ARN."""
    try:
        configuration = lam.get_function(FunctionName=name)["Configuration"]
    except lam.exceptions.ResourceNotFoundException:
        response = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": package},
            Description=description,
            Timeout=timeout,
            Environment={"Variables": variables},
        )
        created.append(f"Lambda function {name}")
        return str(response["FunctionArn"])
    if configuration.get("CodeSha256") != code_sha256(package):
        lam.update_function_code(FunctionName=name, ZipFile=package)
        created.append(f"code of Lambda function {name}")
    current = (configuration.get("Environment") or {}).get("Variables") or {}
    if configuration.get("Handler") != handler or current != variables or configuration.get("Timeout") != timeout:
        lam.update_function_configuration(
            FunctionName=name, Handler=handler, Environment={"Variables": variables}, Timeout=timeout
        )
        created.append(f"configuration of Lambda function {name}")
    return str(configuration["FunctionArn"])


def ensure_functions(
    lam: Any, role_arn: str, created: list[str], environments: dict[str, dict[str, str]] | None = None
) -> dict[str, str]:
    """The sample functions, created or brought up to date (``environments``: variables by function name)."""
    return {
        name: ensure_function(
            lam,
            name,
            package=sample_zip(name),
            handler=f"{spec['module']}.handler",
            description=spec["description"],
            role_arn=role_arn,
            variables=dict((environments or {}).get(name, {})),
            created=created,
        )
        for name, spec in SAMPLE_FUNCTIONS.items()
    }


MIGRATION_TRIGGER = "MigrateUser"
TRIGGER_HANDLER = Path(settings.BASE_DIR) / "migrations_tools" / "trigger" / "handler.py"


def trigger_zip() -> bytes:
    """The migration trigger's deployment package: ``handler.py`` alone, as the README deploys it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("handler.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, TRIGGER_HANDLER.read_bytes())
    return buffer.getvalue()


def provision_migration_trigger(
    endpoint: str, lambda_endpoint: str, site_url: str, secret: str, region: str = "us-east-1"
) -> list[str]:
    """The user-migration trigger as the function ``MigrateUser`` in the local Lambda runtime, for cognito-local
    (which takes the new user's name from the answer: ``MIGRATION_ECHO_USERNAME``); returns what changed."""
    created: list[str] = []
    with _aws_override(endpoint, region, {"lambda": lambda_endpoint}):
        site_aws.reset_clients()
        try:
            ensure_function(
                site_aws.get_client("lambda"),
                MIGRATION_TRIGGER,
                package=trigger_zip(),
                handler="handler.handler",
                description="Cognito user-migration trigger: asks the site whether the credentials are right.",
                role_arn=ensure_lambda_role(site_aws.get_client("iam"), created),
                variables={
                    "MIGRATION_ENDPOINT_URL": f"{site_url.rstrip('/')}/api/migration/trigger/",
                    "MIGRATION_SHARED_SECRET": secret,
                    "MIGRATION_ECHO_USERNAME": "true",
                },
                created=created,
                timeout=5,
            )
        finally:
            site_aws.reset_clients()
    return created


def ensure_demo_user(idp: Any, pool_id: str, created: list[str]) -> None:
    try:
        idp.admin_get_user(UserPoolId=pool_id, Username=DEMO_USERNAME)
        return
    except idp.exceptions.UserNotFoundException:
        pass
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=DEMO_USERNAME,
        UserAttributes=[
            {"Name": "email", "Value": DEMO_EMAIL},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "given_name", "Value": "Demo"},
            {"Name": "family_name", "Value": "User"},
        ],
        MessageAction="SUPPRESS",
        TemporaryPassword=f"Tmp-{secrets.token_urlsafe(12)}1a",
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=DEMO_USERNAME, Password=DEMO_PASSWORD, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=DEMO_USERNAME, GroupName="users")
    created.append(f"demo user {DEMO_USERNAME}")


def configure_moto(endpoint: str) -> None:
    # Lambda without Docker: Invoke answers without running the code (see shared LOCAL_AWS.md).
    requests.post(f"{endpoint}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=5)


def provision(endpoint: str, region: str = "us-east-1", lambda_endpoint: str = "") -> Provisioned:
    """Create (or find) everything the demo needs in the stand-in at ``endpoint``.

    With ``lambda_endpoint`` (the local Lambda runtime) the functions are created through it, which keeps their
    code to run it; AuthLambda gets the pool and app client in its environment.
    """
    created: list[str] = []
    configure_moto(endpoint)
    with _aws_override(endpoint, region, {"lambda": lambda_endpoint} if lambda_endpoint else None):
        reset_clients()
        site_aws.reset_clients()
        try:
            idp = get_client("cognito-idp")
            pool_id = ensure_user_pool(idp, created, region)
            clients = ensure_app_clients(idp, pool_id, created, region)
            client_id = clients["ServerClient"]
            ensure_groups(idp, pool_id, created, region)
            identity_pool_id = ensure_identity_pool(
                get_client("cognito-identity"), region, {"UserPool": pool_id, **clients}, created
            )
            role_arn = ensure_lambda_role(site_aws.get_client("iam"), created)
            auth_environment = {"USER_POOL_ID": pool_id, "APP_CLIENT_ID": client_id}
            secret = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"].get(
                "ClientSecret"
            )
            if secret:
                auth_environment["APP_CLIENT_SECRET"] = str(secret)
            functions = ensure_functions(
                site_aws.get_client("lambda"), role_arn, created, {"AuthLambda": auth_environment}
            )
            unauth_role_arn = ensure_unauth_role(
                site_aws.get_client("iam"), identity_pool_id, functions["AuthLambda"], created, region
            )
            ensure_demo_user(idp, pool_id, created)
        finally:
            reset_clients()
            site_aws.reset_clients()
    return Provisioned(
        region, endpoint, pool_id, client_id, identity_pool_id, functions, created, lambda_endpoint, unauth_role_arn
    )


def read_dotenv(path: Path | None = None) -> dict[str, str]:
    path = path or DOTENV  # looked up at call time: tests point DOTENV elsewhere
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def write_dotenv(updates: dict[str, str], path: Path | None = None) -> bool:
    """Merge ``updates`` into the git-ignored ``.env``; returns True when the file changed."""
    path = path or DOTENV
    values = read_dotenv(path)
    merged = {**values, **updates}
    merged.setdefault("TOKEN_ENCRYPTION_KEY", Fernet.generate_key().decode())
    if merged == values:
        return False
    lines = ["# Written by `manage.py localaws up`: the local stand-ins' ids. Real environment variables win."]
    lines += [f"{key}={value}" for key, value in merged.items()]
    path.write_text("\n".join(lines) + "\n")
    return True
