"""What ``get`` prints: kubectl's table, or the objects as YAML, JSON or names.

People read ``get`` next to ``kubectl get`` output, and scripts parse it like kubectl's,
so the layout is kubectl's: upper-case headers, left-aligned columns three spaces apart,
``NAMESPACE`` first with ``-A``; ``-o yaml|json`` print the object (a ``List`` for
several) without ``managedFields``; ``-o name`` prints ``kind.group/name``;
``-o custom-columns=H:PATH,...`` and ``-o jsonpath=TEMPLATE`` as kubectl's (the latter once
per object, each on its line, as porchctl prints it).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from ruamel.yaml import YAML

from lanai.cli import jsonpath, kube

FORMATS = ("yaml", "json", "name")
TEMPLATED = ("custom-columns=", "jsonpath=")
GAP = "   "


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Mapping[str, Any]], str]


def field(obj: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``spec.git.repo``), or ``None``."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def text(value: Any) -> str:
    """A cell: booleans as kubectl prints them, nothing for a missing value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def layout(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell; no trailing blanks."""
    table = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append(GAP.join(cells).rstrip())
    return "\n".join(lines) + "\n"


def render(
    columns: Sequence[Column], objects: Iterable[Mapping[str, Any]], *, namespaces: bool = False
) -> str:
    headers = [c.header for c in columns]
    rows = []
    for obj in objects:
        row = [c.value(obj) for c in columns]
        if namespaces:
            row.insert(0, text(field(obj, "metadata.namespace")))
        rows.append(row)
    if namespaces:
        headers.insert(0, "NAMESPACE")
    return layout(headers, rows)


def output_format(value: str) -> str:
    """``-o``'s value checked: a format name, or a template kubectl's way."""
    if value in FORMATS:
        return value
    if value.startswith("custom-columns="):
        jsonpath.columns(value.removeprefix("custom-columns="))
        return value
    if value.startswith("jsonpath="):
        jsonpath.render({}, value.removeprefix("jsonpath="))
        return value
    raise ValueError(value)


def _templated(objects: Sequence[Mapping[str, Any]], output: str, out: TextIO) -> None:
    if output.startswith("jsonpath="):
        for obj in objects:
            print(jsonpath.render(obj, output.removeprefix("jsonpath=")), file=out)
        return
    pairs = jsonpath.columns(output.removeprefix("custom-columns="))
    rows = ([jsonpath.column(obj, path) for _, path in pairs] for obj in objects)
    out.write(layout([header for header, _ in pairs], rows))


def _shown(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as ``kubectl get -o yaml`` shows it (no managedFields)."""
    shown = dict(obj)
    metadata = dict(shown.get("metadata") or {})
    metadata.pop("managedFields", None)
    shown["metadata"] = metadata
    return shown


def dump_yaml(document: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def emit(
    objects: Sequence[Mapping[str, Any]],
    output: str | None,
    *,
    resource: kube.Resource,
    columns: Sequence[Column],
    single: bool = False,
    namespaces: bool = False,
    out: TextIO,
) -> None:
    """Print ``objects`` in the ``-o`` format (a table when ``output`` is empty)."""
    if output == "name":
        for obj in objects:
            print(resource.reference(text(field(obj, "metadata.name"))), file=out)
        return
    if output and output.startswith(TEMPLATED):
        _templated(objects, output, out)
        return
    if output in ("yaml", "json"):
        shown = [_shown(obj) for obj in objects]
        document: Any = (
            shown[0]
            if single and len(shown) == 1
            else {"apiVersion": "v1", "kind": "List", "items": shown, "metadata": {}}
        )
        if output == "json":
            print(json.dumps(document, indent=4), file=out)
        else:
            out.write(dump_yaml(document))
        return
    out.write(render(columns, objects, namespaces=namespaces))
