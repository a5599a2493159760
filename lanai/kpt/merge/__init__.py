"""Upgrading a package to a new upstream revision: kpt's four update strategies.

``upgrade(original, upstream, local, strategy)`` works on in-memory trees (path → bytes);
``upgrade_dirs`` on directories. :func:`set_upstream_lock` then points the root Kptfile
at the new upstream.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from lanai.kpt import ondisk, package
from lanai.kpt.merge.errors import MergeError
from lanai.kpt.merge.kptfiles import set_upstream_lock
from lanai.kpt.merge.strategies import STRATEGIES, upgrade

__all__ = ["STRATEGIES", "MergeError", "set_upstream_lock", "upgrade", "upgrade_dirs"]


def upgrade_dirs(
    original_dir: str | os.PathLike[str],
    upstream_dir: str | os.PathLike[str],
    local_dir: str | os.PathLike[str],
    strategy: str = "resource-merge",
    warn: Callable[[str], None] = lambda _: None,
) -> package.PackageTree:
    """Upgrade the package in ``local_dir`` in place; returns what it now holds.

    Symlinks in the three directories are ignored (``warn`` is told of each) and never
    written through (:mod:`lanai.kpt.ondisk`)."""
    trees = []
    for directory in (original_dir, upstream_dir, local_dir):
        loaded = ondisk.load(directory)
        for skipped in loaded.skipped:
            warn(f"{skipped.warning()} ({directory})")
        trees.append(loaded.tree)
    result = upgrade(trees[0], trees[1], trees[2], strategy)
    ondisk.save(result, local_dir)
    return result
