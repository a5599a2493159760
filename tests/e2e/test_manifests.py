"""The install and the samples are accepted by a real API server, and the operator's
ServiceAccount holds exactly the permissions config/rbac means to grant.

There is no kubelet, so the Deployment never runs: the manifests are checked with
server-side dry runs (schema, CEL rules, admission policies all apply), and only the
RBAC objects, which change nothing else, are applied for real.
"""

from __future__ import annotations

import pytest

from tests.support.cluster import Cluster

SERVICE_ACCOUNT = "system:serviceaccount:lanai-system:lanai"
SA_GROUPS = [
    "system:serviceaccounts",
    "system:serviceaccounts:lanai-system",
    "system:authenticated",
]


@pytest.fixture(scope="module")
def installed_rbac(cluster: Cluster) -> None:
    cluster.install_rbac()


def test_default_install_is_accepted(cluster: Cluster, installed_rbac: None) -> None:
    done = cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--dry-run=server",
        "-k",
        str(cluster.root / "config" / "default"),
    )
    for created in (
        "deployment.apps/lanai",
        "service/lanai-metrics",
        "clusterrole.rbac.authorization.k8s.io/lanai-operator",
        "validatingadmissionpolicy.admissionregistration.k8s.io/lanai-packagerevision-approval",
        "customresourcedefinition.apiextensions.k8s.io/packagerevisions.porch.kpt.dev",
    ):
        assert created in done.stdout


@pytest.mark.parametrize(
    "path", ["config/samples", "config/samples/clone", "config/samples/variants"]
)
def test_samples_are_accepted(cluster: Cluster, namespace: str, path: str) -> None:
    done = cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "-n",
        namespace,
        "-k",
        str(cluster.root / path),
    )
    assert "serverside-applied (server dry run)" in done.stdout
    assert "error" not in done.stderr.lower()


def _can(cluster: Cluster, verb: str, resource: str, namespace: str = "team-a") -> bool:
    resource, _, subresource = resource.partition("/")
    args = ["auth", "can-i", verb, resource, "-n", namespace]
    if subresource:
        args.append(f"--subresource={subresource}")
    done = cluster.kubectl(*args, user=SERVICE_ACCOUNT, groups=SA_GROUPS, check=False)
    answer = done.stdout.strip()
    assert answer in ("yes", "no"), done.stderr
    return answer == "yes"


GRANTED = [
    ("watch", "repositories.config.porch.kpt.dev"),
    ("patch", "repositories.config.porch.kpt.dev"),
    ("patch", "repositories.config.porch.kpt.dev/status"),
    ("create", "packagerevisions.porch.kpt.dev"),
    ("delete", "packagerevisions.porch.kpt.dev"),
    ("patch", "packagerevisions.porch.kpt.dev/status"),
    ("create", "packagerevisions.porch.kpt.dev/mirror"),
    ("update", "packagerevisions.porch.kpt.dev/approval"),
    ("create", "packagerevisionresources.porch.kpt.dev"),
    ("get", "secrets"),
    ("create", "events"),
    ("create", "events.events.k8s.io"),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    ("create", "packagevariants.config.porch.kpt.dev"),
    ("patch", "packagevariantsets.config.porch.kpt.dev/status"),
    ("create", "packagevariants.config.porch.kpt.dev/delegate"),
    ("get", "configmaps"),
    ("list", "configmaps"),
]
REFUSED = [
    ("list", "secrets"),
    ("watch", "secrets"),
    ("create", "repositories.config.porch.kpt.dev"),
    ("delete", "repositories.config.porch.kpt.dev"),
    ("update", "packagerevisions.porch.kpt.dev"),
    ("create", "pods"),
    ("create", "leases.coordination.k8s.io"),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ("patch", "customresourcedefinitions.apiextensions.k8s.io"),
    ("update", "configmaps"),
    ("watch", "configmaps"),
    ("create", "packagevariantsets.config.porch.kpt.dev"),
]


@pytest.mark.parametrize(("verb", "resource"), GRANTED)
def test_operator_service_account_may(
    cluster: Cluster, installed_rbac: None, verb: str, resource: str
) -> None:
    assert _can(cluster, verb, resource)


@pytest.mark.parametrize(("verb", "resource"), REFUSED)
def test_operator_service_account_may_not(
    cluster: Cluster, installed_rbac: None, verb: str, resource: str
) -> None:
    assert not _can(cluster, verb, resource)
