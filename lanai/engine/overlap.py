"""Two Repository objects must not manage the same packages: same URL and branch, and
the same directory or one nested inside the other. The older registration wins."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Registration:
    name: str
    url: str
    branch: str
    directory: str
    created: str
    """creationTimestamp (RFC 3339 sorts as text); ties break by name."""


def _normal_url(url: str) -> str:
    return url.rstrip("/").removesuffix(".git").lower()


def _overlaps(a: str, b: str) -> bool:
    a, b = a.strip("/"), b.strip("/")
    return not a or not b or a == b or a.startswith(b + "/") or b.startswith(a + "/")


def conflict(me: Registration, others: Iterable[Registration]) -> Registration | None:
    """The older registration ``me`` collides with, if any."""
    for other in sorted(others, key=lambda r: (r.created, r.name)):
        if other.name == me.name:
            continue
        if (other.created, other.name) > (me.created, me.name):
            continue
        same_place = _normal_url(other.url) == _normal_url(me.url) and other.branch == me.branch
        if same_place and _overlaps(other.directory, me.directory):
            return other
    return None
