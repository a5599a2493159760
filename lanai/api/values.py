"""Small values the engine, cache and tasks all exchange."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from lanai.trust import paths


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for what YAML can hold and JSON cannot: timestamps
    (as ISO 8601, as Kubernetes clients send them) and anything else as its text."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Author:
    """Who a commit is attributed to (Repository spec.git.author/email or the actor)."""

    name: str
    email: str


@dataclass(frozen=True)
class Task:
    """The creation task recorded in the commit's ``kpt:`` annotation."""

    type: str
    """init | clone | copy | upgrade | edit | patch | render"""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """An entry of a package's Git tree that is not a file: never read as content nor
    followed, kept in Git by edits of a Draft, left out (with a warning) of copies."""

    path: str
    kind: str
    """``symlink`` | ``submodule``"""

    def __str__(self) -> str:
        return f"{paths.quoted(self.path)} (a {self.kind})"
