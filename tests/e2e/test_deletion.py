"""Deleting revisions: what it takes, what it removes from Git, where the label goes.

A published revision goes in two steps (propose the deletion, then delete), for everyone:
the API server refuses the delete before that with Porch's message, so no delete is
accepted that cannot finish. Its tag and branches go with it and ``latest-revision``
falls back to the highest revision left. Deleting the branch placeholder removes the
package from the branch itself. A deletion that has to wait (a user's finalizer, an
upstream still in use, an operator down) says why on the object and finishes as soon as
the cause is gone, never after a fixed retry: every wait below is far shorter than
Lanai's retry period of a waiting deletion (300 s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import manifests
from tests.support.cluster import condition
from tests.support.gitwork import KPTFILE, clone, commit_package, git
from tests.support.operator import OperatorProcess
from tests.support.team import APPROVER, AUTHOR, REPO, Team, init_spec, publish
from tests.support.waiting import wait_for

PORCH_REFUSAL = (
    "published PackageRevisions must be proposed for deletion by setting spec.lifecycle "
    "to 'DeletionProposed' prior to deletion"
)
"""Porch's words (pkg/registry/porch validateDelete; test/e2e/cli rpkg-lifecycle)."""
PROMPTLY = 60.0
"""Seconds a deletion that can finish may take: well under the 300 s retry period."""


def _published(team: Team, package: str) -> str:
    name = f"{REPO}.{package}.v1"
    team.create(name, init_spec(package, "v1"))
    publish(team, name)
    return name


def _gone_from_git(team: Team, package: str) -> None:
    refs = team.refs()
    assert f"refs/tags/{package}/v1" not in refs
    assert f"refs/heads/deletionProposed/{package}/v1" not in refs
    assert not [ref for ref in refs if ref.endswith(f"/{package}/v1")]


def _ready(team: Team, name: str, reason: str) -> dict[str, Any] | None:
    """The object's Ready condition once it is False with ``reason``."""
    found = condition(team.get(name), "Ready")
    return found if found and found["status"] == "False" and found["reason"] == reason else None


def _hold(team: Team, name: str) -> None:
    finalizers = {"metadata": {"finalizers": ["example.com/keep", "lanai.porch.kpt.dev/finalizer"]}}
    assert team.cluster.merge_patch("rpkg", name, team.namespace, finalizers) == ""


def _release(team: Team, name: str) -> None:
    team.cluster.kubectl(
        "patch", "-n", team.namespace, "rpkg", name, "--type=json",
        "-p", '[{"op": "remove", "path": "/metadata/finalizers/0"}]',
    )  # fmt: skip


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
    # as Porch labels it: every revision but the latest says "false", the placeholder too
    assert placeholder["metadata"]["labels"]["porch.kpt.dev/latest-revision"] == "false"

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


@pytest.mark.parametrize("user", [None, APPROVER], ids=["admin", "approver"])
def test_nobody_deletes_a_published_revision_before_its_deletion_is_proposed(
    team: Team, user: str | None
) -> None:
    name = _published(team, "kept")
    refused = team.delete(name, user=user)  # None: the cluster admin, who holds every verb
    assert PORCH_REFUSAL in refused
    assert "propose its deletion first" in refused
    obj = team.get(name)
    assert obj is not None
    assert not obj["metadata"].get("deletionTimestamp")  # nothing is left terminating
    assert "refs/tags/kept/v1" in team.refs()

    assert team.move(name, "DeletionProposed", APPROVER) == ""
    assert team.delete(name, user=user) == ""  # kubectl waits until the object is gone
    team.gone(name)
    _gone_from_git(team, "kept")


def test_a_deletion_proposed_and_deleted_while_the_operator_is_down_finishes(
    team: Team, operator: OperatorProcess
) -> None:
    """porchctl's flow (propose-delete, then del) faster than the operator: the delete is
    accepted once the spec says DeletionProposed, before Git shows it; no reconciliation
    runs for an object being deleted, so the deletion carries the proposal out itself.
    The operator is down meanwhile and restarts with the object terminating."""
    name = _published(team, "quick")
    operator.stop()
    try:
        assert team.move(name, "DeletionProposed", APPROVER) == ""
        assert team.delete(name, wait=False) == ""
        obj = team.get(name)
        assert obj is not None
        assert obj["metadata"]["deletionTimestamp"]
        assert "refs/heads/deletionProposed/quick/v1" not in team.refs()  # Git: still Published
        assert "refs/tags/quick/v1" in team.refs()
    finally:
        operator.start()
    wait_for(lambda: team.get(name) is None, timeout=PROMPTLY, what=f"{name} to be deleted")
    _gone_from_git(team, "quick")


def test_a_held_deletion_says_why_and_finishes_when_the_finalizer_goes(
    team: Team, operator: OperatorProcess
) -> None:
    name = _published(team, "held")
    assert team.move(name, "DeletionProposed", APPROVER) == ""
    team.settled(name)
    _hold(team, name)
    assert team.delete(name, wait=False) == ""
    held = wait_for(
        lambda: _ready(team, name, "DeletionHeld"), timeout=PROMPTLY, what="Ready=DeletionHeld"
    )
    assert "example.com/keep" in held["message"]
    assert "DeletionHeld" in team.reasons(name)
    assert "refs/tags/held/v1" in team.refs()

    # While it is being deleted its lifecycle cannot go back: the deletion would wait on
    # a move no reconciliation carries out.
    refused = team.move(name, "Published", APPROVER)
    assert "is being deleted" in refused

    # An operator restart keeps the object held, and says so no more than once.
    operator.restart()
    _release(team, name)
    wait_for(lambda: team.get(name) is None, timeout=PROMPTLY, what=f"{name} to be deleted")
    _gone_from_git(team, "held")
    held_events = [e for e in team.events(name) if e["reason"] == "DeletionHeld"]
    assert len(held_events) == 1


