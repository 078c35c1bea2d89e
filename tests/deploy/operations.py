"""Which AWS operations the project's code can call, found by reading its source (no code runs).

The code reaches AWS in three ways: ``idp.call("<operation>", ...)`` (Cognito user pools), ``idp.call_service(
"<service>", "<operation>", ...)``, and methods of a boto3 client it got from a client factory
(``get_client("<service>")``, ``session.client("<service>")``, or a function of its own that returns one, like
``dashboard.aws.server_client``), also when the client is handed to another function as an argument. Every call
whose operation is not a literal is reported as unresolved, so a new dynamic call cannot slip past the check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
# Not the server's code: tests and benchmarks, the local stand-ins' provisioning, the Lambda functions (they run
# under their own execution role) and third-party trees.
EXCLUDED = {"tests", "bench", "localaws", "lambdas", "node_modules", "build", "dist", "test-artefacts", "templates"}
SERVICES = ("cognito-idp", "cognito-identity", "lambda", "iam", "sts", "kms", "ses", "sns", "secretsmanager")


# The service of ``get_client(service)`` when ``service`` is not a literal: any operation called on it is unresolved.
ANY_SERVICE = "*"


@cache
def _api_names(service: str) -> dict[str, str]:
    """``service``'s API operation names by the snake_case name of the boto3 client's method."""
    if service == ANY_SERVICE:
        return {}
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): str(name) for name in model.operation_names}


def operations_of(service: str) -> frozenset[str]:
    return frozenset(_api_names(service))


def api_name(service: str, method: str) -> str:
    return _api_names(service)[method]


@dataclass
class Scan:
    operations: set[tuple[str, str]] = field(default_factory=set)  # (service, snake_case operation)
    unresolved: set[str] = field(default_factory=set)  # "path:function" where an operation is not a literal
    auth_flows: set[str] = field(default_factory=set)  # AuthFlow="..." of InitiateAuth calls


def python_files(root: Path = ROOT) -> Iterator[Path]:
    for top in sorted(root.iterdir()):
        if top.name in EXCLUDED or top.name.startswith("."):
            continue
        candidates = [top] if top.is_file() else sorted(top.rglob("*.py"))
        for path in candidates:
            if path.suffix == ".py" and not any(p.startswith(".") for p in path.relative_to(root).parts[:-1]):
                yield path


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _client_service(call: ast.Call, producers: dict[str, str]) -> str | None:
    """The service of the client this call returns, if it returns one."""
    name = _name(call.func)
    if name in {"get_client", "client"} and call.args:
        service = _literal(call.args[0])
        if service is None and name == "get_client":
            return ANY_SERVICE
        return service if service in SERVICES else None
    return producers.get(name)


@dataclass
class _Function:
    """A function (or a module's top level) and its own nodes, outside the functions defined in it."""

    label: str
    name: str
    nodes: list[ast.AST]

    def client_variables(self, producers: dict[str, str]) -> dict[str, str]:
        variables: dict[str, str] = {}
        for node in self.nodes:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                service = _client_service(node.value, producers)
                if service:
                    variables.update({t.id: service for t in node.targets if isinstance(t, ast.Name)})
        return variables

    def returned_service(self, producers: dict[str, str]) -> str | None:
        variables = self.client_variables(producers)
        for node in self.nodes:
            if isinstance(node, ast.Return) and node.value is not None:
                value = node.value
                if isinstance(value, ast.Name) and value.id in variables:
                    return variables[value.id]
                if isinstance(value, ast.Call) and _client_service(value, producers):
                    return _client_service(value, producers)
        return None


def _own_nodes(function: ast.AST) -> list[ast.AST]:
    nodes = []
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        nodes.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(ast.iter_child_nodes(node))
    return nodes


def _index(where: str, tree: ast.Module) -> list[_Function]:
    functions = [_Function(f"{where}:<module>", "<module>", _own_nodes(tree))]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append(_Function(f"{where}:{node.name}", node.name, _own_nodes(node)))
    return functions


def _producers(functions: Iterable[_Function]) -> dict[str, str]:
    """Functions of the project that return a boto3 client, by name, with its service (to a fixed point)."""
    candidates = [f for f in functions if any(isinstance(n, ast.Return) for n in f.nodes)]
    producers: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for function in candidates:
            if function.name not in producers:
                service = function.returned_service(producers)
                if service:
                    producers[function.name] = service
                    changed = True
    return producers


@dataclass
class _Module:
    services: set[str]  # services this module gets clients of (directly or through a function returning one)
    imported: set[str]  # names bound by imports: ``services.invoke()`` is not a client's method
    project_services: set[str] = field(default_factory=set)  # services any module of the project gets clients of


def _module(functions: list[_Function], producers: dict[str, str]) -> _Module:
    services: set[str] = set()
    imported: set[str] = set()
    for function in functions:
        for node in function.nodes:
            if isinstance(node, ast.Call):
                service = _client_service(node, producers)
                if service and service != ANY_SERVICE:
                    services.add(service)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                imported.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return _Module(services, imported)


def _scan_call(
    node: ast.Call, variables: dict[str, str], producers: dict[str, str], module: _Module, label: str, result: Scan
) -> None:
    for keyword in node.keywords:
        if keyword.arg == "AuthFlow" and _literal(keyword.value):
            result.auth_flows.add(str(_literal(keyword.value)))
    name = _name(node.func)
    if name == "call" and (isinstance(node.func, ast.Name) or _name(getattr(node.func, "value", node)) == "idp"):
        operation = _literal(node.args[0]) if node.args else None
        if operation is None:
            result.unresolved.add(label)
        elif operation in operations_of("cognito-idp"):
            result.operations.add(("cognito-idp", operation))
        else:
            result.unresolved.add(f"{label} ({operation})")
    elif name == "call_service":
        service = _literal(node.args[0]) if node.args else None
        operation = _literal(node.args[1]) if len(node.args) > 1 else None
        if service is None or operation is None:
            result.unresolved.add(label)
        else:
            result.operations.add((service, operation))
    elif name == "getattr" and len(node.args) > 1 and _name(node.args[0]) in variables:
        operation = _literal(node.args[1])
        if operation is None or variables[_name(node.args[0])] == ANY_SERVICE:
            result.unresolved.add(label)
        elif operation in operations_of(variables[_name(node.args[0])]):
            result.operations.add((variables[_name(node.args[0])], operation))
    elif isinstance(node.func, ast.Attribute):
        owner = node.func.value
        service = None
        if isinstance(owner, ast.Name):
            service = variables.get(owner.id)
        elif isinstance(owner, ast.Call):
            service = _client_service(owner, producers)
        if service and node.func.attr in operations_of(service):
            result.operations.add((service, node.func.attr))
        elif service is None and isinstance(owner, ast.Name) and owner.id not in module.imported:
            # A client handed in as an argument: any service this module gets clients of, or, in a module that
            # gets none, any service the project gets clients of when the name says it is a client.
            looks_like_a_client = owner.id == "client" or owner.id.endswith("_client")
            for candidate in module.services or (module.project_services if looks_like_a_client else set()):
                if node.func.attr in operations_of(candidate):
                    result.operations.add((candidate, node.func.attr))


@cache
def scan(root: Path = ROOT) -> Scan:
    modules = {
        path: _index(path.relative_to(root).as_posix(), ast.parse(path.read_text(), str(path)))
        for path in python_files(root)
    }
    producers = _producers([f for functions in modules.values() for f in functions])
    result = Scan()
    per_module = [(functions, _module(functions, producers)) for functions in modules.values()]
    project_services = {service for _, module in per_module for service in module.services}
    for functions, module in per_module:
        module.project_services = project_services
        for function in functions:
            variables = function.client_variables(producers)
            for node in function.nodes:
                if isinstance(node, ast.Call):
                    _scan_call(node, variables, producers, module, function.label, result)
    return result
