"""Status conditions as ``metav1.Condition``: pure functions over lists of dicts.

``lastTransitionTime`` moves only when ``status`` changes, as Kubernetes tools expect
(``kubectl wait``, Argo CD and k9s all read it), and an unchanged condition yields an
identical list so callers can skip a no-op patch.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Condition:
    type: str
    status: Status
    reason: str
    message: str = ""
    observed_generation: int | None = None


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: list[dict[str, Any]] | None, kind: str) -> dict[str, Any] | None:
    for entry in conditions or []:
        if entry.get("type") == kind:
            return entry
    return None


def upsert(
    conditions: list[dict[str, Any]] | None, condition: Condition, *, now: str | None = None
) -> list[dict[str, Any]]:
    """A new list with ``condition`` set, keeping the others in order."""
    existing = find(conditions, condition.type)
    transition = (
        existing["lastTransitionTime"]
        if existing
        and existing.get("status") == condition.status
        and existing.get("lastTransitionTime")
        else now or now_rfc3339()
    )
    entry: dict[str, Any] = {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": transition,
    }
    if condition.observed_generation is not None:
        entry["observedGeneration"] = condition.observed_generation
    result = [dict(c) for c in conditions or [] if c.get("type") != condition.type]
    if existing is None:
        result.append(entry)
    else:
        index = next(i for i, c in enumerate(conditions or []) if c.get("type") == condition.type)
        result.insert(index, entry)
    return result


def without(conditions: list[dict[str, Any]] | None, kind: str) -> list[dict[str, Any]]:
    """A new list without the condition of type ``kind``."""
    return [dict(c) for c in conditions or [] if c.get("type") != kind]


def is_true(conditions: list[dict[str, Any]] | None, kind: str) -> bool:
    entry = find(conditions, kind)
    return bool(entry and entry.get("status") == "True")
