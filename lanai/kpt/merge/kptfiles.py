"""Three-way merge of a Kptfile.

A Kptfile is merged like a resource, with its own list keys: pipeline functions are the
same function when they have the same ``name`` (an unnamed one: the same image without
tag, or the same exec), conditions by ``type``, readiness gates by ``conditionType``.
The package's own name and namespace stay local. ``upstream``/``upstreamLock`` are not
merged: the root's are set by the caller afterwards (:func:`set_upstream_lock`); a
subpackage with its own upstream follows the new upstream's, as kpt does.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import kptfile, package, yamlio
from lanai.kpt.merge import three_way
from lanai.kpt.merge.errors import MergeError

_KEEP_LOCAL = ("metadata.name", "metadata.namespace", "upstream", "upstreamLock")
_UPSTREAM_FIELDS = ("upstream", "upstreamLock")


def function_key(item: Any) -> three_way.Identity | None:
    if not isinstance(item, dict):
        return None
    if item.get("name"):
        return ("name", str(item["name"]))
    if item.get("image"):
        return ("image", str(item["image"]).rsplit(":", 1)[0].split("@", 1)[0])
    if item.get("exec"):
        return ("exec", str(item["exec"]))
    return None


def _field_key(name: str) -> three_way.KeyOf:
    def key_of(item: Any) -> three_way.Identity | None:
        if isinstance(item, dict) and item.get(name) is not None:
            return (str(item[name]),)
        return None

    return key_of


class KptfileRules:
    _lists: dict[str, three_way.KeyOf] = {
        "pipeline.mutators": function_key,
        "pipeline.validators": function_key,
        "status.conditions": _field_key("type"),
        "info.readinessGates": _field_key("conditionType"),
    }

    def list_key(self, path: str) -> three_way.KeyOf | None:
        return self._lists.get(path)

    def keep_local(self, path: str) -> bool:
        return path in _KEEP_LOCAL


def _load(content: bytes | None, path: str) -> CommentedMap | None:
    if content is None:
        return None
    try:
        doc = yamlio.load_document(content.decode())
        kptfile.from_mapping(doc, path=path)
    except (yamlio.YamlIOError, kptfile.KptfileError, UnicodeDecodeError) as error:
        raise MergeError(f"{path}: {error}") from error
    return doc


def merge(
    local: bytes | None,
    original: bytes | None,
    updated: bytes | None,
    *,
    path: str = kptfile.KPTFILE,
    follow_upstream: bool = False,
) -> bytes | None:
    """The merged Kptfile text; ``follow_upstream`` copies the new upstream's
    ``upstream``/``upstreamLock`` (for a subpackage with its own upstream)."""
    if local is None:
        return updated
    doc = _load(local, path)
    before = _load(original, path)
    after = _load(updated, path)
    assert doc is not None
    if after is None:
        return local
    merged = three_way.merge(
        doc,
        before if before is not None else three_way.MISSING,
        after,
        KptfileRules(),
    )
    if follow_upstream:
        for name in _UPSTREAM_FIELDS:
            if name in after:
                merged[name] = yamlio.clone(after[name])
    try:
        kptfile.from_mapping(merged, path=path)
    except kptfile.KptfileError as error:
        raise MergeError(f"{path}: the merged Kptfile is not valid: {error}") from error
    style = yamlio.detect_style(local.decode())
    if yamlio.unchanged(local, [merged], style, path):
        return local
    return yamlio.dump_document(merged, style).encode()


def set_upstream_lock(
    tree: package.PackageTree, repo: str, directory: str, ref: str, commit: str
) -> package.PackageTree:
    """A copy of ``tree`` whose root Kptfile points ``upstream`` and ``upstreamLock`` at the
    new upstream (the update strategy already chosen is kept)."""
    content = tree.get(kptfile.KPTFILE)
    if content is None:
        raise MergeError("the package has no root Kptfile")
    doc = _load(content, kptfile.KPTFILE)
    assert doc is not None
    upstream = doc.get("upstream")
    strategy = upstream.get("updateStrategy") if isinstance(upstream, dict) else None
    kptfile.set_upstream(doc, repo, directory, ref, str(strategy or "resource-merge"))
    kptfile.set_upstream_lock(doc, repo, directory, ref, commit)
    style = yamlio.detect_style(content.decode())
    result = dict(tree)
    result[kptfile.KPTFILE] = yamlio.dump_document(doc, style).encode()
    return result
