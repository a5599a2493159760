"""A package as files in memory, and which of them are whose KRM resources.

Porch keeps packages in Git, so the engine hands render a map of path → bytes rather
than a directory. Nested packages share that map: a directory with a Kptfile is a
subpackage, and its files belong to it, not to the parent, when each package's own
resources are gathered.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable

from lanai.kpt import kptfile

PackageTree = dict[str, bytes]
"""Relative path (``/`` separators, no leading ``./``) → file content."""

KRMIGNORE = ".krmignore"
KRM_SUFFIXES = (".yaml", ".yml", ".json")


def join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def parent(path: str) -> str:
    return posixpath.dirname(path)


def is_inside(path: str, directory: str) -> bool:
    """Whether ``path`` is ``directory`` itself or below it (``''`` is the root)."""
    return not directory or path == directory or path.startswith(directory + "/")


def normalize(path: str) -> str | None:
    """``path`` cleaned of ``.`` and ``x/..``; ``None`` if absolute or escaping its root."""
    if not path or path.startswith("/") or "\\" in path:
        return None
    cleaned = posixpath.normpath(path)
    if cleaned == ".." or cleaned.startswith("../") or cleaned == ".":
        return None
    return cleaned


def is_krm_name(path: str) -> bool:
    name = posixpath.basename(path)
    return name == kptfile.KPTFILE or name.endswith(KRM_SUFFIXES)


def packages(tree: PackageTree, root: str = "") -> list[str]:
    """Every package directory at or below ``root`` (root first, then sorted)."""
    found = {
        parent(path)
        for path in tree
        if posixpath.basename(path) == kptfile.KPTFILE and is_inside(parent(path), root)
    }
    return sorted(found, key=lambda p: (p != root, p))


def subpackages(tree: PackageTree, package: str = "") -> list[str]:
    """All subpackages below ``package``, at any depth, sorted."""
    return [p for p in packages(tree, package) if p != package]


def direct_subpackages(tree: PackageTree, package: str = "") -> list[str]:
    """Subpackages of ``package`` not nested in another of its subpackages, sorted."""
    below = subpackages(tree, package)
    return [p for p in below if not any(other != p and is_inside(p, other) for other in below)]


def owner(tree: PackageTree, path: str, root: str = "") -> str:
    """The innermost package (at or below ``root``) that contains file ``path``."""
    best = root
    for candidate in packages(tree, root):
        if is_inside(path, candidate) and path != candidate and len(candidate) >= len(best):
            best = candidate
    return best


def _patterns(tree: PackageTree, package: str) -> list[str]:
    content = tree.get(join(package, KRMIGNORE))
    if content is None:
        return []
    lines = content.decode(errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _matches(pattern: str, relative: str) -> bool:
    """gitignore-like: a pattern with a ``/`` is anchored, else it matches any component;
    matching a directory ignores what is inside it."""
    directory_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    anchored = "/" in pattern
    pattern = pattern.lstrip("/")
    parts = relative.split("/")
    for depth in range(1, len(parts) + 1):
        is_directory = depth < len(parts)
        if directory_only and not is_directory:
            continue
        prefix = "/".join(parts[:depth])
        if anchored:
            if fnmatch.fnmatchcase(prefix, pattern):
                return True
        elif fnmatch.fnmatchcase(parts[depth - 1], pattern):
            return True
    return False


def is_ignored(patterns: Iterable[str], relative: str) -> bool:
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _matches(pattern[1:] if negated else pattern, relative):
            ignored = not negated
    return ignored


def resource_files(tree: PackageTree, package: str = "") -> list[str]:
    """The package's own KRM files: its Kptfile and YAML/JSON files outside subpackages,
    minus what its ``.krmignore`` excludes; sorted."""
    nested = subpackages(tree, package)
    patterns = _patterns(tree, package)
    found = []
    for path in tree:
        if not is_inside(path, package) or not is_krm_name(path):
            continue
        if any(is_inside(path, sub) for sub in nested):
            continue
        relative = path[len(package) + 1 :] if package else path
        if relative != kptfile.KPTFILE and is_ignored(patterns, relative):
            continue
        found.append(path)
    return sorted(found)


def all_resource_files(tree: PackageTree, root: str = "") -> list[str]:
    """The resource files of ``root`` and every subpackage."""
    found: list[str] = []
    for package in packages(tree, root):
        found.extend(resource_files(tree, package))
    return sorted(found)
