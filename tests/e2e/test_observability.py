"""What Prometheus and a liveness probe see of a working operator."""

from __future__ import annotations

import urllib.request

from tests.e2e.test_lifecycle import REPO, Team, _init, team  # noqa: F401
from tests.support.operator import OperatorProcess


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (local test URL)
        assert response.status == 200
        return str(response.read().decode())


def test_metrics_and_health_are_served(
    operator: OperatorProcess,
    team: Team,  # noqa: F811
) -> None:
    name = f"{REPO}.observed.v1"
    team.create(name, _init("observed", "v1"))
    team.settled(name)
    metrics = _get(operator.metrics_url)
    assert 'lanai_reconcile_total{kind="PackageRevision",outcome="ok"}' in metrics
    assert 'lanai_reconcile_total{kind="Repository",outcome="ok"}' in metrics
    assert f'lanai_repository_ready{{name="{REPO}",namespace="{team.namespace}"}} 1.0' in metrics
    assert "lanai_reconcile_duration_seconds_bucket" in metrics
    _get(operator.health_url)
