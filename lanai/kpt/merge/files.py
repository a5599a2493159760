"""Whole-file three-way merge, for files that are not KRM resources (README, scripts,
templates, YAML that is not a KRM object).

kpt's rule: a file the local package added or changed is left alone; any other file
follows the new upstream (changed, added or deleted there).
"""

from __future__ import annotations


def merge(local: bytes | None, original: bytes | None, updated: bytes | None) -> bytes | None:
    """The merged content (``None``: the file is absent)."""
    if local is not None:
        if original is None or local != original:
            return local  # added or changed locally: local wins, as in kpt
        return updated  # unchanged locally: follow upstream (None when deleted there)
    if original is None:
        return updated  # added upstream
    # Deleted locally: stays deleted unless upstream changed it since.
    return updated if updated is not None and updated != original else None
