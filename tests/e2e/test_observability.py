"""What Prometheus and a liveness probe see of a working operator."""

from __future__ import annotations

import urllib.request

from tests.support.operator import OperatorProcess
from tests.support.team import REPO, Team, init_spec
from tests.support.waiting import wait_for


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (local test URL)
        assert response.status == 200
        return str(response.read().decode())


def test_metrics_and_health_are_served(
    operator: OperatorProcess,
    team: Team,
) -> None:
    name = f"{REPO}.observed.v1"
    team.create(name, init_spec("observed", "v1"))
    team.settled(name)
    metrics = _get(operator.metrics_url)
    assert 'lanai_reconcile_total{kind="PackageRevision",outcome="ok"}' in metrics
    assert 'lanai_reconcile_total{kind="Repository",outcome="ok"}' in metrics
    assert f'lanai_repository_ready{{name="{REPO}",namespace="{team.namespace}"}} 1.0' in metrics
    assert "lanai_reconcile_duration_seconds_bucket" in metrics
    where = f'name="{REPO}",namespace="{team.namespace}"'
    assert f"lanai_repository_sync_duration_seconds_count{{{where},outcome=" in metrics
    drafts = f'lanai_repository_revisions{{lifecycle="Draft",{where}}} 1.0'
    wait_for(lambda: drafts in _get(operator.metrics_url).splitlines(), what="the revision gauge")
    assert 'lanai_git_operation_duration_seconds_count{operation="fetch",outcome=' in metrics
    assert 'lanai_git_operation_duration_seconds_count{operation="push",outcome="ok"}' in metrics
    _get(operator.health_url)
