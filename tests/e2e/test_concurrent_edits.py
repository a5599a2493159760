"""Concurrent editors of one Draft: Git ends holding the last write, once.

Several authors patch the same PackageRevisionResources at the same moment, round
after round, also while the operator is killed and while the Git server is down. After
each run: Git holds exactly the object's files, which are the last write of each file;
the draft branch got no more commits than there were edits, each attributed to an
editor; a watch on the object never saw older content come back after newer content;
and while an edit was not yet in Git the revision said Ready=False, reason Pending.

Porch refuses a second simultaneous update of the same resources ("another request is
already in progress"); Lanai accepts every patch the API server accepts and commits them
in order. What both share is ported below: two updates from the same resourceVersion,
one wins and the other gets a 409 Conflict.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from lanai.local import gitserver, processes
from tests.support import editing
from tests.support.cluster import Cluster, condition
from tests.support.editing import EDITORS, SHARED, Session, Watch
from tests.support.gitwork import GIT_PASSWORD, GIT_TOKEN, GIT_USER
from tests.support.operator import OperatorProcess
from tests.support.team import REPO, Team, edit, init_spec, make_team
from tests.support.waiting import wait_for

ROUNDS = 6
LABELS = "pipeline:\n  mutators:\n  - image: set-labels:v0.2.0\n    configMap:\n      app: web\n"
PENDING = "an edit of the resources is not yet committed"


def _draft(team: Team, package: str, *, pipeline: bool = False) -> tuple[str, str, str]:
    """A settled Draft (with a rendering pipeline if asked); (name, branch, its head)."""
    name = f"{REPO}.{package}.v1"
    team.create(name, init_spec(package, "v1"))
    team.settled(name)
    editing.bind_editors(team)
    if pipeline:
        kptfile = (team.get(name, "prr") or {})["spec"]["resources"]["Kptfile"]
        edit(team, name, {"Kptfile": kptfile + LABELS})
    editing.settled(team, name)
    branch = f"refs/heads/drafts/{package}/v1"
    return name, branch, team.refs()[branch]


def _assert_converged(
    team: Team,
    name: str,
    package: str,
    branch: str,
    created: str,
    session: Session,
    watch: Watch,
    *,
    pipeline: bool = False,
) -> dict[str, Any]:
    """Git == object == the last write of each file; commits <= edits, all by editors;
    the watch never saw older content come back. Returns the figures."""
    resources = editing.settled(team, name)
    shown: dict[str, str] = resources["spec"]["resources"]
    in_git = editing.branch_files(team, team.refs()[branch], package)
    assert in_git == shown, "Git and the object differ"
    last = session.last_writes()
    assert {path: editing.token_of(shown.get(path)) for path in last} == last
    if pipeline:
        for path in last:
            assert "app: web" in shown[path], f"{path} is not rendered"
    made = editing.changes(team, created, branch)
    assert 0 < len(made) <= len(session.edits), f"{len(made)} commits for {len(session.edits)}"
    for author, files in made:
        # Attributed to the editor whose edit it carries: the last edit a commit takes
        # in always changes its author's own file.
        assert author in session.editors, f"a commit by {author}"
        assert f"{package}/{editing.own_file(session.editors.index(author))}" in files
    revision = team.get(name) or {}
    assert condition(revision, "Ready")["status"] == "True"  # type: ignore[index]
    final = watch.version(resources["metadata"]["resourceVersion"])
    watch.stop()
    assert final["spec"]["resources"] == shown
    assert editing.reverted(watch.versions) == []
    # No loop: each edit makes one generation, and at most one more when its rendered
    # files are written back.
    grown = final["metadata"]["generation"] - watch.versions[0][1]["metadata"]["generation"]
    assert grown <= 2 * len(session.edits), f"{grown} generations for {len(session.edits)} edits"
    return {"editors": len(session.editors), "edits": len(session.edits), "commits": len(made)}


@pytest.mark.parametrize("pipeline", [False, True], ids=["plain", "rendered"])
def test_concurrent_editors_converge_to_the_last_write(team: Team, pipeline: bool) -> None:
    package = "shared-rendered" if pipeline else "shared"
    name, branch, created = _draft(team, package, pipeline=pipeline)
    watch = Watch(team.cluster, "prr", name, team.namespace)
    session = Session(team, name)
    for round_ in range(ROUNDS):
        session.round(round_)
    figures = _assert_converged(
        team, name, package, branch, created, session, watch, pipeline=pipeline
    )
    print(f"concurrent edits ({'rendered' if pipeline else 'plain'}): {figures}")


def test_concurrent_editors_converge_across_operator_kills(
    team: Team, operator: OperatorProcess, operator_factory: type[OperatorProcess]
) -> None:
    """kill -9 the operator while rounds of edits are being committed."""
    name, branch, created = _draft(team, "killed", pipeline=True)
    watch = Watch(team.cluster, "prr", name, team.namespace)
    session = Session(team, name)
    operator.stop()
    current = operator_factory().start()
    kills = 0
    try:
        for round_ in range(ROUNDS):
            head = team.refs()[branch]
            session.round(round_)
            if round_ % 2 == 1:
                # As soon as the operator commits from this round, while it works on
                # the rest of the round's edits.
                wait_for(
                    lambda head=head: team.refs()[branch] != head,  # type: ignore[misc]
                    timeout=180,
                    what=f"a commit from round {round_}",
                )
                current.kill()
                kills += 1
                current = operator_factory().start()
        figures = _assert_converged(
            team, name, "killed", branch, created, session, watch, pipeline=True
        )
    finally:
        current.stop()
        operator.start()
    print(f"concurrent edits across {kills} kills: {figures}")


@pytest.mark.parametrize("point", ["edit-committed", "edit-shown"])
def test_an_operator_dying_in_the_middle_of_an_edit_commits_nothing_twice(
    team: Team, operator: OperatorProcess, operator_factory: type[OperatorProcess], point: str
) -> None:
    """Dead right after the push (edit-committed) or right after writing the rendered
    files back (edit-shown): the edit is still pending, the next operator commits nothing
    again, and an edit made meanwhile lands on top, attributed to its own author."""
    package = f"crash-{point.removeprefix('edit-')}"
    name, branch, created = _draft(team, package, pipeline=True)
    watch = Watch(team.cluster, "prr", name, team.namespace)
    session = Session(team, name)
    operator.stop()
    doomed = operator_factory(env={"LANAI_CRASH_AT": f"{point}:{name}"}).start()
    try:
        session.patch(0, 0)
        wait_for(
            lambda: doomed.process and doomed.process.poll() is not None,
            timeout=180,
            what="the crash",
        )
        assert team.refs()[branch] != created  # the first edit is in Git
        left = team.get(name, "prr") or {}
        assert left["status"]["observedGeneration"] < left["metadata"]["generation"]
        session.patch(1, 1)  # while no operator runs
    finally:
        doomed.stop()
        operator.start()
    figures = _assert_converged(team, name, package, branch, created, session, watch, pipeline=True)
    authors = [author for author, _subject in editing.commits(team, created, branch)]
    assert authors == [EDITORS[1], EDITORS[0]]  # newest first: one commit per edit
    print(f"crash at {point}: {figures}")


@pytest.fixture
def own_git_server(tmp_path: Path) -> Any:
    """A Git server of this test's own, on a fixed port so that it can be stopped and
    started again at the same address."""

    class Restartable:
        def __init__(self) -> None:
            self.root = tmp_path / "git"
            self.port = processes.free_port()
            self.server: gitserver.GitServer | None = None
            self.start()

        def start(self) -> gitserver.GitServer:
            credentials = gitserver.Credentials(users={GIT_USER: GIT_PASSWORD}, tokens={GIT_TOKEN})
            self.server = gitserver.GitServer(self.root, credentials, port=self.port).start()
            return self.server

        def stop(self) -> None:
            if self.server is not None:
                self.server.stop()
                self.server = None

    restartable = Restartable()
    yield restartable
    restartable.stop()


def test_an_edit_during_a_git_outage_is_pending_then_lands(
    cluster: Cluster, namespace: str, operator: OperatorProcess, own_git_server: Any
) -> None:
    server = own_git_server.server
    assert server is not None
    team = make_team(cluster, namespace, server)
    name, branch, created = _draft(team, "outage")
    watch = Watch(team.cluster, "prr", name, team.namespace)
    revision_watch = Watch(team.cluster, "rpkg", name, team.namespace)
    session = Session(team, name)
    session.round(0)
    editing.settled(team, name)

    before_outage = team.refs()[branch]
    quiet = (team.get(name) or {})["metadata"]["resourceVersion"]
    own_git_server.stop()
    session.round(1)
    session.round(2, editors=range(2))

    def pending() -> dict[str, Any] | None:
        revision = team.get(name)
        ready = condition(revision, "Ready")
        if ready and ready["status"] == "False" and ready["message"].startswith(f"{PENDING}: "):
            return revision
        return None

    waiting = wait_for(pending, timeout=120, what="Ready=False, reason Pending, with the cause")
    assert condition(waiting, "Ready")["reason"] == "Pending"  # type: ignore[index]
    resources = team.get(name, "prr") or {}
    assert resources["status"]["observedGeneration"] < resources["metadata"]["generation"]
    said = condition(resources, "Ready")
    assert said is not None
    assert (said["status"], said["reason"]) == ("False", "Pending")
    assert said["message"].startswith(f"{PENDING}: ")
    assert "Pending" in team.reasons(name)
    assert team.refs()[branch] == before_outage
    assert _kubectl_wait_ready(team, name, "1s").returncode != 0

    own_git_server.start()
    restarted = time.monotonic()
    figures = _assert_converged(team, name, "outage", branch, created, session, watch)
    assert _kubectl_wait_ready(team, name, "60s").returncode == 0
    revision_watch.stop()
    # Every version of the revision written while Git was down says Ready=False.
    versions = [obj for _when, obj in revision_watch.versions]
    start = next(i for i, obj in enumerate(versions) if obj["metadata"]["resourceVersion"] == quiet)
    during = [
        condition(obj, "Ready")
        for when, obj in revision_watch.versions[start + 1 :]
        if when < restarted
    ]
    assert during, "the revision's watch saw nothing during the outage"
    assert [c for c in during if c is None or c["status"] != "False"] == []
    print(f"edits during a Git outage: {figures}")


def _kubectl_wait_ready(team: Team, name: str, timeout: str) -> subprocess.CompletedProcess[str]:
    """``kubectl wait --for=condition=Ready`` on the resources object: it waits while the
    condition is about an older generation than the object's."""
    return team.cluster.kubectl(
        "wait", "-n", team.namespace, "--for=condition=Ready", f"--timeout={timeout}",
        f"prr/{name}", check=False,
    )  # fmt: skip


