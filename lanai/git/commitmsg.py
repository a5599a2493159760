"""The ``kpt:{...}`` line that ends every commit Lanai writes.

It is how a revision's workspace, number and creation task survive in Git alone, so
the operator can rebuild everything after a restart (and read what Porch wrote).
"""

from __future__ import annotations

import json
import sys
from typing import Any

PREFIX = "kpt:"
_SHARED = 128
"""Strings up to this long are shared between annotations: a cache of 10,000 commits
repeats the same keys, package names and task types."""


def _shared(found: dict[str, Any]) -> dict[str, Any]:
    return {
        sys.intern(k): sys.intern(v) if isinstance(v, str) and len(v) <= _SHARED else v
        for k, v in found.items()
    }


def annotate(summary: str, annotation: dict[str, Any]) -> str:
    return f"{summary}\n\n{PREFIX}{json.dumps(annotation, separators=(',', ':'), sort_keys=True)}\n"


def parse(message: str) -> dict[str, Any]:
    """The annotation of a commit message, or {} when it has none (or a broken one)."""
    for line in reversed(message.splitlines()):
        if line.startswith(PREFIX):
            try:
                found = json.loads(line[len(PREFIX) :], object_hook=_shared)
            except ValueError:
                return {}
            return found if isinstance(found, dict) else {}
    return {}
