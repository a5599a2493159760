"""Small packages for upgrade tests."""

from __future__ import annotations

from typing import Any

from lanai.kpt import package, yamlio


def kptfile(name: str = "pkg", extra: str = "") -> bytes:
    return f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n{extra}".encode()


def configmap(name: str, data: dict[str, str], namespace: str = "", comment: str = "") -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", f"metadata:{comment}", f"  name: {name}"]
    if namespace:
        lines.append(f"  namespace: {namespace}")
    lines.append("data:")
    lines += [f'  {k}: "{v}"' for k, v in data.items()]
    return "\n".join(lines) + "\n"


def tree(**files: str | bytes) -> package.PackageTree:
    """Paths use ``__`` for ``/`` and ``_`` before the suffix dot is kept as is."""
    found: package.PackageTree = {"Kptfile": kptfile()}
    for name, content in files.items():
        path = name.replace("__", "/")
        found[path] = content.encode() if isinstance(content, str) else content
    return found


def docs(content: bytes, name: str = "x.yaml") -> list[Any]:
    loaded, _ = yamlio.load_file(name, content)
    return [yamlio.to_plain(d) for d in loaded]


def strip_identity(doc: Any) -> Any:
    """``doc`` without the merge annotation upgrade adds (and an emptied annotations map)."""
    metadata = doc.get("metadata", {})
    annotations = metadata.get("annotations", {})
    annotations.pop("internal.kpt.dev/upstream-identifier", None)
    if not annotations:
        metadata.pop("annotations", None)
    return doc
