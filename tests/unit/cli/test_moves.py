from __future__ import annotations

import pytest

from lanai.cli import kube, moves


@pytest.mark.parametrize(
    ("verb", "current", "target", "said"),
    [
        ("propose", "Draft", "Proposed", "proposed"),
        ("propose", "Proposed", None, "is already proposed"),
        ("propose", "Published", "Proposed", "proposed"),  # the server refuses it
        ("approve", "Proposed", "Published", "approved"),
        ("approve", "Published", None, "is already published"),
        ("reject", "Proposed", "Draft", "no longer proposed for approval"),
        ("reject", "DeletionProposed", "Published", "no longer proposed for deletion"),
        ("reject", "Published", "Draft", "no longer proposed for approval"),  # refused
        ("propose-delete", "Published", "DeletionProposed", "proposed for deletion"),
        ("propose-delete", "DeletionProposed", None, "is already proposed for deletion"),
    ],
)
def test_plan(verb: str, current: str, target: str | None, said: str) -> None:
    assert moves.plan(verb, current) == moves.Move(target, said)


def test_rejecting_a_draft_is_refused_here_as_the_patch_would_change_nothing() -> None:
    with pytest.raises(kube.Failure, match="Draft"):
        moves.plan("reject", "Draft")
