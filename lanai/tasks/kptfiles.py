"""Small, comment-preserving edits of a package's root Kptfile.

The tasks need only a handful of edits (name, info, upstream, locks, metadata); they
are done on ruamel round-trip documents so comments and key order users wrote survive.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

KPTFILE = "Kptfile"
LOCAL_CONFIG = "config.kubernetes.io/local-config"


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 4096
    return yaml


def load(content: bytes) -> CommentedMap:
    document = _yaml().load(content.decode())
    if not isinstance(document, CommentedMap):
        raise ValueError("the Kptfile is not a YAML mapping")
    return document


def dump(document: CommentedMap) -> bytes:
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    return buffer.getvalue().encode()


def new(name: str, description: str, keywords: list[str], site: str) -> CommentedMap:
    document = CommentedMap()
    document["apiVersion"] = "kpt.dev/v1"
    document["kind"] = "Kptfile"
    document["metadata"] = CommentedMap(name=name, annotations=CommentedMap({LOCAL_CONFIG: "true"}))
    info = CommentedMap()
    if site:
        info["site"] = site
    info["description"] = description
    if keywords:
        info["keywords"] = list(keywords)
    document["info"] = info
    return document


def _child(parent: CommentedMap, key: str) -> CommentedMap:
    value = parent.get(key)
    if not isinstance(value, CommentedMap):
        value = CommentedMap()
        parent[key] = value
    return value


def set_metadata(
    document: CommentedMap,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> None:
    metadata = _child(document, "metadata")
    if labels:
        _child(metadata, "labels").update(labels)
    if annotations:
        _child(metadata, "annotations").update(annotations)


def set_readiness_gates(document: CommentedMap, gates: tuple[str, ...]) -> None:
    if not gates:
        return
    info = _child(document, "info")
    existing = [g.get("conditionType") for g in info.get("readinessGates") or []]
    merged = existing + [g for g in gates if g not in existing]
    info["readinessGates"] = [CommentedMap(conditionType=g) for g in merged]


def set_upstream(document: CommentedMap, git: Mapping[str, Any], commit: str) -> None:
    """Record where the package came from, and the exact commit (clone and upgrade)."""
    upstream = CommentedMap()
    upstream["type"] = "git"
    upstream["git"] = CommentedMap(
        repo=git.get("repo", ""), directory=git.get("directory", ""), ref=git.get("ref", "")
    )
    upstream["updateStrategy"] = document.get("upstream", {}).get(
        "updateStrategy", "resource-merge"
    )
    lock = CommentedMap()
    lock["type"] = "git"
    lock["git"] = CommentedMap(
        repo=git.get("repo", ""),
        directory=git.get("directory", ""),
        ref=git.get("ref", ""),
        commit=commit,
    )
    document["upstream"] = upstream
    document["upstreamLock"] = lock


def rename(document: CommentedMap, name: str) -> None:
    _child(document, "metadata")["name"] = name


def pipeline(document: CommentedMap) -> bool:
    """Whether the Kptfile declares any function to run."""
    steps = document.get("pipeline") or {}
    return bool(steps.get("mutators") or steps.get("validators"))
