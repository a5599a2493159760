"""Which Event reason each lifecycle move of a PackageRevision gets."""

from __future__ import annotations

import pytest

from lanai.engine.lifecycle import Move
from lanai.handlers import events


@pytest.mark.parametrize(
    ("move", "reason"),
    [
        (Move.PROPOSE, "Modified"),
        (Move.REJECT, "Modified"),
        (Move.APPROVE, "Published"),
        (Move.PROPOSE_DELETE, "Modified"),
        (Move.UNDO_PROPOSE_DELETE, "Modified"),  # undoing is not a new publication
    ],
)
def test_reason_for_move(move: Move, reason: str) -> None:
    assert events.reason_for_move(move) == reason
