"""Deleting revisions: what it takes, what it removes from Git, where the label goes.

A published revision goes in two steps (propose the deletion, then delete); its tag and
branches go with it and ``latest-revision`` falls back to the highest revision left.
Deleting the branch placeholder removes the package from the branch itself.
"""

from __future__ import annotations

from tests.support import manifests
from tests.support.team import APPROVER, REPO, Team, init_spec, publish
from tests.support.waiting import wait_for


def _new_revision(team: Team, package: str, workspace: str, source: str) -> str:
    name = f"{REPO}.{package}.{workspace}"
    team.create(name, {**init_spec(package, workspace), "source": {"copyFrom": {"name": source}}})
    return name


def test_the_latest_label_moves_back_when_the_latest_revision_is_deleted(team: Team) -> None:
    v1 = f"{REPO}.app.v1"
    team.create(v1, init_spec("app", "v1"))
    publish(team, v1)
    v2 = _new_revision(team, "app", "v2", v1)
    assert publish(team, v2)["status"]["revision"] == 2
    wait_for(lambda: team.latest("app") == v2, what="v2 to be latest")

    assert team.move(v2, "DeletionProposed", APPROVER) == ""
    team.settled(v2)
    assert team.latest("app") == v2  # proposing the deletion keeps it latest
    assert team.delete(v2) == ""
    team.gone(v2)
    wait_for(lambda: team.latest("app") == v1, what="the label to move back to v1")
    refs = team.refs()
    assert "refs/tags/app/v2" not in refs
    assert "refs/heads/deletionProposed/app/v2" not in refs
    assert "refs/tags/app/v1" in refs
    placeholder = team.get(f"{REPO}.app.main")
    assert placeholder is not None
    assert "porch.kpt.dev/latest-revision" not in (placeholder["metadata"].get("labels") or {})

    # Numbering never reuses a number that was handed out.
    v3 = _new_revision(team, "app", "v3", v1)
    assert publish(team, v3)["status"]["revision"] == 3


def test_deleting_the_branch_placeholder_removes_the_package_from_the_branch(team: Team) -> None:
    name = f"{REPO}.gone.v1"
    team.create(name, init_spec("gone", "v1"))
    publish(team, name)
    placeholder = f"{REPO}.gone.main"
    wait_for(lambda: team.get(placeholder), what="the branch placeholder")
    before = team.refs()
    assert "gone/Kptfile" in team.files("refs/heads/main")

    assert team.delete(placeholder) == ""
    team.gone(placeholder)
    after = team.refs()
    head = after["refs/heads/main"]
    assert head != before["refs/heads/main"]
    assert not [path for path in team.files(head) if path.startswith("gone/")]
    assert "Delete gone" in team.commit_message(head)
    # Only the branch changed: the published revision and its tag stay.
    assert {k: v for k, v in after.items() if k != "refs/heads/main"} == {
        k: v for k, v in before.items() if k != "refs/heads/main"
    }
    assert team.get(name) is not None
    asked = manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(
        lambda: manifests.synced_since(team.cluster, team.namespace, REPO, asked), what="a sync"
    )
    assert team.get(placeholder) is None
    assert team.latest("gone") == name
