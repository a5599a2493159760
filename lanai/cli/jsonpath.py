"""The part of kubectl's JSONPath that ``get -o jsonpath=...`` and ``-o custom-columns=...``
are used with in scripts (porchctl's among them): fields, list indexes, ``[*]`` and
equality filters such as ``.status.conditions[?(@.type=='Ready')].status``.

A template is text with ``{...}`` expressions; each expression selects values from the
object and prints them separated by spaces, as kubectl does. Anything outside that
subset (ranges, functions, recursive descent) is refused with a message naming it
rather than printing a wrong answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_STEP = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-/]+)            # .name
      | \[(?P<index>-?\d+|\*)\]                  # [0], [*]
      | \[\?\(@\.(?P<key>[A-Za-z0-9_.\-/]+)\s*==\s*(?P<quote>['"])(?P<value>.*?)(?P=quote)\)\]
    """,
    re.VERBOSE,
)
_TEMPLATE = re.compile(r"\{([^{}]*)\}")


class Unsupported(ValueError):
    """A JSONPath this subset does not evaluate."""


def _field(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def select(obj: Any, expression: str) -> list[Any]:
    """The values ``expression`` (``.a.b[0]``, without braces) selects from ``obj``."""
    expression = expression.strip()
    if expression.startswith("$"):
        expression = expression[1:]
    if expression in ("", "."):
        return [obj]
    found: list[Any] = [obj]
    position = 0
    while position < len(expression):
        step = _STEP.match(expression, position)
        if step is None:
            raise Unsupported(f"unsupported JSONPath {expression!r} at {expression[position:]!r}")
        position = step.end()
        found = _apply(found, step)
    return found


def _apply(found: list[Any], step: re.Match[str]) -> list[Any]:
    selected: list[Any] = []
    for value in found:
        if step["field"] is not None:
            if isinstance(value, Mapping) and step["field"] in value:
                selected.append(value[step["field"]])
        elif step["index"] is not None:
            if not isinstance(value, list):
                continue
            if step["index"] == "*":
                selected.extend(value)
            elif -len(value) <= int(step["index"]) < len(value):
                selected.append(value[int(step["index"])])
        elif isinstance(value, list):
            selected.extend(
                item for item in value if _text(_field(item, step["key"])) == step["value"]
            )
    return selected


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render(obj: Any, template: str) -> str:
    """``template`` with each ``{expression}`` replaced by what it selects (space-joined)."""
    if "{" not in template:
        template = "{" + template + "}"
    return _TEMPLATE.sub(lambda m: " ".join(_text(v) for v in select(obj, m.group(1))), template)


def column(obj: Any, expression: str) -> str:
    """A custom-columns cell: the selected values comma-joined, ``<none>`` for nothing."""
    inner = expression.strip()
    if inner.startswith("{") and inner.endswith("}"):
        inner = inner[1:-1]
    if not inner.startswith((".", "$", "[")):
        inner = "." + inner
    values = [v for v in select(obj, inner) if v is not None]
    return ",".join(_text(v) for v in values) if values else "<none>"


def columns(spec: str) -> list[tuple[str, str]]:
    """``NAME:.metadata.name,...`` as (header, expression) pairs; a clear error otherwise."""
    pairs = []
    for part in _split_columns(spec):
        header, colon, expression = part.partition(":")
        if not colon or not header or not expression:
            raise Unsupported(
                f"custom-columns {part!r}: expected HEADER:JSONPATH, e.g. NAME:.metadata.name"
            )
        column({}, expression)  # refuses what this subset cannot evaluate
        pairs.append((header, expression))
    return pairs


def _split_columns(spec: str) -> list[str]:
    """Split at commas outside brackets (a filter may hold one in its quoted value)."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(spec):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(spec[start:position])
            start = position + 1
    parts.append(spec[start:])
    return [part for part in parts if part]
