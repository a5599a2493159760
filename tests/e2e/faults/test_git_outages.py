"""The Git server dies in the middle of a create, an approval, an edit and a clone.

The server of the test's own is armed to die on a given push (``stop_after_pushes``):
on the first push of a create, an edit or a clone, and between the two pushes of an
approval (its commit is on the branch, its tag is not). While it is down the object
says Ready=False, reason Pending, and Git holds nothing more than what got through;
when it comes back at the same address, the operator finishes the job by itself, once:
no number skipped or given twice, no second approval commit, no edit lost or doubled.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from lanai.local import gitserver
from tests.support import editing, invariants
from tests.support.cluster import Cluster, condition
from tests.support.operator import OperatorProcess
from tests.support.team import APPROVER, AUTHOR, REPO, Team, init_spec, make_team
from tests.support.waiting import wait_for

OUTAGE_TIMEOUT = 300.0
"""A guard against hangs, not a budget: each wait ends when the state shows."""


class Outages:
    """Kills the Git server at a push and brings it back; counts the outages."""

    def __init__(self, server: gitserver.GitServer, team: Team) -> None:
        self.server = server
        self.team = team
        self.count = 0

    def die_after(self, pushes: int) -> Any:
        return self.server.stop_after_pushes(pushes)

    def wait_down(self, dead: Any, name: str) -> dict[str, Any]:
        """Wait until the server died and ``name`` says it is waiting for Git."""
        wait_for(dead.is_set, timeout=OUTAGE_TIMEOUT, what="the Git server to die at its push")
        self.count += 1

        def pending() -> dict[str, Any] | None:
            obj = self.team.get(name)
            ready = condition(obj, "Ready")
            if ready and ready["status"] == "False" and ready["reason"] == "Pending":
                return obj
            return None

        found: dict[str, Any] = wait_for(
            pending, timeout=OUTAGE_TIMEOUT, what=f"{name} to say Ready=False, Pending"
        )
        return found

    def back(self) -> None:
        self.server.start()


def test_git_dies_during_create_approve_edit_and_clone(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    own_git_server: gitserver.GitServer,
    figures: dict[str, Any],
) -> None:
    team = make_team(cluster, namespace, own_git_server)
    editing.bind_editors(team)
    outages = Outages(own_git_server, team)

    # Create: the draft branch's push never arrives.
    created = f"{REPO}.fresh.v1"
    dead = outages.die_after(0)
    team.create(created, init_spec("fresh", "v1"))
    outages.wait_down(dead, created)
    assert not any("fresh" in ref for ref in team.refs())
    outages.back()
    team.settled(created)

    # Approve: the approval commit reaches the branch, its tag does not.
    for workspace in ("w1", "w2"):
        team.create(
            f"{REPO}.app.{workspace}", {**init_spec("app", workspace), "lifecycle": "Proposed"}
        )
    for workspace in ("w1", "w2"):
        team.settled(f"{REPO}.app.{workspace}")
    for number, workspace in enumerate(("w1", "w2"), start=1):
        name = f"{REPO}.app.{workspace}"
        dead = outages.die_after(1)
        assert team.move(name, "Published", APPROVER) == ""
        outages.wait_down(dead, name)
        assert invariants.approvals(team)[("app", number)] == 1  # in the window
        assert f"refs/tags/app/v{number}" not in team.refs()
        outages.back()
        published = team.settled(name)
        assert published["status"]["revision"] == number
        assert published["status"]["publishedBy"] == APPROVER

    # Edit: the commit's push never arrives.
    draft = f"{REPO}.doc.v1"
    team.create(draft, init_spec("doc", "v1"))
    editing.settled(team, draft)
    branch = "refs/heads/drafts/doc/v1"
    before = team.refs()[branch]
    dead = outages.die_after(0)
    files = {"edit.yaml": editing.configmap("edit", "during-outage")}
    editor = editing.EDITORS[2]
    assert (
        team.cluster.merge_patch(
            "prr", draft, namespace, {"spec": {"resources": files}}, user=editor
        )
        == ""
    )
    outages.wait_down(dead, draft)
    assert team.refs()[branch] == before
    outages.back()
    editing.settled(team, draft)

    # Clone of the published revision: the new branch's push never arrives.
    clone = f"{REPO}.site.v1"
    dead = outages.die_after(0)
    source = {"cloneFrom": {"upstreamRef": {"name": f"{REPO}.app.w2"}}}
    team.create(clone, {**init_spec("site", "v1"), "source": source})
    outages.wait_down(dead, clone)
    assert not any("site" in ref for ref in team.refs())
    outages.back()

    snap = invariants.converged(team, timeout=OUTAGE_TIMEOUT)
    assert sorted(r for r in snap.refs if r.startswith("refs/tags/app/")) == [
        "refs/tags/app/v1",
        "refs/tags/app/v2",
    ]
    assert snap.approvals == Counter({("app", 1): 1, ("app", 2): 1})
    made = editing.changes(team, before, branch)
    assert made == [(editor, {"doc/edit.yaml"})], made
    assert editing.token_of(team.show(branch, "doc/edit.yaml")) == "during-outage"
    assert invariants.commits_between(team, "refs/heads/main", "refs/heads/drafts/site/v1") == 1
    figures.update(outages=outages.count, approvals=2, edits=1, creates=2, lost=0, duplicates=0)


def test_git_down_while_a_create_an_approval_and_an_edit_wait(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    own_git_server: gitserver.GitServer,
    figures: dict[str, Any],
) -> None:
    """All three at once against a stopped server; all three land once it is back."""
    team = make_team(cluster, namespace, own_git_server)
    proposed, draft, created = (f"{REPO}.app.v1", f"{REPO}.doc.v1", f"{REPO}.fresh.v1")
    team.create(proposed, {**init_spec("app", "v1"), "lifecycle": "Proposed"})
    team.create(draft, init_spec("doc", "v1"))
    team.settled(proposed)
    editing.settled(team, draft)
    branch = "refs/heads/drafts/doc/v1"
    before = team.refs()[branch]
    outages = Outages(own_git_server, team)

    own_git_server.stop()
    team.create(created, init_spec("fresh", "v1"))
    assert team.move(proposed, "Published", APPROVER) == ""
    files = {"edit.yaml": editing.configmap("edit", "while-down")}
    assert (
        team.cluster.merge_patch(
            "prr", draft, namespace, {"spec": {"resources": files}}, user=AUTHOR
        )
        == ""
    )
    for name in (created, proposed, draft):
        wait_for(
            lambda name=name: (
                (ready := condition(team.get(name), "Ready"))
                and (ready["status"], ready["reason"]) == ("False", "Pending")
            ),
            timeout=OUTAGE_TIMEOUT,
            what=f"{name} to say Ready=False, Pending",
        )
    outages.count += 1
    outages.back()

    snap = invariants.converged(team, timeout=OUTAGE_TIMEOUT)
    assert (team.get(proposed) or {})["status"]["revision"] == 1
    assert "refs/tags/app/v1" in snap.refs
    assert editing.changes(team, before, branch) == [(AUTHOR, {"doc/edit.yaml"})]
    figures.update(outages=outages.count, approvals=1, edits=1, creates=1, lost=0, duplicates=0)
