"""Which lifecycle moves are allowed, and what each one means.

The same table is enforced three times on purpose: by the CRD's CEL rule (kubectl gets
an immediate error), by the admission policy (who may approve), and here (the engine
never trusts its caller). Pure functions, no I/O.
"""

from __future__ import annotations

from enum import StrEnum

from lanai.api.models import Lifecycle

DRAFT, PROPOSED, PUBLISHED, DELETION_PROPOSED = (
    Lifecycle.DRAFT,
    Lifecycle.PROPOSED,
    Lifecycle.PUBLISHED,
    Lifecycle.DELETION_PROPOSED,
)

ALLOWED: dict[Lifecycle, frozenset[Lifecycle]] = {
    DRAFT: frozenset({PROPOSED, PUBLISHED}),
    PROPOSED: frozenset({DRAFT, PUBLISHED}),
    PUBLISHED: frozenset({DELETION_PROPOSED}),
    DELETION_PROPOSED: frozenset({PUBLISHED}),
}

CREATABLE = frozenset({DRAFT, PROPOSED})
"""Users create revisions only as Draft or Proposed; published ones come from Git."""

PUBLISHED_STATES = frozenset({PUBLISHED, DELETION_PROPOSED})
"""A tag exists: content is frozen and the revision has a number."""


class Move(StrEnum):
    NONE = "none"
    PROPOSE = "propose"
    REJECT = "reject"
    APPROVE = "approve"
    PROPOSE_DELETE = "propose-delete"
    UNDO_PROPOSE_DELETE = "undo-propose-delete"


_MOVES: dict[tuple[Lifecycle, Lifecycle], Move] = {
    (DRAFT, PROPOSED): Move.PROPOSE,
    (PROPOSED, DRAFT): Move.REJECT,
    (DRAFT, PUBLISHED): Move.APPROVE,
    (PROPOSED, PUBLISHED): Move.APPROVE,
    (PUBLISHED, DELETION_PROPOSED): Move.PROPOSE_DELETE,
    (DELETION_PROPOSED, PUBLISHED): Move.UNDO_PROPOSE_DELETE,
}


class TransitionError(ValueError):
    """A lifecycle change that is never allowed; the message lists what is."""


def move(old: Lifecycle, new: Lifecycle) -> Move:
    if old == new:
        return Move.NONE
    found = _MOVES.get((old, new))
    if found is None:
        allowed = ", ".join(sorted(ALLOWED[old])) or "nothing"
        raise TransitionError(
            f"lifecycle cannot change from {old} to {new}; from {old} it can move to: {allowed}"
        )
    return found


def needs_approval(old: Lifecycle, new: Lifecycle) -> bool:
    """Moving into or out of Published/DeletionProposed is an approver's decision."""
    return old != new and (old in PUBLISHED_STATES or new in PUBLISHED_STATES)
