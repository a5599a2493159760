"""The ``kpt:{...}`` line that ends every commit Lanai writes.

It is how a revision's workspace, number and creation task survive in Git alone, so
the operator can rebuild everything after a restart (and read what Porch wrote).
"""

from __future__ import annotations

import json
from typing import Any

PREFIX = "kpt:"


def annotate(summary: str, annotation: dict[str, Any]) -> str:
    return f"{summary}\n\n{PREFIX}{json.dumps(annotation, separators=(',', ':'), sort_keys=True)}\n"


def parse(message: str) -> dict[str, Any]:
    """The annotation of a commit message, or {} when it has none (or a broken one)."""
    for line in reversed(message.splitlines()):
        if line.startswith(PREFIX):
            try:
                found = json.loads(line[len(PREFIX) :])
            except ValueError:
                return {}
            return found if isinstance(found, dict) else {}
    return {}
