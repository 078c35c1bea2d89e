"""cognito_backend stands alone: an existing site adds it without this project's other apps."""

from __future__ import annotations

import ast
from pathlib import Path

import cognito_backend

FORBIDDEN = {"accounts", "dashboard", "migrations_tools", "localaws", "config"}


def test_cognito_backend_imports_none_of_the_sites_apps() -> None:
    offenders = []
    for path in Path(cognito_backend.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
