from __future__ import annotations

import itertools

import pytest

from lanai.api.models import Lifecycle
from lanai.engine import lifecycle
from lanai.engine.lifecycle import Move

D, P, PUB, DP = (
    Lifecycle.DRAFT,
    Lifecycle.PROPOSED,
    Lifecycle.PUBLISHED,
    Lifecycle.DELETION_PROPOSED,
)

ALLOWED = {
    (D, P): Move.PROPOSE,
    (P, D): Move.REJECT,
    (D, PUB): Move.APPROVE,
    (P, PUB): Move.APPROVE,
    (PUB, DP): Move.PROPOSE_DELETE,
    (DP, PUB): Move.UNDO_PROPOSE_DELETE,
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(Lifecycle, Lifecycle)))
def test_every_pair_of_lifecycles(old: Lifecycle, new: Lifecycle) -> None:
    if old == new:
        assert lifecycle.move(old, new) is Move.NONE
    elif (old, new) in ALLOWED:
        assert lifecycle.move(old, new) is ALLOWED[(old, new)]
    else:
        with pytest.raises(lifecycle.TransitionError, match=f"from {old} it can move to"):
            lifecycle.move(old, new)


def test_a_published_revision_never_goes_back_to_draft() -> None:
    with pytest.raises(lifecycle.TransitionError, match="DeletionProposed"):
        lifecycle.move(PUB, D)


@pytest.mark.parametrize(
    ("old", "new", "approval"),
    [
        (D, P, False),
        (P, D, False),
        (D, PUB, True),
        (P, PUB, True),
        (PUB, DP, True),
        (DP, PUB, True),
        (PUB, PUB, False),
    ],
)
def test_needs_approval(old: Lifecycle, new: Lifecycle, approval: bool) -> None:
    assert lifecycle.needs_approval(old, new) is approval


def test_only_draft_and_proposed_can_be_created() -> None:
    assert {D, P} == lifecycle.CREATABLE
