"""Which files of a package differ from its original upstream, ignoring what upgrade
itself maintains.

Fast-forward refuses to run over local changes, and a subpackage deleted upstream is
only dropped if unchanged. Neither should count as a change what clone and upgrade write
on their own: the merge identity (comment and annotation), the root Kptfile's name,
``upstream``/``upstreamLock`` and render status. KRM files are compared as data
(comments and formatting do not count), other files byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lanai.kpt import kptfile, package, yamlio
from lanai.kpt.merge import identity, resources

_ROOT_KPTFILE_IGNORED = ("upstream", "upstreamLock")


def _kptfile_data(content: bytes, *, root: bool) -> Any:
    try:
        doc = yamlio.load_document(content.decode())
    except (yamlio.YamlIOError, UnicodeDecodeError):
        return content
    data = yamlio.to_plain(doc)
    if root:
        for name in _ROOT_KPTFILE_IGNORED:
            data.pop(name, None)
        if isinstance(data.get("metadata"), dict):
            data["metadata"].pop("name", None)
        status = data.get("status")
        if isinstance(status, dict):
            status.pop("renderStatus", None)
            if not status:
                data.pop("status")
    return data


def _data(path: str, content: bytes, *, root_kptfile: str | None) -> Any:
    if path.rsplit("/", 1)[-1] == kptfile.KPTFILE:
        return _kptfile_data(content, root=path == root_kptfile)
    loaded = resources.load_krm(path, content) if package.is_krm_name(path) else None
    if loaded is None:
        return content
    for doc in loaded.docs:
        identity.annotate(doc)
    return [yamlio.to_plain(doc) for doc in loaded.docs]


def changed(
    original: package.PackageTree,
    local: package.PackageTree,
    paths: Iterable[str] | None = None,
    *,
    root: str = "",
) -> list[str]:
    """The sorted paths (of ``paths``, default all) that differ between the two trees."""
    root_kptfile = package.join(root, kptfile.KPTFILE)
    candidates = set(original) | set(local) if paths is None else set(paths)
    found = []
    for path in sorted(candidates):
        before, after = original.get(path), local.get(path)
        if before is None or after is None:
            if before is not after:
                found.append(path)
            continue
        if before == after:
            continue
        if _data(path, before, root_kptfile=root_kptfile) != _data(
            path, after, root_kptfile=root_kptfile
        ):
            found.append(path)
    return found
