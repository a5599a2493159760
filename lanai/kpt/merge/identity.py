"""Which resource is which across the three versions of a package.

A resource is known by group, kind, namespace and name. A downstream package may rename
or re-namespace what it cloned, so clone and upgrade record the upstream identity twice:
a ``# kpt-merge: <namespace>/<name>`` line comment on ``metadata:`` (kpt's original
mark) and the ``internal.kpt.dev/upstream-identifier: group|Kind|namespace|name``
annotation (its successor). Matching reads the comment first, then the annotation, then
the metadata. An empty namespace and ``default`` are the same for matching, because the
annotation writes an empty namespace as ``default``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import kptfile
from lanai.kpt.merge import schema

UPSTREAM_IDENTIFIER = "internal.kpt.dev/upstream-identifier"
MERGE_COMMENT_PREFIX = "kpt-merge:"
DEFAULT_NAMESPACE = "default"
_NO_NAMESPACE = ("", DEFAULT_NAMESPACE, "~C", "~X")


@dataclass(frozen=True, order=True)
class ResourceId:
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.group}|{self.kind}|{self.namespace or DEFAULT_NAMESPACE}|{self.name}"


def _metadata(doc: CommentedMap) -> Any:
    metadata = doc.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def merge_comment(doc: CommentedMap) -> tuple[str, str] | None:
    """``(namespace, name)`` from a ``# kpt-merge: ns/name`` comment on ``metadata:``."""
    tokens = doc.ca.items.get("metadata") if hasattr(doc, "ca") else None
    if not tokens or len(tokens) < 3 or tokens[2] is None:
        metadata = doc.get("metadata")
        comment = getattr(metadata, "ca", None)
        token = comment.comment[0] if comment is not None and comment.comment else None
    else:
        token = tokens[2]
    if token is None:
        return None
    text = str(getattr(token, "value", "")).strip().lstrip("#").strip()
    if not text.startswith(MERGE_COMMENT_PREFIX):
        return None
    namespace, slash, name = text[len(MERGE_COMMENT_PREFIX) :].strip().partition("/")
    if not slash:
        return None
    return namespace, name.split()[0] if name.split() else ""


def upstream_identifier(doc: CommentedMap) -> ResourceId | None:
    value = kptfile.annotation(doc, UPSTREAM_IDENTIFIER)
    if value is None:
        return None
    parts = value.split("|")
    if len(parts) != 4:
        return None
    group, kind, namespace, name = parts
    return ResourceId(group, kind, _namespace(namespace), name)


def _namespace(namespace: str) -> str:
    return "" if namespace in _NO_NAMESPACE else namespace


def identity(doc: CommentedMap) -> ResourceId:
    """The identity a resource had upstream (comment, else annotation, else metadata)."""
    group = schema.group_of(str(doc.get("apiVersion") or ""))
    kind = str(doc.get("kind") or "")
    comment = merge_comment(doc)
    if comment is not None:
        return ResourceId(group, kind, _namespace(comment[0]), comment[1])
    annotated = upstream_identifier(doc)
    if annotated is not None and annotated.kind == kind and annotated.group == group:
        return annotated
    metadata = _metadata(doc)
    return ResourceId(
        group,
        kind,
        _namespace(str(metadata.get("namespace") or "")),
        str(metadata.get("name") or ""),
    )


def annotate(doc: CommentedMap) -> bool:
    """Record the resource's upstream identity (comment and annotation) where missing;
    whether anything was added."""
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        return False
    if not metadata.get("name") and not metadata.get("namespace") and not metadata.get("labels"):
        return False
    found = identity(doc)
    added = False
    if merge_comment(doc) is None:
        namespace = found.namespace
        if upstream_identifier(doc) is None:
            namespace = str(metadata.get("namespace") or "")
        doc.yaml_add_eol_comment(
            f"# {MERGE_COMMENT_PREFIX} {namespace}/{found.name}", "metadata", column=10
        )
        added = True
    if kptfile.annotation(doc, UPSTREAM_IDENTIFIER) is None:
        kptfile.set_annotation(doc, UPSTREAM_IDENTIFIER, str(found))
        added = True
    return added
