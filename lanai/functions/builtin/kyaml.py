"""How the catalog's kyaml-based functions write values and report results.

set-annotations, search-replace, apply-setters and ensure-name-substring are built on
kustomize's kyaml rather than the functions SDK, and kyaml has its own habits that show
in the output: a value set on an existing field takes over that field's quoting, a new
string that YAML 1.1 would read as something else (``yes``, ``0755``, ``a: b``) is
double-quoted, and results come from the kyaml framework (no severity unless given,
``file.index`` left out when 0, sorted by file, index, severity, then field). Writing
these rules once keeps each builtin a description of its own logic.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from lanai.functions.builtin import sdk

PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")

_YAML11_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
                          r"|on|On|ON|off|Off|OFF)$")  # fmt: skip
_YAML11_NULL = re.compile(r"^(?:~|null|Null|NULL)$")
_YAML11_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$")


@functools.lru_cache(maxsize=4096)
def yaml11_non_string(value: str) -> bool:
    """kyaml's IsValueNonString: YAML 1.1 would not read ``value`` as a string."""
    if value == "" or "\n" in value:
        return False
    if _YAML11_BOOL.match(value) or _YAML11_NULL.match(value):
        return True
    if value in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                 ".nan", ".NaN", ".NAN"):  # fmt: skip
        return True
    plain = value.replace("_", "")
    if value[0] in "+-0123456789" and (_GO_INT.match(plain) or _YAML11_FLOAT.match(plain)):
        return True
    if not any(c in value for c in ":#[]{}-&*!|>'\"%@`,?"):
        return False
    try:
        loaded = YAML(typ="safe", pure=True).load(value)
    except (YAMLError, ValueError):
        return False
    return loaded is None or isinstance(loaded, dict | list)


def new_string(value: str) -> str:
    """A new string node as kyaml builds it and yaml.v3 writes it."""
    styled: str = sdk.go_string(value)
    if "\n" not in value and yaml11_non_string(value):
        styled = DoubleQuotedScalarString(value)
    return styled


def restyled(old: Any, value: str) -> str:
    """``value`` replacing ``old`` through kyaml's FieldSetter: it keeps ``old``'s style."""
    for style in _STYLES:
        if isinstance(old, style):
            styled: str = style(value)
            return styled
    return sdk.go_string(value)


_STYLES = (
    SingleQuotedScalarString,
    DoubleQuotedScalarString,
    LiteralScalarString,
    FoldedScalarString,
)


# -- results -----------------------------------------------------------------------------


def file_annotations(resource: Any) -> tuple[str, str]:
    """(path, index) as kioutil.GetFileAnnotations reads them: new names, then legacy."""
    meta = resource.get("metadata") if isinstance(resource, dict) else None
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    notes = notes if isinstance(notes, dict) else {}

    def first(keys: Sequence[str]) -> str:
        for key in keys:
            if key in notes:
                return sdk.scalar_text(notes[key])
        return ""

    return first(PATH_ANNOTATIONS), first(INDEX_ANNOTATIONS)


def go_atoi(text: str) -> int:
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else 0


def result(
    message: str,
    severity: str = "",
    *,
    resource_ref: dict[str, Any] | None = None,
    field: dict[str, Any] | None = None,
    path: str = "",
    index: int = 0,
    file: bool = False,
) -> dict[str, Any]:
    """A kyaml framework result: empty parts left out, as Go's ``omitempty`` does."""
    found: dict[str, Any] = {"message": message}
    if severity:
        found["severity"] = severity
    if resource_ref:
        found["resourceRef"] = resource_ref
    if field is not None:
        found["field"] = field
    if file:
        where: dict[str, Any] = {}
        if path:
            where["path"] = path
        if index:
            where["index"] = index
        found["file"] = where
    return found


_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def sort_results(results: list[dict[str, Any]]) -> None:
    """kyaml's Results.Sort: by file path, file index, severity, then the field path."""

    def key(item: dict[str, Any]) -> tuple[str, int, int, str, str]:
        where = item.get("file") or {}
        field = item.get("field") or {}
        return (
            str(where.get("path", "")),
            int(where.get("index", 0)),
            _SEVERITY_RANK.get(str(item.get("severity", "")), 3),
            str(field.get("path", "")) if item.get("field") is not None else "",
            str(item.get("message", "")),
        )

    results.sort(key=key)


def results_text(results: Sequence[dict[str, Any]]) -> str:
    """kyaml's Results.Error(): each result as ``[severity] ref field: message``."""
    return "\n\n".join(result_line(r) for r in results)


def result_line(item: dict[str, Any]) -> str:
    ref = item.get("resourceRef") or {}
    ident = "/".join(str(ref[k]) for k in ("apiVersion", "kind", "namespace", "name") if ref.get(k))
    text = f"[{item.get('severity') or 'info'}]"
    if ident:
        text += f" {ident}"
    if item.get("field") is not None:
        text += f" {(item.get('field') or {}).get('path', '')}"
    return f"{text}: {item.get('message', '')}"
