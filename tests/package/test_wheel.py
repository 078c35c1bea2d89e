"""django-cognito-backend as a site installs it: the built wheel, alone, in a fresh virtual environment.

Builds the wheel and the sdist from a copy of the package's own files (so nothing else of the repository can
leak in), checks their metadata with ``twine check --strict``, installs the wheel with only its declared
dependencies (and the ``drf`` extra) into a new venv, and runs the minimal site in ``tests/package/minisite``
from there: ``check``, ``migrate``, then a real server (``runserver``) that verifies a moto token at a DRF view,
maps the user, and refuses the token after a revocation made by another process (``manage.py shell``).
moto stands in for Cognito (its tokens are real RS256 JWTs with keys served at the JWKS URL).

Slow (a venv and a pip install): marked ``package`` and run once per suite, not per database (bin/test).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_for_port

pytestmark = pytest.mark.package

MINISITE = Path(__file__).resolve().parent / "minisite"
PACKAGE_FILES = ["pyproject.toml", "MANIFEST.in", "CHANGELOG.md", "cognito_backend"]


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in PACKAGE_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend pinned in requirements/dev.txt, no download per build.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)], cwd=source)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(target)], cwd=target)
    (wheel,) = dist.glob("*.whl")
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, f"{wheel}[drf]"], cwd=target, timeout=900)
    return target


def test_wheel_and_sdist_carry_the_packages_metadata_and_nothing_of_the_site(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    _run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], cwd=dist)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    assert metadata["Name"] == "django-cognito-backend"
    assert {name.split("/")[0] for name in names} == {"cognito_backend", f"{wheel.name.split('-py3')[0]}.dist-info"}
    assert "cognito_backend/py.typed" in names
    assert "cognito_backend/migrations/0001_initial.py" in names
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"drf", "redis", "srp"} <= extras
    requires = " ".join(metadata.get_all("Requires-Dist") or [])
    for dependency in ("Django", "boto3", "requests", "cryptography"):
        assert dependency in requires
    assert "djangorestframework" in requires and 'extra == "drf"' in requires
    assert "Install" in (metadata.get_payload() or "")  # the package README is the long description


def test_the_minimal_site_runs_on_the_installed_wheel_alone(
    venv: Path, tmp_path: Path, cognito_user: Any, user_pool: Any, aws: str
) -> None:
    python = str(venv / "bin" / "python")
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MINISITE_DB": str(tmp_path / "site.sqlite3"),
        "MINISITE_COGNITO": json.dumps(
            {
                "REGION": "us-east-1",
                "USER_POOL_ID": user_pool.pool_id,
                "APP_CLIENT_ID": user_pool.client_id,
                "JWKS_URL": user_pool.jwks_url,
            }
        ),
        "MINISITE_COGNITO_AWS": json.dumps({"ENDPOINT_URL": aws, "MAX_ATTEMPTS": 1}),
    }
    # The package comes from the venv, never from this repository (cwd is the minimal site, no PYTHONPATH).
    where = _run([python, "-c", "import cognito_backend; print(cognito_backend.__file__)"], cwd=MINISITE, env=env)
    assert str(venv) in where
    _run([python, "-m", "pip", "check"], cwd=MINISITE, env=env)
    _run([python, "manage.py", "check", "--fail-level", "WARNING"], cwd=MINISITE, env=env)
    _run([python, "manage.py", "migrate", "-v", "0"], cwd=MINISITE, env=env)

    port = free_port()
    server = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
        cwd=MINISITE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, timeout=60)
        url = f"http://127.0.0.1:{port}/api/whoami/"
        bearer = {"Authorization": f"Bearer {cognito_user.tokens.access_token}"}

        anonymous = requests.get(url, timeout=30)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")

        answer = requests.get(url, headers=bearer, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["sub"] == cognito_user.sub
        assert isinstance(answer.json()["id"], int)
        assert requests.get(f"http://127.0.0.1:{port}/api/auth/me/", headers=bearer, timeout=30).status_code == 200

        # Another process of the site revokes the user's tokens; the server honours it at once.
        revoke = f"from cognito_backend.revocation import revoke_user_tokens; revoke_user_tokens({cognito_user.sub!r})"
        _run([python, "manage.py", "shell", "-c", revoke], cwd=MINISITE, env=env)
        # Another process's revocation is seen within COGNITO['REVOCATION_MEMO_SECONDS'] (5 s by default).
        deadline = time.monotonic() + 30
        refused = requests.get(url, headers=bearer, timeout=30)
        while refused.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            refused = requests.get(url, headers=bearer, timeout=30)
        assert refused.status_code == 401
        assert refused.json()["code"] == "token_revoked"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert "Traceback" not in (server.stderr.read() if server.stderr else "")


def test_the_minimal_site_does_not_see_this_repository() -> None:
    # The package's own test subset also runs with these settings (bin/test): nothing there may need the site.
    settings = (MINISITE / "minisite" / "settings.py").read_text()
    for site_module in ("config", "accounts", "dashboard", "migrations_tools", "localaws"):
        assert f'"{site_module}' not in settings
    assert os.path.isfile(MINISITE / "manage.py")
