"""kill -9 of the operator at every crash point of approve, clone, edit and sync.

For each point, KILLS operators in a row are armed to die there, each for a subject of
its own: one is started, given its job, and dies at the point; the next, armed for the
next job, finds the last one half done and must finish it while it takes on its own. A
plain operator then finishes the last. Afterwards the Repository holds the invariants
(:mod:`tests.support.invariants`: gapless unique tags, no orphan branch, every object
Ready and equal to Git) and each flow's own result is checked: every approval got one
number and one approval commit, every clone one branch with its upstream's files, every
edit exactly one commit by its author, every revision found in Git exactly one object.

``LANAI_FAULT_KILLS`` (default 2) sets the kills per point, for longer soak runs.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from lanai import faults
from tests.e2e.faults.conftest import Operators
from tests.support import editing, gitwork, invariants, manifests
from tests.support.team import APPROVER, AUTHOR, REPO, Team, edit, init_spec, publish

KILLS = int(os.environ.get("LANAI_FAULT_KILLS", "2"))
CONVERGE_TIMEOUT = 300.0
"""A guard against hangs, not a budget: the wait ends as soon as the invariants hold."""

APPROVE_POINTS = (
    faults.PROPOSED_BEFORE_STATUS,
    faults.APPROVE_BRANCH_PUSHED,
    faults.PUBLISHED_BEFORE_STATUS,
)
CLONE_POINTS = (faults.CREATE_PUSHED, faults.CREATE_SHOWN)
EDIT_POINTS = (
    faults.EDIT_PENDING,
    faults.EDIT_COMMITTED,
    faults.EDIT_SHOWN,
    faults.EDIT_REVISION_READY,
)


def _jobs(points: tuple[str, ...]) -> list[str]:
    """One job per kill: each point KILLS times, points interleaved so that an operator
    finishing one point's job meets the next point."""
    return [point for _ in range(KILLS) for point in points]


def _kills(operators: Operators) -> dict[str, int]:
    return dict(sorted(operators.kills.by_point.items()))


def test_kills_during_propose_and_approve(
    team: Team, operators: Operators, figures: dict[str, Any]
) -> None:
    package = "app"
    jobs = _jobs(APPROVE_POINTS)
    names = [f"{REPO}.{package}.w{n}" for n in range(len(jobs))]
    for n, (name, point) in enumerate(zip(names, jobs, strict=True)):
        lifecycle = "Draft" if point == faults.PROPOSED_BEFORE_STATUS else "Proposed"
        team.create(name, {**init_spec(package, f"w{n}"), "lifecycle": lifecycle})
    for name in names:
        team.settled(name)

    for n, (name, point) in enumerate(zip(names, jobs, strict=True)):
        subject = f"{package}/w{n}" if point == faults.APPROVE_BRANCH_PUSHED else name
        operators.armed(point, subject)
        if point == faults.PROPOSED_BEFORE_STATUS:
            assert team.move(name, "Proposed", AUTHOR) == ""
        else:
            assert team.move(name, "Published", APPROVER) == ""
        operators.died_at(point, subject)
    operators.start()
    snap = invariants.converged(team, timeout=CONVERGE_TIMEOUT)

    shown = {obj["metadata"]["name"]: obj for obj in snap.revisions}
    approved = [
        name for name, point in zip(names, jobs, strict=True) if point != "proposed-before-status"
    ]
    numbers = sorted(shown[name]["status"]["revision"] for name in approved)
    assert numbers == list(range(1, len(approved) + 1)), numbers
    for name, point in zip(names, jobs, strict=True):
        if point == faults.PROPOSED_BEFORE_STATUS:
            assert shown[name]["spec"]["lifecycle"] == "Proposed"
        else:
            assert shown[name]["status"]["publishedBy"] == APPROVER
    tags = sorted(ref for ref in snap.refs if ref.startswith(f"refs/tags/{package}/"))
    assert tags == sorted(f"refs/tags/{package}/v{n}" for n in range(1, len(approved) + 1))
    # One approval commit per approval: none repeated by an operator that took over.
    assert snap.approvals == Counter((package, n) for n in numbers)
    figures.update(
        kills=_kills(operators),
        approvals=len(approved),
        proposals=len(jobs) - len(approved),
        lost=0,
        duplicates=0,
    )