def test_two_updates_from_the_same_version_one_wins_the_other_conflicts(team: Team) -> None:
    """Porch's TestConcurrentResourceUpdates: both clients send the object they read;
    exactly one is accepted, the other is told the object changed (409), and only the
    accepted files reach Git, in one commit."""
    name, branch, created = _draft(team, "twice")
    read = team.get(name, "prr") or {}
    bodies = []
    for editor, user in enumerate(EDITORS[:2]):
        body = json.loads(json.dumps(read))
        body["spec"]["resources"][SHARED] = editing.configmap("shared", f"e{editor}r0")
        body.pop("status", None)
        bodies.append((user, json.dumps(body)))

    def replace(user: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                "kubectl", f"--kubeconfig={team.cluster.kubeconfig}", f"--as={user}",
                "--as-group=system:authenticated", "replace", "-f", "-",
            ],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    replaces = [replace(user) for user, _body in bodies]
    outcomes = [p.communicate(body) for p, (_user, body) in zip(replaces, bodies, strict=True)]
    codes = [p.returncode for p in replaces]
    assert sorted(codes) == [0, 1], outcomes
    loser = outcomes[codes.index(1)][1]
    assert "Conflict" in loser or "modified" in loser
    winner = codes.index(0)
    resources = editing.settled(team, name)
    assert editing.token_of(resources["spec"]["resources"][SHARED]) == f"e{winner}r0"
    assert editing.branch_files(team, branch, "twice") == resources["spec"]["resources"]
    assert [author for author, _ in editing.commits(team, created, branch)] == [EDITORS[winner]]
