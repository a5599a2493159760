"""apply-setters: fill in fields marked with ``# kpt-set: <pattern>`` line comments.

Setters keep a package valid YAML while still parameterised: the value stays in place
and the comment says how to recompute it. A pattern is a scalar with ``${name}``
references (partial substitution, ``nginx:${tag}``); a field holding a list may only be
set by a whole ``${name}``, whose value is a YAML list written as a string (ConfigMap
values are strings). A referenced setter without a value is an error here, so a
half-configured package fails the render instead of shipping stale values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from lanai.functions.builtin import krm

MARKER = "kpt-set:"
_REFERENCE = re.compile(r"\$\{([^}]+)\}")
_WHOLE = re.compile(r"^\$\{([^}]+)\}$")


@dataclass
class _Run:
    values: dict[str, str]
    resource: CommentedMap
    changed: list[tuple[str, Any]] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_config(config: CommentedMap | None) -> dict[str, str]:
    if config is None:
        return {}
    # The catalog also accepts an ApplySetters kind with the same `data` map.
    if not (krm.is_kind(config, "ConfigMap", "") or krm.is_kind(config, "ApplySetters")):
        raise krm.fail(f"unsupported functionConfig kind {krm.kind(config)!r}, expect `ConfigMap`")
    return krm.config_map_data(config)


def run(resource_list: CommentedMap) -> None:
    values = read_config(krm.function_config(resource_list))
    missing: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    changed = 0
    for resource in krm.items(resource_list):
        state = _Run(values=values, resource=resource)
        _walk(resource, [], state)
        for path, value in state.changed:
            shown = value if isinstance(value, str) else _flow(value)
            krm.add_result(
                resource_list,
                f"set field value to {shown!r}",
                resource=resource,
                field={"path": path, "proposedValue": value},
            )
        changed += len(state.changed)
        for path, setter in state.missing:
            result = krm.add_result(
                resource_list,
                f"setter {setter!r} has no value (field {path})",
                "error",
                resource=resource,
                field={"path": path},
            )
            missing.append(result)
        for message in state.errors:
            errors.append(krm.add_result(resource_list, message, "error", resource=resource))
    if missing:
        names = sorted({r["message"].split("'")[1] for r in missing})
        raise krm.fail("values are missing for setter(s): " + ", ".join(names), missing + errors)
    if errors:
        raise krm.fail(errors[0]["message"], errors)
    if not changed:
        krm.add_result(resource_list, "no matches for input setter(s)")


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _walk(node: Any, path: list[str], state: _Run) -> None:
    if isinstance(node, dict):
        for key in list(node.keys()):
            child_path = [*path, str(key)]
            _apply(node, key, child_path, state)
            _walk(node[key], child_path, state)
    elif isinstance(node, list):
        for index in range(len(node)):
            child_path = [*path[:-1], f"{path[-1]}[{index}]"] if path else [f"[{index}]"]
            _apply(node, index, child_path, state)
            _walk(node[index], child_path, state)


def _apply(parent: Any, key: Any, path: list[str], state: _Run) -> None:
    comment = krm.line_comment(parent, key)
    if comment is None or not comment.startswith(MARKER):
        return
    pattern = comment[len(MARKER) :].strip()
    names = _REFERENCE.findall(pattern)
    if not names:
        return
    dotted = ".".join(path)
    absent = [n for n in names if n not in state.values]
    if absent:
        state.missing.extend((dotted, n) for n in absent)
        return
    current = parent[key]
    whole = _WHOLE.match(pattern)
    if isinstance(current, list):
        if whole is None:
            state.errors.append(f"field {dotted} is a list: its setter must be a whole ${{name}}")
            return
        items = _parse_list(state.values[whole.group(1)])
        if items is None:
            state.errors.append(
                f"setter {whole.group(1)!r} must be a YAML list to set list field {dotted}"
            )
            return
        if list(current) != items:
            _replace_list(current, items)
            state.changed.append((dotted, list(items)))
        return
    if isinstance(current, dict):
        state.errors.append(f"field {dotted} is a map and cannot be set by a setter")
        return
    text = _REFERENCE.sub(lambda m: state.values[m.group(1)], pattern)
    new = krm.coerce_like(current, text)
    if new != current or type(new) is not type(current):
        parent[key] = new
        state.changed.append((dotted, text))


def _parse_list(text: str) -> list[Any] | None:
    try:
        value = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return None
    if value is None:
        return []
    if not isinstance(value, list):
        return None
    return value


def _replace_list(current: list[Any], items: list[Any]) -> None:
    """Replace the elements in place so the key's comment and the list style survive."""
    del current[:]
    if isinstance(current, CommentedSeq):
        current.ca.items.clear()
    current.extend(items)