def test_kills_during_clone(team: Team, operators: Operators, figures: dict[str, Any]) -> None:
    upstream = f"{REPO}.base.v1"
    team.create(upstream, init_spec("base", "v1"))
    team.settled(upstream)
    edit(team, upstream, {"cm.yaml": editing.configmap("base", "upstream")})
    publish(team, upstream)
    jobs = _jobs(CLONE_POINTS)
    names = [f"{REPO}.site{n}.v1" for n in range(len(jobs))]

    for n, (name, point) in enumerate(zip(names, jobs, strict=True)):
        operators.armed(point, name)
        source = {"cloneFrom": {"upstreamRef": {"name": upstream}}}
        team.create(name, {**init_spec(f"site{n}", "v1"), "source": source})
        operators.died_at(point, name)
    operators.start()
    snap = invariants.converged(team, timeout=CONVERGE_TIMEOUT)

    shown = {obj["metadata"]["name"]: obj for obj in snap.revisions}
    for n, name in enumerate(names):
        branch = f"refs/heads/drafts/site{n}/v1"
        assert shown[name]["status"]["creationSource"] == "clone"
        assert shown[name]["status"]["upstreamLock"]["git"]["ref"] == "base/v1"
        # The upstream's file, with the merge annotations a clone adds.
        assert editing.token_of(team.show(branch, f"site{n}/cm.yaml")) == "upstream"
        made = invariants.commits_between(team, "refs/heads/main", branch)
        assert made == 1, f"{branch}: {made} commits for one clone"
    figures.update(kills=_kills(operators), clones=len(names), lost=0, duplicates=0)


def test_kills_during_edit(team: Team, operators: Operators, figures: dict[str, Any]) -> None:
    editing.bind_editors(team)
    jobs = _jobs(EDIT_POINTS)
    names = [f"{REPO}.doc{n}.v1" for n in range(len(jobs))]
    for n, name in enumerate(names):
        team.create(name, init_spec(f"doc{n}", "v1"))
    created = {}
    for n, name in enumerate(names):
        editing.settled(team, name)
        created[name] = team.refs()[f"refs/heads/drafts/doc{n}/v1"]

    for n, (name, point) in enumerate(zip(names, jobs, strict=True)):
        operators.armed(point, name)
        editor = editing.EDITORS[n % len(editing.EDITORS)]
        files = {"edit.yaml": editing.configmap("edit", f"e{n}")}
        refused = team.cluster.merge_patch(
            "prr", name, team.namespace, {"spec": {"resources": files}}, user=editor
        )
        assert refused == ""
        operators.died_at(point, name)
    operators.start()
    invariants.converged(team, timeout=CONVERGE_TIMEOUT)

    for n, name in enumerate(names):
        branch = f"refs/heads/drafts/doc{n}/v1"
        shown = editing.branch_files(team, branch, f"doc{n}")
        assert editing.token_of(shown.get("edit.yaml")) == f"e{n}", f"{name}: the edit is lost"
        made = editing.changes(team, created[name], branch)
        editor = editing.EDITORS[n % len(editing.EDITORS)]
        assert made == [(editor, {f"doc{n}/edit.yaml"})], f"{name}: {made}"
    figures.update(kills=_kills(operators), edits=len(names), commits=len(names), lost=0)


def test_kills_during_sync(
    team: Team, operators: Operators, figures: dict[str, Any], tmp_path: Path
) -> None:
    """Revisions pushed to Git behind Lanai's back: the sync dies between creating each
    one's object and writing its status."""
    work = gitwork.clone(team.url, tmp_path / "work")
    names = [f"{REPO}.seeded{n}.v1" for n in range(KILLS)]
    for n, name in enumerate(names):
        operators.armed(faults.SYNC_CREATED, name)
        gitwork.commit_package(
            work, f"seeded{n}", {"Kptfile": gitwork.KPTFILE.format(name=f"seeded{n}")}, f"seeded{n}"
        )
        gitwork.git(work, "tag", f"seeded{n}/v1")
        gitwork.git(work, "push", "-q", "origin", "main", f"seeded{n}/v1")
        manifests.sync_now(team.cluster, team.namespace, team.repository)
        operators.died_at(faults.SYNC_CREATED, name)
    operators.start()
    snap = invariants.converged(team, timeout=CONVERGE_TIMEOUT)

    for name in names:
        found = [obj for obj in snap.revisions if obj["metadata"]["name"] == name]
        assert len(found) == 1, f"{name}: {len(found)} objects"
        assert found[0]["status"]["revision"] == 1
    figures.update(kills=_kills(operators), synced=len(names), lost=0, duplicates=0)
