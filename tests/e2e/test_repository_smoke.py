"""A Repository pointing at the Git server becomes Ready; broken ones say why.

The whole stack at its thinnest: kubectl → API server (CRD) → operator process (kopf)
→ Secret → Git over smart HTTP with auth → status condition and Event.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

import pytest

from lanai.local import gitserver, processes
from tests.support import manifests
from tests.support.cluster import Cluster
from tests.support.gitwork import GIT_PASSWORD, GIT_TOKEN, GIT_USER
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for


def _ready(cluster: Cluster, name: str, namespace: str, status: str) -> dict[str, Any] | None:
    return manifests.repository_ready(cluster, name, namespace, status)


def test_repository_with_basic_auth_becomes_ready(
    cluster: Cluster, namespace: str, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    url = git_server.create_repository(f"{namespace}-basic")
    cluster.apply(manifests.basic_auth_secret("git-auth", namespace, GIT_USER, GIT_PASSWORD))
    cluster.apply(manifests.repository("blueprints", namespace, url, "git-auth"))

    ready = wait_for(lambda: _ready(cluster, "blueprints", namespace, "True"), what="Ready=True")
    assert ready["reason"] == "Ready"
    repo = cluster.get("repositories.config.porch.kpt.dev", "blueprints", namespace)
    assert repo is not None
    head = git_server.repository_path(f"{namespace}-basic") / "refs" / "heads" / "main"
    assert repo["status"]["gitCommitHash"] == head.read_text().strip()
    assert repo["status"]["observedGeneration"] == repo["metadata"]["generation"]
    # kopf's bookkeeping stays out of metadata (no drift for Argo CD).
    annotations = repo["metadata"].get("annotations") or {}
    assert not [key for key in annotations if "kopf" in key]
    reasons = [e["reason"] for e in manifests.events(cluster, namespace, "blueprints")]
    assert "Ready" in reasons


def test_repository_with_bearer_token_becomes_ready(
    cluster: Cluster, namespace: str, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    url = git_server.create_repository(f"{namespace}-bearer")
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "git-token", "namespace": namespace},
            "data": {"bearerToken": base64.b64encode(GIT_TOKEN.encode()).decode()},
        }
    )
    cluster.apply(manifests.repository("tokens", namespace, url, "git-token"))
    wait_for(lambda: _ready(cluster, "tokens", namespace, "True"), what="Ready=True")


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("wrong-password", "authentication failed"),
        ("missing-secret", 'Secret "absent" not found'),
        ("unreachable", "cannot reach the repository"),
        (
            "missing-branch",
            'branch "release" does not exist in the repository; '
            "create it or set spec.git.createBranch: true",
        ),
    ],
)
def test_broken_repository_is_not_ready_with_the_cause(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    case: str,
    expect: str,
) -> None:
    url = git_server.create_repository(f"{namespace}-{case}")
    secret = "git-auth"
    extra: dict[str, Any] = {}
    cluster.apply(
        manifests.basic_auth_secret(
            "git-auth",
            namespace,
            GIT_USER,
            "not-the-password" if case == "wrong-password" else GIT_PASSWORD,
        )
    )
    if case == "missing-secret":
        secret = "absent"
    if case == "unreachable":
        url = f"http://127.0.0.1:{processes.free_port()}/nothing.git"
    repo = manifests.repository("broken", namespace, url, secret, **extra)
    if case == "missing-branch":
        repo["spec"]["git"]["branch"] = "release"
    cluster.apply(repo)

    ready = wait_for(lambda: _ready(cluster, "broken", namespace, "False"), what="Ready=False")
    assert ready["reason"] == "Error"
    assert expect in ready["message"]
    # The password never shows up in status or events.
    assert "not-the-password" not in json.dumps(
        cluster.get("repositories.config.porch.kpt.dev", "broken", namespace)
    )
    assert GIT_PASSWORD not in json.dumps(manifests.events(cluster, namespace, "broken"))
    reasons = [e["reason"] for e in manifests.events(cluster, namespace, "broken")]
    assert "SyncFailed" in reasons


def test_fixing_the_secret_makes_the_repository_ready(
    cluster: Cluster, namespace: str, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    url = git_server.create_repository(f"{namespace}-fix")
    cluster.apply(manifests.basic_auth_secret("git-auth", namespace, GIT_USER, "stale"))
    cluster.apply(manifests.repository("fixme", namespace, url, "git-auth"))
    wait_for(lambda: _ready(cluster, "fixme", namespace, "False"), what="Ready=False")

    cluster.apply(manifests.basic_auth_secret("git-auth", namespace, GIT_USER, GIT_PASSWORD))
    wait_for(
        lambda: _ready(cluster, "fixme", namespace, "True"),
        what="Ready=True after the fix",
        timeout=60,
    )


def test_operator_serves_metrics_and_liveness(
    cluster: Cluster, namespace: str, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    url = git_server.create_repository(f"{namespace}-metrics")
    cluster.apply(manifests.basic_auth_secret("git-auth", namespace, GIT_USER, GIT_PASSWORD))
    cluster.apply(manifests.repository("measured", namespace, url, "git-auth"))
    wait_for(lambda: _ready(cluster, "measured", namespace, "True"), what="Ready=True")

    def scrape() -> str | None:
        with urllib.request.urlopen(operator.metrics_url, timeout=5) as answer:  # noqa: S310
            text: str = answer.read().decode()
        wanted = f'lanai_repository_ready{{name="measured",namespace="{namespace}"}} 1.0'
        return text if wanted in text else None

    metrics = wait_for(scrape, what="the repository's ready gauge")
    assert 'lanai_reconcile_total{kind="Repository",outcome="ok"}' in metrics
    with urllib.request.urlopen(operator.health_url, timeout=5) as answer:  # noqa: S310
        assert answer.status == 200
