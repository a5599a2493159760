"""The four kpt update strategies over in-memory package trees.

Each takes the original upstream, the new upstream and the local package and returns
the new local package; nothing is written. The root Kptfile is always merged three-way
(the local package keeps its name; the caller moves ``upstream``/``upstreamLock``).
Afterwards every resource carries its merge identity, as kpt leaves it after an update.
"""

from __future__ import annotations

from lanai.kpt import kptfile, package, yamlio
from lanai.kpt.merge import diff, identity, kptfiles, resources, tree
from lanai.kpt.merge.errors import MergeError

RESOURCE_MERGE = "resource-merge"
FAST_FORWARD = "fast-forward"
FORCE_DELETE_REPLACE = "force-delete-replace"
COPY_MERGE = "copy-merge"
STRATEGIES = (RESOURCE_MERGE, FAST_FORWARD, FORCE_DELETE_REPLACE, COPY_MERGE)


def _root_kptfile(
    original: package.PackageTree, updated: package.PackageTree, local: package.PackageTree
) -> bytes:
    merged = kptfiles.merge(
        local.get(kptfile.KPTFILE), original.get(kptfile.KPTFILE), updated.get(kptfile.KPTFILE)
    )
    assert merged is not None
    return merged


def force_delete_replace(
    original: package.PackageTree, updated: package.PackageTree, local: package.PackageTree
) -> package.PackageTree:
    """Everything from the new upstream; only the root Kptfile is merged."""
    result = {path: content for path, content in updated.items() if path != kptfile.KPTFILE}
    result[kptfile.KPTFILE] = _root_kptfile(original, updated, local)
    return result


def copy_merge(
    original: package.PackageTree, updated: package.PackageTree, local: package.PackageTree
) -> package.PackageTree:
    """Upstream files copied over local ones; files upstream removed are removed; files
    only the local package has are kept."""
    result = dict(local)
    for path in original:
        if path not in updated:
            result.pop(path, None)
    result.update(updated)
    result[kptfile.KPTFILE] = _root_kptfile(original, updated, local)
    return result


def _clear_render_status(content: bytes) -> bytes:
    doc = yamlio.load_document(content.decode())
    kptfile.set_render_status(doc, None)
    status = doc.get("status")
    if isinstance(status, dict) and not status:
        del doc["status"]
    style = yamlio.detect_style(content.decode())
    if yamlio.unchanged(content, [doc], style, kptfile.KPTFILE):
        return content
    return yamlio.dump_document(doc, style).encode()


def fast_forward(
    original: package.PackageTree, updated: package.PackageTree, local: package.PackageTree
) -> package.PackageTree:
    """The new upstream, refused when the local package changed anything."""
    if kptfile.KPTFILE in original:
        modified = diff.changed(original, local)
        if modified:
            raise MergeError(
                f"local package files have been modified: {', '.join(modified)}; "
                "use a different update strategy"
            )
    result = force_delete_replace(original, updated, local)
    result[kptfile.KPTFILE] = _clear_render_status(result[kptfile.KPTFILE])
    return result


_BY_NAME = {
    RESOURCE_MERGE: tree.resource_merge,
    FAST_FORWARD: fast_forward,
    FORCE_DELETE_REPLACE: force_delete_replace,
    COPY_MERGE: copy_merge,
}


def annotate_tree(result: package.PackageTree) -> package.PackageTree:
    """Give every resource its merge identity (comment and annotation) where missing."""
    annotated = dict(result)
    for path in package.all_resource_files(result):
        if path.rsplit("/", 1)[-1] == kptfile.KPTFILE:
            continue
        loaded = resources.load_krm(path, result[path])
        if loaded is None:
            continue
        changed = [identity.annotate(doc) for doc in loaded.docs]
        if any(changed):  # dump only what changed: a clone of many files stays fast
            annotated[path] = yamlio.dump_documents(loaded.docs, loaded.style).encode()
    return annotated


def upgrade(
    original: package.PackageTree,
    updated: package.PackageTree,
    local: package.PackageTree,
    strategy: str = RESOURCE_MERGE,
) -> package.PackageTree:
    """The local package upgraded from ``original`` to ``updated`` with ``strategy``."""
    chosen = _BY_NAME.get(strategy)
    if chosen is None:
        raise MergeError(
            f"unknown update strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}"
        )
    for name, tree_ in (("local", local), ("new upstream", updated)):
        if kptfile.KPTFILE not in tree_:
            raise MergeError(f"the {name} package has no root Kptfile")
    return annotate_tree(chosen(original, updated, local))
