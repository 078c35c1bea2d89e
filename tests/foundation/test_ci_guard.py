"""Under CI a skipped, xfailed or xpassed test fails the run; ``.ci/run`` sets ``CI=true`` itself.

Each case runs a real pytest process on a throwaway test file whose conftest is the suite's own guard
(``tests.conftest.pytest_sessionfinish``), and reads its exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

OUTCOMES = {
    "passed": "def test_it():\n    assert True\n",
    "skipped": "import pytest\n\ndef test_it():\n    pytest.skip('redis-server is missing')\n",
    "xfailed": "import pytest\n\n@pytest.mark.xfail(reason='known bug')\ndef test_it():\n    assert False\n",
    "xpassed": "import pytest\n\n@pytest.mark.xfail(reason='known bug')\ndef test_it():\n    assert True\n",
}


def run_pytest(tmp_path: Path, outcome: str, *, ci: str | None, workers: int = 0) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_sessionfinish  # noqa: F401\n")
    (tmp_path / "test_one.py").write_text("def test_passes():\n    assert True\n\n\n" + OUTCOMES[outcome])
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"}}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:django", "-p", "no:cov"]
    command += ["-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), "-n", str(workers), str(tmp_path)]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("outcome", ["skipped", "xfailed", "xpassed"])
def test_under_ci_a_test_that_did_not_simply_pass_fails_the_run(tmp_path: Path, outcome: str) -> None:
    result = run_pytest(tmp_path, outcome, ci="true")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert f"CI: 1 {outcome}" in result.stderr


@pytest.mark.parametrize("outcome", ["skipped", "xfailed", "xpassed"])
def test_outside_ci_the_same_run_passes(tmp_path: Path, outcome: str) -> None:
    result = run_pytest(tmp_path, outcome, ci=None)
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr


@pytest.mark.parametrize(("value", "enabled"), [("true", True), ("1", True), ("", False), ("false", False)])
def test_ci_is_on_for_any_value_but_empty_or_false(monkeypatch: pytest.MonkeyPatch, value: str, enabled: bool) -> None:
    from tests.conftest import ci_enabled

    monkeypatch.setenv("CI", value)
    assert ci_enabled() is enabled


def test_a_clean_run_passes_under_ci(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "passed", ci="true")
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr


def test_under_ci_the_guard_also_holds_with_xdist_workers(tmp_path: Path) -> None:
    # bin/test runs two workers: the controller, which receives every worker's reports, must see the skip.
    result = run_pytest(tmp_path, "skipped", ci="true", workers=2)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr


def test_ci_run_exports_ci_true_before_the_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in script.splitlines()]
    assert "export CI=true" in lines
    assert lines.index("export CI=true") < lines.index("exec bin/test")


# once: pytest runs of its own, no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
