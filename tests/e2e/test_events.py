"""Kubernetes Events on the objects Lanai acts for, as Porch's watch reports changes.

A PackageRevision gets ``Added`` when it is created in Git, ``Modified`` for each change
(an edit committed, a lifecycle move), ``Published`` when it is approved,
``RenderFailed`` when its pipeline fails and ``Deleted`` when it leaves Git; a
Repository gets ``Ready`` and ``SyncFailed``.
"""

from __future__ import annotations

from typing import Any

from tests.support.team import APPROVER, AUTHOR, REPO, Team, edit, init_spec
from tests.support.waiting import wait_for


def _events_until(team: Team, name: str, reason: str, count: int = 1) -> list[dict[str, Any]]:
    """The revision's Events, once ``count`` of them have ``reason``."""

    def enough() -> list[dict[str, Any]] | None:
        events = team.events(name)  # of the PackageRevision and of its resources object
        return events if sum(e["reason"] == reason for e in events) >= count else None

    return wait_for(enough, timeout=60, what=f"{count} {reason} Event(s) on {name}")


def test_each_change_to_a_revision_is_an_event(team: Team) -> None:
    name = f"{REPO}.watched.v1"
    team.create(name, init_spec("watched", "v1"))
    uid = team.settled(name)["metadata"]["uid"]
    added = _events_until(team, name, "Added")
    assert [e["type"] for e in added if e["reason"] == "Added"] == ["Normal"]
    assert [e["involvedObject"]["uid"] for e in added if e["reason"] == "Added"] == [uid]
    assert all(e["source"]["component"] == "lanai" for e in added)

    edit(team, name, {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"})
    _events_until(team, name, "Modified")
    kptfile = (team.get(name, "prr") or {})["spec"]["resources"]["Kptfile"]
    edit(team, name, {"Kptfile": kptfile + "pipeline:\n  mutators:\n  - image: nope.io/x:v1\n"})
    failed = _events_until(team, name, "RenderFailed")
    warning = next(e for e in failed if e["reason"] == "RenderFailed")
    assert warning["type"] == "Warning"
    assert "nope.io/x:v1" in warning["message"]
    fixed = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
    edit(team, name, {"Kptfile": kptfile, "cm.yaml": fixed})
    _events_until(team, name, "Modified", 2)

    assert team.move(name, "Proposed", AUTHOR) == ""
    team.settled(name)
    _events_until(team, name, "Modified", 3)
    assert team.move(name, "Published", APPROVER) == ""
    team.settled(name)
    published = _events_until(team, name, "Published")
    message = next(e["message"] for e in published if e["reason"] == "Published")
    assert "revision 1" in message
    assert APPROVER in message
    assert team.move(name, "DeletionProposed", APPROVER) == ""
    team.settled(name)
    _events_until(team, name, "Modified", 4)
    assert team.delete(name) == ""
    team.gone(name)
    events = _events_until(team, name, "Deleted")
    reasons = [e["reason"] for e in events]
    assert (reasons.count("Added"), reasons.count("Published"), reasons.count("Deleted")) == (
        1,
        1,
        1,
    )
