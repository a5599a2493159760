"""The one error an upgrade raises: the message says which package, file or identity."""

from __future__ import annotations


class MergeError(ValueError):
    """An upgrade that cannot be done as asked (bad input, local changes for fast-forward)."""
