"""Who may write what on a resources object, read from the object alone."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.api import constants
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import edits
from lanai.handlers import editing, resources

RECORD = PackageRevisionRecord(
    key=PackageRevisionKey("ns", "repo", "pkg", "ws"),
    lifecycle=Lifecycle.DRAFT,
    revision=0,
    commit="c" * 40,
    ref="refs/heads/drafts/pkg/ws",
)


def _object(
    generation: int, observed: int | None, conditions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": conditions or []}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"name": "repo.pkg.ws", "generation": generation}, "status": status}


@pytest.mark.parametrize(
    ("generation", "observed", "pending"),
    [(1, None, True), (3, 2, True), (3, 3, False)],
)
def test_an_edit_is_pending_while_the_generation_is_ahead(
    generation: int, observed: int | None, pending: bool
) -> None:
    assert resources.has_pending_edit(_object(generation, observed)) is pending


def test_an_object_being_deleted_holds_no_edit() -> None:
    going = _object(3, 2)
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not resources.has_pending_edit(going)


def _ready(status: str, reason: str, message: str = "") -> list[dict[str, Any]]:
    return [{"type": "Ready", "status": status, "reason": reason, "message": message}]


@pytest.mark.parametrize(
    ("revision", "owns"),
    [
        (_object(2, 2), True),  # no Ready yet
        (_object(2, 2, _ready("True", "Ready")), True),
        (_object(2, 2, _ready("False", "Pending", edits.PENDING + ": down")), True),
        (_object(2, 2, _ready("False", "Error", "the Kptfile cannot be parsed")), True),
        # Someone else's say: a refusal, a lifecycle move under way.
        (_object(2, 2, _ready("False", "Rejected", "readiness gates not met")), False),
        (_object(2, 2, _ready("False", "Pending", "cannot reach Git")), False),
        (_object(3, 2, _ready("True", "Ready")), False),
    ],
)
def test_an_edit_sets_the_revisions_ready_only_when_nothing_else_does(
    revision: dict[str, Any], owns: bool
) -> None:
    assert editing._owns_ready(revision) is owns


def test_a_write_of_files_carries_their_commit_and_removes_what_git_lacks() -> None:
    existing = {
        "metadata": {"name": "repo.pkg.ws", "annotations": {}, "ownerReferences": [{}]},
        "spec": {"revision": 0, "resources": {"Kptfile": "k", "gone.yaml": "g", "a.yaml": "1"}},
    }
    shown = resources.Shown({"Kptfile": "k", "a.yaml": "2"})
    patch = resources._patch_for(existing, RECORD, None, shown)
    assert patch == {
        "spec": {"resources": {"gone.yaml": None, "a.yaml": "2"}},
        "metadata": {"annotations": {constants.BASE_COMMIT_ANNOTATION: "c" * 40}},
    }
    existing["spec"]["resources"] = dict(shown.files)
    existing["metadata"]["annotations"] = {constants.BASE_COMMIT_ANNOTATION: "c" * 40}
    assert resources._patch_for(existing, RECORD, None, shown) == {}


def test_acted_on_means_the_generation_and_nobody_marked_it_meanwhile() -> None:
    assert editing._still_pending_at(_object(4, 3), 4)
    assert not editing._still_pending_at(_object(5, 3), 4)  # edited since
    assert not editing._still_pending_at(_object(4, 4), 4)  # marked already
