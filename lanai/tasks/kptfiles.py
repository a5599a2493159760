"""The Kptfile edits the tasks make, on top of :mod:`lanai.kpt.kptfile`.

Edits are done on ruamel round-trip documents so the comments and key order users
wrote survive; the generic edits (labels, upstream, locks, gates) live in lanai.kpt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import kptfile, yamlio

KPTFILE = kptfile.KPTFILE


def load(content: bytes) -> CommentedMap:
    try:
        return yamlio.load_document(content.decode())
    except yamlio.YamlIOError as error:
        raise ValueError(f"{KPTFILE}: {error}") from error


def dump(document: CommentedMap) -> bytes:
    return yamlio.dump_document(document).encode()


def new(name: str, description: str, keywords: list[str], site: str) -> CommentedMap:
    document = CommentedMap()
    document["apiVersion"] = kptfile.API_VERSION
    document["kind"] = kptfile.KIND
    document["metadata"] = CommentedMap(name=name)
    kptfile.set_annotation(document, "config.kubernetes.io/local-config", "true")
    info = CommentedMap()
    if site:
        info["site"] = site
    info["description"] = description
    if keywords:
        info["keywords"] = list(keywords)
    document["info"] = info
    return document


def set_metadata(
    document: CommentedMap,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    *,
    exact: bool = False,
) -> None:
    """Set these labels and annotations; ``exact``: also remove the labels and (user)
    annotations not among them."""
    if exact:
        for key in kptfile.labels(document):
            if key not in labels:
                kptfile.remove_label(document, key)
        for key in kptfile.user_annotations(document):
            if key not in annotations:
                kptfile.remove_annotation(document, key)
    for key, value in labels.items():
        kptfile.set_label(document, key, value)
    for key, value in annotations.items():
        kptfile.set_annotation(document, key, value)


def set_upstream(document: CommentedMap, git: Mapping[str, Any], commit: str) -> None:
    """Record where the package came from, and the exact commit (clone and upgrade)."""
    repo, directory, ref = (str(git.get(k, "")) for k in ("repo", "directory", "ref"))
    # As Porch records a clone: "basens", not "/basens" (porchctl rpkg upgrade matches
    # upstreams on it); the repository's root stays "/".
    directory = directory.strip("/") or ("/" if directory else "")
    upstream = document.get("upstream")
    strategy = upstream.get("updateStrategy") if isinstance(upstream, dict) else None
    kptfile.set_upstream(document, repo, directory, ref, str(strategy or "resource-merge"))
    kptfile.set_upstream_lock(document, repo, directory, ref, commit)


KPTFILE_IDENTITY = "internal.kpt.dev/upstream-identifier"


def rename(document: CommentedMap, name: str) -> None:
    metadata = document.get("metadata")
    if not isinstance(metadata, CommentedMap):
        metadata = CommentedMap()
        document["metadata"] = metadata
    metadata["name"] = name


def mark_cloned(document: CommentedMap, name: str) -> None:
    """The merge identity kpt gives a cloned package's Kptfile (as it gives every
    resource): group|Kind|namespace|name of the new package."""
    kptfile.set_annotation(document, KPTFILE_IDENTITY, f"kpt.dev|Kptfile|default|{name}")


def pipeline(document: CommentedMap) -> bool:
    """Whether the Kptfile declares any function to run."""
    steps = document.get("pipeline") or {}
    return bool(steps.get("mutators") or steps.get("validators"))
