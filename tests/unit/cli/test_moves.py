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
        ("propose-delete", "Published", "DeletionProposed", "proposed for deletion"),
        ("propose-delete", "DeletionProposed", None, "is already proposed for deletion"),
    ],
)
def test_plan(verb: str, current: str, target: str | None, said: str) -> None:
    assert moves.plan(verb, current) == moves.Move(target, said)


@pytest.mark.parametrize("current", ["Draft", "Published"])
def test_only_a_proposal_is_rejected_in_porchctls_words(current: str) -> None:
    with pytest.raises(kube.Failure) as refused:
        moves.plan("reject", current, "r.p.w")
    assert str(refused.value) == f"cannot reject r.p.w with lifecycle '{current}'"


@pytest.mark.parametrize("current", ["Draft", "Proposed"])
def test_only_a_published_revision_is_proposed_for_deletion(current: str) -> None:
    with pytest.raises(kube.Failure) as refused:
        moves.plan("propose-delete", current, "r.p.w")
    assert str(refused.value) == (
        "can only propose published packages for deletion; package r.p.w is not published"
    )
