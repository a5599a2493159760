"""The operator runs with nothing but its ServiceAccount's permissions (config/rbac).

A token for ``system:serviceaccount:lanai-system:lanai`` (TokenRequest API, the same on
the bundled control plane and on any cluster) drives a whole lifecycle: registration,
init, edit and render, propose, approve, propose-delete and delete. A permission
missing from the ClusterRole fails the run and shows as Forbidden in the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_manifests import installed_rbac  # noqa: F401  (a fixture)
from tests.support.cluster import Cluster
from tests.support.operator import OperatorProcess
from tests.support.team import APPROVER, REPO, Team, edit, init_spec, publish
from tests.support.waiting import wait_for


@pytest.fixture
def service_account_operator(
    cluster: Cluster,
    operator: OperatorProcess,
    installed_rbac: None,  # noqa: F811
    tmp_path: Path,
) -> Iterator[OperatorProcess]:
    """Replace the session's (admin) operator by one running as the ServiceAccount."""
    kubeconfig = cluster.service_account_kubeconfig(tmp_path / "sa.kubeconfig")
    who = cluster.kubectl(f"--kubeconfig={kubeconfig}", "auth", "whoami", "-o", "json")
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == (
        "system:serviceaccount:lanai-system:lanai"
    )
    operator.stop()
    restricted = OperatorProcess(kubeconfig, tmp_path / "operator").start()
    try:
        yield restricted
    finally:
        restricted.stop()
        operator.start()


def test_the_lifecycle_runs_with_only_the_operators_rbac(
    service_account_operator: OperatorProcess,
    team: Team,
) -> None:
    name = f"{REPO}.rbac.v1"
    team.create(name, init_spec("rbac", "v1"))
    team.settled(name)
    edit(team, name, {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"})
    published = publish(team, name)
    assert published["status"]["publishedBy"] == APPROVER
    assert "refs/tags/rbac/v1" in team.refs()
    wait_for(
        lambda: (
            (team.get(name) or {})
            .get("metadata", {})
            .get("labels", {})
            .get("porch.kpt.dev/latest-revision")
            == "true"
        ),
        what="the latest-revision label",
    )
    assert team.move(name, "DeletionProposed", APPROVER) == ""
    team.settled(name)
    team.cluster.kubectl("delete", "-n", team.namespace, "rpkg", name, user=APPROVER)
    wait_for(lambda: team.get(name) is None, what=f"{name} to be deleted")
    assert "refs/tags/rbac/v1" not in team.refs()
    log = service_account_operator.log()
    assert "Forbidden" not in log
    assert " 403" not in log
