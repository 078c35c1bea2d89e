"""The CloudFormation template ``deploy/cognito.yaml`` read as the local stand-in needs it.

moto cannot deploy Cognito resource types from CloudFormation, so ``stack.provision()`` creates the pool, the app
clients, the groups and the identity pool itself, with the properties this module reads from the template:
``properties("UserPool", parameters, ids)`` resolves the intrinsic functions the template uses (``Ref``,
``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If`` and the condition functions, ``Fn::Join``) with the given parameter values
and the physical ids of resources created so far. Local and real AWS are thereby built from one description.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "cognito.yaml"

_NO_VALUE = object()


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms: ``!Ref x`` is ``{"Ref": x}``, ``!Sub s`` is ``{"Fn::Sub": s}``."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _short_form)


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as stream:
        document: dict[str, Any] = yaml.load(stream, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    return document


class Resolver:
    """Evaluates the template's intrinsic functions for one set of parameter values and resource ids."""

    def __init__(
        self,
        parameters: dict[str, Any],
        ids: dict[str, str],
        *,
        region: str,
        account: str = "123456789012",
        attributes: dict[tuple[str, str], Any] | None = None,
        template: dict[str, Any] | None = None,
    ) -> None:
        self.template = template if template is not None else load()
        declared = self.template.get("Parameters", {})
        unknown = set(parameters) - set(declared)
        if unknown:
            raise KeyError(f"not parameters of the template: {sorted(unknown)}")
        self.values: dict[str, Any] = {}
        for name, spec in declared.items():
            value = parameters.get(name, spec.get("Default"))
            if value is None:
                continue  # a parameter without default: an error only where it is used
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = [item.strip() for item in value.split(",")] if value else []
            self.values[name] = value
        self.values.update(
            {
                "AWS::Region": region,
                "AWS::AccountId": account,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": "localaws",
                "AWS::NoValue": _NO_VALUE,
            }
        )
        self.ids = ids
        self.attributes = attributes or {}
        self.region = region

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's properties with every intrinsic function evaluated (``AWS::NoValue`` dropped)."""
        resource = self.template["Resources"][logical_id]
        resolved: dict[str, Any] = self.resolve(resource.get("Properties", {}))
        return resolved

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), *_ = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Condition":
                return self.condition(value)
            if key.startswith("Fn::"):
                return self._function(key[4:], value)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.ids:
            return self.ids[name]
        raise KeyError(f"Ref {name}: no value (a parameter without default, or a resource not created yet)")

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        kind = self.template["Resources"][logical_id]["Type"]
        if kind == "AWS::Cognito::UserPool" and attribute == "ProviderName":
            return f"cognito-idp.{self.region}.amazonaws.com/{self._ref(logical_id)}"
        raise KeyError(f"Fn::GetAtt {logical_id}.{attribute}: not known locally")

    def _function(self, name: str, value: Any) -> Any:
        if name == "GetAtt":
            return self._get_att(*value)
        if name == "If":
            condition, when_true, when_false = value
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Equals":
            left, right = (self.resolve(v) for v in value)
            return str(left) == str(right)
        if name == "Not":
            return not self.resolve(value[0])
        if name == "And":
            return all(self.resolve(v) for v in value)
        if name == "Or":
            return any(self.resolve(v) for v in value)
        if name == "Join":
            separator, items = value
            return str(separator).join(str(item) for item in self.resolve(items))
        if name == "Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            names = {key: self.resolve(v) for key, v in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                key = match.group(1)
                if key in names:
                    return str(names[key])
                if "." in key:
                    return str(self._get_att(*key.split(".", 1)))
                return str(self._ref(key))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        raise NotImplementedError(f"Fn::{name} is not evaluated locally; keep the Cognito resources simple")


def resources_of(kind: str, template: dict[str, Any] | None = None) -> list[str]:
    """Logical ids of the template's resources of type ``kind``, in the template's order."""
    resources = (template if template is not None else load())["Resources"]
    return [logical_id for logical_id, resource in resources.items() if resource["Type"] == kind]
