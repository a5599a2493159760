"""Session fixtures for the end-to-end suite: everything real.

- ``cluster``: the Go-built kube-apiserver + etcd with RBAC and client-certificate auth
  (or, with ``LANAI_USE_EXISTING_CLUSTER=1``, whatever ``KUBECONFIG`` points at), with
  our CRDs and admission policy applied;
- ``git_server``: bare repositories over smart HTTP (``git http-backend``) that demand
  basic auth or a bearer token;
- ``operator``: ``python -m lanai run`` as its own process, its log captured.

Without a kubelet or controller-manager namespaces never finish deleting, so each test
takes a fresh ``namespace`` and nothing is torn down between tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from lanai.local import controlplane, gitserver
from tests.support import waiting
from tests.support.cluster import Cluster
from tests.support.gitwork import GIT_PASSWORD, GIT_TOKEN, GIT_USER
from tests.support.operator import OperatorProcess
from tests.support.team import Team, make_team

ROOT = Path(__file__).resolve().parents[2]


E2E_TIMEOUT = 600
"""Seconds an end-to-end test may take before pytest-timeout stops it (pyproject's 300
is for unit tests). It is a guard against hangs, not a measure: on a machine at load
average 40 one CLI test of fifteen commands took over 300 s, each command a new Python
process starved of CPU, while nothing in it waited on a clock."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(E2E_TIMEOUT))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    setattr(item, f"rep_{report.when}", report)  # type: ignore[attr-defined]
    return report


def _crd_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        for doc in YAML(typ="safe").load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                documents.append(doc)
    return documents


def _install(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(ROOT / "crds"))
    names = [f"crd/{doc['metadata']['name']}" for doc in _crd_documents()]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    policy = ROOT / "config" / "policy"
    if (policy / "kustomization.yaml").exists():
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(policy))
        _wait_for_policy(cluster)


def _wait_for_policy(cluster: Cluster) -> None:
    """A new admission policy is enforced only once the API server has loaded it (a
    second or so); until then the first tests would see requests pass that it refuses.
    Probe with a server-side dry run as a user allowed to create revisions."""
    probe_user = "lanai-policy-probe"
    namespace = "lanai-policy-probe"
    if cluster.get("namespace", namespace) is None:
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl(
            "create",
            "role",
            "-n",
            namespace,
            "create-revisions",
            "--verb=create",
            "--resource=packagerevisions.porch.kpt.dev",
        )
        cluster.kubectl(
            "create",
            "rolebinding",
            "-n",
            namespace,
            "create-revisions",
            "--role=create-revisions",
            f"--user={probe_user}",
        )
    published = json.dumps(
        {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": "probe.probe.probe"},
            "spec": {
                "repository": "probe",
                "packageName": "probe",
                "workspaceName": "probe",
                "lifecycle": "Published",
            },
        }
    )

    def refused() -> bool:
        done = cluster.kubectl(
            "create",
            "--dry-run=server",
            "-n",
            namespace,
            "-f",
            "-",
            input=published,
            user=probe_user,
            check=False,
        )
        return "must be created as Draft or Proposed" in done.stderr

    waiting.wait_for(refused, timeout=60, interval=0.2, what="the admission policy to be enforced")


def wait_until_serving(cluster: Cluster) -> None:
    """After an API server (re)start: /readyz answers before every CRD is served again and
    before the admission policy is loaded, and until then requests fail or, worse, pass
    unchecked. Wait for both."""
    kinds = ",".join(
        f"{doc['spec']['names']['plural']}.{doc['spec']['group']}" for doc in _crd_documents()
    )

    def served() -> bool:
        done = cluster.kubectl("get", kinds, "-A", "--request-timeout=10s", check=False)
        return done.returncode == 0

    waiting.wait_for(served, timeout=120, interval=0.2, what="every CRD to be served again")
    if (ROOT / "config" / "policy" / "kustomization.yaml").exists():
        _wait_for_policy(cluster)


@pytest.fixture(scope="session")
def control_plane(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[controlplane.ControlPlane | None]:
    """The bundled etcd + kube-apiserver (None with ``LANAI_USE_EXISTING_CLUSTER=1``);
    tests may restart its API server (``restart_apiserver``), etcd keeps everything."""
    if os.environ.get("LANAI_USE_EXISTING_CLUSTER") == "1":
        yield None
        return
    plane = controlplane.ControlPlane(
        workdir=tmp_path_factory.mktemp("controlplane"),
        binaries=controlplane.find_binaries(),
    )
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def cluster(control_plane: controlplane.ControlPlane | None) -> Cluster:
    if control_plane is None:
        kubeconfig = Path(os.environ.get("KUBECONFIG", Path.home() / ".kube" / "config"))
        existing = Cluster(kubeconfig=kubeconfig, root=ROOT)
        _install(existing)
        return existing
    local = Cluster(kubeconfig=control_plane.kubeconfig, root=ROOT)
    _install(local)
    return local


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    return cluster.new_namespace()


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    server = gitserver.GitServer(
        tmp_path_factory.mktemp("git"),
        gitserver.Credentials(users={GIT_USER: GIT_PASSWORD}, tokens={GIT_TOKEN}),
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def operator(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """One operator for the whole session; tests that kill it use ``operator_factory``."""
    process = OperatorProcess(cluster.kubeconfig, tmp_path_factory.mktemp("operator")).start()
    yield process
    process.stop()


@pytest.fixture
def team(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
) -> Team:
    """A Ready Repository ``blueprints`` in a fresh namespace, with an author and an approver."""
    return make_team(cluster, namespace, git_server)


@pytest.fixture
def operator_factory(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[type[OperatorProcess]]:
    started: list[OperatorProcess] = []

    class _Factory(OperatorProcess):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(cluster.kubeconfig, tmp_path_factory.mktemp("operator"), **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield _Factory
    for process in started:
        process.stop()


@pytest.fixture(autouse=True)
def _operator_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a test fails, show the end of the operator's log with the failure."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed or "operator" not in request.fixturenames:
        return
    process: OperatorProcess = request.getfixturevalue("operator")
    print("----- operator log (tail) -----")
    print(process.log()[-6000:])
