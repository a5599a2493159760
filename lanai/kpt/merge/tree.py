"""The ``resource-merge`` strategy over a whole package tree, one package at a time.

Every directory with a Kptfile in any of the three trees is a package and owns the files
below it that no deeper package owns. Packages are visited parents first. A subpackage
follows kpt: added upstream → copied; added on both sides → error; deleted locally →
stays deleted; deleted upstream → removed only if unchanged locally; one whose Kptfile
now names a different upstream than the original did was updated on its own and is
left alone; otherwise its Kptfile, resources and other files are merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lanai.kpt import kptfile, package, yamlio
from lanai.kpt.merge import diff, files, kptfiles, resources
from lanai.kpt.merge.errors import MergeError

Trees = Mapping[str, package.PackageTree]


def all_packages(trees: Iterable[package.PackageTree]) -> list[str]:
    found: set[str] = set()
    for tree in trees:
        found.update(package.packages(tree))
    found.add("")
    return sorted(found, key=lambda p: (p.count("/") + bool(p), p))


def own_files(tree: package.PackageTree, owner: str, packages: list[str]) -> set[str]:
    """The files of ``tree`` that belong to package ``owner`` (not to a deeper package)."""
    nested = [p for p in packages if p != owner and package.is_inside(p, owner)]
    return {
        path
        for path in tree
        if package.is_inside(path, owner)
        and path != owner
        and not any(package.is_inside(path, sub) for sub in nested)
    }


def _upstream_git(content: bytes | None) -> object:
    if content is None:
        return None
    try:
        doc = yamlio.load_document(content.decode())
    except (yamlio.YamlIOError, UnicodeDecodeError):
        return None
    upstream = doc.get("upstream")
    return yamlio.to_plain(upstream.get("git")) if isinstance(upstream, dict) else None


def _updated_on_its_own(original: package.PackageTree, local: package.PackageTree, kf: str) -> bool:
    """kpt's check: a subpackage whose local upstream differs from the original's."""
    before = _upstream_git(original.get(kf))
    return before is not None and before != _upstream_git(local.get(kf))


def resource_merge(
    original: package.PackageTree, updated: package.PackageTree, local: package.PackageTree
) -> package.PackageTree:
    trees = {"original": original, "updated": updated, "local": local}
    packages = all_packages(trees.values())
    result = dict(local)
    for pkg in packages:
        kf = package.join(pkg, kptfile.KPTFILE)
        in_original, in_updated, in_local = (kf in t for t in trees.values())
        own = {side: own_files(tree, pkg, packages) for side, tree in trees.items()}
        if pkg == "":
            _merge_package(pkg, trees, own, result, is_root=True)
        elif not in_original and in_local and in_updated:
            raise MergeError(f"subpackage {pkg!r} was added both upstream and locally")
        elif not in_original and not in_local and in_updated:
            for path in own["updated"]:
                result[path] = updated[path]
        elif not in_original or not in_local:
            continue  # added locally, or deleted locally: keep the local choice
        elif not in_updated:
            paths = own["original"] | own["local"]
            if not diff.changed(original, local, paths, root=pkg):
                for path in own["local"]:
                    result.pop(path, None)
        elif _updated_on_its_own(original, local, kf):
            continue
        else:
            _merge_package(pkg, trees, own, result, is_root=False)
    return result


def _merge_package(
    pkg: str,
    trees: Trees,
    own: Mapping[str, set[str]],
    result: package.PackageTree,
    *,
    is_root: bool,
) -> None:
    original, updated, local = trees["original"], trees["updated"], trees["local"]
    kf = package.join(pkg, kptfile.KPTFILE)
    merged_kptfile = kptfiles.merge(
        local.get(kf), original.get(kf), updated.get(kf), path=kf, follow_upstream=not is_root
    )
    _put(result, kf, merged_kptfile)

    krm_candidates: set[str] = set()
    for side, tree in trees.items():
        candidates = set(package.resource_files(tree, pkg)) & own[side]
        krm_candidates |= candidates - {kf}
    everything = (own["original"] | own["updated"] | own["local"]) - {kf}
    krm = resources.krm_paths(trees.values(), krm_candidates)

    loaded: dict[str, dict[str, resources.LoadedFile]] = {}
    for side, tree in trees.items():
        loaded[side] = {}
        for path in krm:
            if path in tree:
                found = resources.load_krm(path, tree[path])
                assert found is not None
                loaded[side][path] = found
    merged = resources.merge_files(loaded["original"], loaded["updated"], loaded["local"])
    for path in krm:
        docs = merged.get(path)
        if not docs:
            result.pop(path, None)
            continue
        sources = [
            (local.get(path), loaded["local"].get(path)),
            (updated.get(path), loaded["updated"].get(path)),
        ]
        result[path] = resources.write(path, docs, sources)
    for path in merged.keys() - krm:
        raise MergeError(f"{path}: merged resources would land outside the package's files")

    for path in sorted(everything - krm):
        _put(result, path, files.merge(local.get(path), original.get(path), updated.get(path)))


def _put(result: package.PackageTree, path: str, content: bytes | None) -> None:
    if content is None:
        result.pop(path, None)
    else:
        result[path] = content