def test_an_upstream_in_use_is_blocked_until_its_user_is_deleted(team: Team) -> None:
    upstream = _published(team, "base")
    user = f"{REPO}.site.v1"
    team.create(
        user,
        {**init_spec("site", "v1"), "source": {"cloneFrom": {"upstreamRef": {"name": upstream}}}},
    )
    team.settled(user)
    assert team.move(upstream, "DeletionProposed", APPROVER) == ""
    team.settled(upstream)
    assert team.delete(upstream, wait=False) == ""
    blocked = wait_for(
        lambda: _ready(team, upstream, "DeletionBlocked"),
        timeout=PROMPTLY,
        what="Ready=DeletionBlocked",
    )
    assert f"is the upstream of {user}" in blocked["message"]
    events = [e for e in team.events(upstream) if e["reason"] == "DeletionBlocked"]
    assert [e["type"] for e in events] == ["Warning"]
    assert "refs/tags/base/v1" in team.refs()

    assert team.delete(user, user=AUTHOR) == ""
    wait_for(lambda: team.get(upstream) is None, timeout=PROMPTLY, what=f"{upstream} to be deleted")
    _gone_from_git(team, "base")
    assert "refs/heads/drafts/site/v1" not in team.refs()


def test_only_lanai_marks_an_object_as_removed(team: Team) -> None:
    name = f"{REPO}.marked.v1"
    team.create(name, init_spec("marked", "v1"))
    team.settled(name)
    mark = {"metadata": {"annotations": {"lanai.porch.kpt.dev/removal": "no longer in Git"}}}
    for user in (AUTHOR, APPROVER):
        refused = team.cluster.merge_patch("rpkg", name, team.namespace, mark, user=user)
        assert "set only by Lanai" in refused
    body = json.loads(json.dumps(team.get(name)))
    assert "lanai.porch.kpt.dev/removal" not in (body["metadata"].get("annotations") or {})


def test_a_revision_deleted_from_git_outside_lanai_goes_in_the_same_two_steps(
    team: Team, tmp_path: Path
) -> None:
    """The operator is refused a Published deletion like anyone: it proposes the deletion
    first, marked so that nothing is done in Git (the revision is gone from there)."""
    work = clone(team.url, tmp_path / "work")
    commit_package(work, "pushed", {"Kptfile": KPTFILE.format(name="pushed")}, "pushed")
    git(work, "tag", "pushed/v1")
    git(work, "push", "-q", "origin", "main", "pushed/v1")
    name = f"{REPO}.pushed.v1"
    manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(lambda: (team.get(name) or {}).get("status", {}).get("selfLock"), what=name)

    git(work, "push", "-q", "origin", ":refs/tags/pushed/v1")
    before = team.refs()
    manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(lambda: team.get(name) is None, timeout=PROMPTLY, what=f"{name} to go")
    assert team.refs() == before  # Git untouched: no deletionProposed branch was made
    deleted = [e["message"] for e in team.events(name) if e["reason"] == "Deleted"]
    assert deleted == ["pushed (workspace v1) is no longer in Git"]
    assert team.get(f"{REPO}.pushed.main") is not None  # the package is still on main


DELETION_POLICY = "lanai-packagerevision-deletion"


def _policy_enforced(team: Team, name: str) -> bool:
    mark = {"metadata": {"annotations": {"lanai.porch.kpt.dev/removal": "probe"}}}
    done = team.cluster.kubectl(
        "patch", "-n", team.namespace, "rpkg", name, "--dry-run=server", "--type=merge",
        "-p", json.dumps(mark), user=APPROVER, check=False,
    )  # fmt: skip
    return "set only by Lanai" in done.stderr


def test_a_published_revision_deleted_without_the_policy_finishes_once_proposed(
    team: Team,
) -> None:
    """Where the deletion policy did not hold (objects deleted before an upgrade, a
    cluster without config/policy), a Published revision can be terminating: it says so,
    and proposing its deletion (allowed while terminating) finishes it at once."""
    name = _published(team, "legacy")
    team.cluster.kubectl("delete", "validatingadmissionpolicybinding", DELETION_POLICY)
    try:
        wait_for(lambda: not _policy_enforced(team, name), timeout=60, what="the policy to be off")
        assert team.delete(name, wait=False) == ""
    finally:
        policy = team.cluster.root / "config" / "policy"
        team.cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(policy))
        wait_for(lambda: _policy_enforced(team, name), timeout=60, what="the policy back")
    blocked = wait_for(
        lambda: _ready(team, name, "DeletionBlocked"), timeout=PROMPTLY, what="DeletionBlocked"
    )
    assert PORCH_REFUSAL in blocked["message"]
    assert "refs/tags/legacy/v1" in team.refs()

    assert team.move(name, "DeletionProposed", APPROVER) == ""  # the object is terminating
    wait_for(lambda: team.get(name) is None, timeout=PROMPTLY, what=f"{name} to be deleted")
    _gone_from_git(team, "legacy")
