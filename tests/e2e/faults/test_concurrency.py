"""Many people at once: editors of one Draft, approvers of one package.

Editors patch one PackageRevisionResources at the same moment, round after round, each
as themselves: Git ends holding the last write of every file, with no more commits than
edits, each commit attributed to an editor whose edit it carries. Approvers approve N
proposals of one package at the same moment: the revisions are 1..N, each published by
whoever approved it, with one approval commit and one tag each; once more with the
operator killed (kill -9) while the approvals are being carried out.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.faults.conftest import Operators
from tests.support import editing, invariants
from tests.support.team import APPROVER, REPO, Team, init_spec
from tests.support.waiting import wait_for

ROUNDS = 4
APPROVALS = 8
APPROVERS = (APPROVER, "frank@example.com", "grace@example.com")
CONVERGE_TIMEOUT = 300.0
"""A guard against hangs, not a budget: the wait ends as soon as the invariants hold."""


def test_concurrent_editors_of_one_draft(team: Team, figures: dict[str, Any]) -> None:
    name = f"{REPO}.shared.v1"
    team.create(name, init_spec("shared", "v1"))
    team.settled(name)
    editing.bind_editors(team)
    branch = "refs/heads/drafts/shared/v1"
    editing.settled(team, name)
    created = team.refs()[branch]
    session = editing.Session(team, name)
    for round_ in range(ROUNDS):
        session.round(round_)
    invariants.converged(team, timeout=CONVERGE_TIMEOUT)

    shown = editing.settled(team, name)["spec"]["resources"]
    assert editing.branch_files(team, team.refs()[branch], "shared") == shown
    last = session.last_writes()
    assert {path: editing.token_of(shown.get(path)) for path in last} == last, "an edit is lost"
    made = editing.changes(team, created, branch)
    assert 0 < len(made) <= len(session.edits), f"{len(made)} commits, {len(session.edits)} edits"
    for author, files in made:
        assert author in session.editors, f"a commit by {author}"
        own = editing.own_file(session.editors.index(author))
        assert f"shared/{own}" in files, f"{author}'s commit does not carry {own}"
    figures.update(
        editors=len(session.editors), edits=len(session.edits), commits=len(made), lost=0
    )


def _bind_approvers(team: Team) -> None:
    for user in APPROVERS[1:]:
        binding = f"approver-{user.split('@')[0]}"
        if team.cluster.get("rolebinding", binding, team.namespace) is None:
            team.cluster.kubectl(
                "create", "rolebinding", "-n", team.namespace, binding,
                "--clusterrole=lanai-package-approver", f"--user={user}",
            )  # fmt: skip


@pytest.mark.parametrize("kill", [False, True], ids=["steady", "killed"])
def test_concurrent_approvers_of_one_package(
    team: Team, operators: Operators, figures: dict[str, Any], kill: bool
) -> None:
    _bind_approvers(team)
    names = [f"{REPO}.app.w{n}" for n in range(APPROVALS)]
    for n, name in enumerate(names):
        team.create(name, {**init_spec("app", f"w{n}"), "lifecycle": "Proposed"})
    for name in names:
        team.settled(name)
    operators.start()

    start = threading.Barrier(len(names))
    approver = {name: APPROVERS[n % len(APPROVERS)] for n, name in enumerate(names)}

    def approve(name: str) -> str:
        start.wait()
        return team.move(name, "Published", approver[name])

    with ThreadPoolExecutor(len(names)) as pool:
        refusals = list(pool.map(approve, names))
    assert refusals == [""] * len(names)
    if kill:
        # As soon as the first approval is in Git, while the others are under way.
        wait_for(
            lambda: any(ref.startswith("refs/tags/app/") for ref in team.refs()),
            timeout=CONVERGE_TIMEOUT,
            what="the first approval to reach Git",
        )
        assert operators.current is not None
        operators.current.kill()
        in_git = sum(ref.startswith("refs/tags/app/") for ref in team.refs())
        figures["tagged_at_kill"] = in_git
        operators.kills.by_point["during-approvals"] += 1
        operators.start()
    snap = invariants.converged(team, timeout=CONVERGE_TIMEOUT)

    shown = {obj["metadata"]["name"]: obj for obj in snap.revisions}
    numbers = sorted(shown[name]["status"]["revision"] for name in names)
    assert numbers == list(range(1, APPROVALS + 1)), numbers
    for name in names:
        assert shown[name]["status"]["publishedBy"] == approver[name]
    assert snap.approvals == Counter(("app", n) for n in numbers), snap.approvals
    figures.update(
        approvals=APPROVALS,
        approvers=len(APPROVERS),
        kills=operators.kills.total,
        numbers=f"1..{numbers[-1]}",
        duplicates=0,
    )
