"""The API server restarts while a Repository sync is half written.

Revisions are pushed to Git behind Lanai's back; the operator is frozen (SIGSTOP, at the
``sync-created`` point) in the middle of creating their objects, some created, some with
no status yet, some not created. The API server is stopped (etcd keeps everything), the
operator goes on against no API server at all, and the API server comes back at the same
address. Everything must converge with no help: one object per revision, each Ready and
equal to Git, a Draft created meanwhile in Git, and the operator's watches alive (an
approval made after the restart is carried out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lanai import faults
from lanai.local import controlplane, gitserver
from tests.e2e.conftest import wait_until_serving
from tests.e2e.faults.conftest import Operators
from tests.support import crashes, gitwork, invariants, manifests
from tests.support.cluster import Cluster
from tests.support.team import APPROVER, REPO, init_spec, make_team

SEEDED = 12
CONVERGE_TIMEOUT = 300.0
"""A guard against hangs, not a budget: the wait ends as soon as the invariants hold."""


def test_api_server_restarted_mid_sync(
    cluster: Cluster,
    control_plane: controlplane.ControlPlane | None,
    namespace: str,
    git_server: gitserver.GitServer,
    operators: Operators,
    figures: dict[str, Any],
    tmp_path: Path,
) -> None:
    if control_plane is None:
        pytest.skip("restarting the API server needs the bundled control plane")
    team = make_team(cluster, namespace, git_server)
    proposal = f"{REPO}.later.v1"
    team.create(proposal, {**init_spec("later", "v1"), "lifecycle": "Proposed"})
    team.settled(proposal)

    work = gitwork.clone(team.url, tmp_path / "work")
    tags = []
    for n in range(SEEDED):
        package = f"seed{n:02d}"
        files = {"Kptfile": gitwork.KPTFILE.format(name=package)}
        gitwork.commit_package(work, package, files, package)
        gitwork.git(work, "tag", f"{package}/v1")
        tags.append(f"{package}/v1")
    gitwork.git(work, "push", "-q", "origin", "main", *tags)

    subject = f"{REPO}.seed{SEEDED // 2:02d}.v1"
    frozen = operators.armed(faults.SYNC_CREATED, subject, freeze=True)
    manifests.sync_now(cluster, namespace, team.repository)
    crashes.frozen_at(frozen, faults.SYNC_CREATED, subject)
    draft = f"{REPO}.meanwhile.v1"
    team.create(draft, init_spec("meanwhile", "v1"))  # the frozen operator has not seen it

    control_plane.stop_apiserver()
    crashes.thaw(frozen)
    frozen.wait_for_log(rf"thawed at {faults.SYNC_CREATED}:{subject}", timeout=120)
    control_plane.start_apiserver()
    wait_until_serving(cluster)

    assert team.move(proposal, "Published", APPROVER) == ""
    snap = invariants.converged(team, timeout=CONVERGE_TIMEOUT)
    names = [obj["metadata"]["name"] for obj in snap.revisions]
    for n in range(SEEDED):
        assert names.count(f"{REPO}.seed{n:02d}.v1") == 1
    assert "refs/heads/drafts/meanwhile/v1" in snap.refs
    assert (team.get(proposal) or {})["status"]["revision"] == 1
    assert frozen.process is not None
    assert frozen.process.poll() is None, "the operator died"
    figures.update(
        api_restarts=1, synced=SEEDED, created_meanwhile=1, approvals=1, lost=0, duplicates=0
    )
