"""Upgrading a package to a new upstream revision: kpt's four update strategies.

``upgrade(original, upstream, local, strategy)`` works on in-memory trees (path → bytes);
``upgrade_dirs`` on directories. :func:`set_upstream_lock` then points the root Kptfile
at the new upstream.
"""

from __future__ import annotations

import os

from lanai.kpt import package
from lanai.kpt.merge.errors import MergeError
from lanai.kpt.merge.kptfiles import set_upstream_lock
from lanai.kpt.merge.strategies import STRATEGIES, upgrade

__all__ = ["STRATEGIES", "MergeError", "set_upstream_lock", "upgrade", "upgrade_dirs"]


def upgrade_dirs(
    original_dir: str | os.PathLike[str],
    upstream_dir: str | os.PathLike[str],
    local_dir: str | os.PathLike[str],
    strategy: str = "resource-merge",
) -> package.PackageTree:
    """Upgrade the package in ``local_dir`` in place; returns what it now holds."""
    result = upgrade(
        package.load_dir(original_dir),
        package.load_dir(upstream_dir),
        package.load_dir(local_dir),
        strategy,
    )
    package.save_dir(result, local_dir)
    return result
