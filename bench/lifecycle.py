"""The lifecycle targets of DESIGN.md §7, through the real operator and API server.

- ``apply`` of a Draft (``source.init``) until it is ``Ready`` (observedGeneration
  caught up, ``Ready=True``);
- approve (Proposed → Published) until ``Ready`` with the revision number, which the
  operator writes only after the approval commit and the tag are pushed;
- clone of a published 20-file package until ``Ready``.

Each sample is timed from the API request to the first poll (every 5 ms, one GET of the
object) that sees the result, so a sample overstates by at most one poll.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import cluster, stats
from lanai.local import controlplane, gitserver
from tests.support.cluster import Cluster
from tests.support.operator import OperatorProcess

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench-bot", "bench-password-not-secret"
NAMESPACE = "lifecycle"
REPO = "team"
REVISIONS = f"/apis/porch.kpt.dev/v1alpha2/namespaces/{NAMESPACE}/packagerevisions"
RESOURCES = f"/apis/porch.kpt.dev/v1alpha2/namespaces/{NAMESPACE}/packagerevisionresources"
MERGE = "application/merge-patch+json"


def _settled(api: cluster.Api, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = cluster.json.loads(api.get(f"{REVISIONS}/{name}"))
        status = obj.get("status") or {}
        ready = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)
        if status.get("observedGeneration") == obj["metadata"]["generation"] and ready:
            if ready["status"] != "True":
                raise RuntimeError(f"{name}: {ready['message']}")
            return dict(obj)
        time.sleep(0.005)
    raise TimeoutError(f"{name} did not settle within {timeout}s")


def _create(api: cluster.Api, package: str, workspace: str, source: dict[str, Any]) -> str:
    name = f"{REPO}.{package}.{workspace}"
    body = {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": name},
        "spec": {
            "repository": REPO,
            "packageName": package,
            "workspaceName": workspace,
            "lifecycle": "Draft",
            "source": source,
        },
    }
    api.send("POST", REVISIONS, body)
    return name


def _move(api: cluster.Api, name: str, lifecycle: str) -> None:
    api.send("PATCH", f"{REVISIONS}/{name}", {"spec": {"lifecycle": lifecycle}}, MERGE)


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run(workdir: Path, report: stats.Report, samples: int = 20) -> None:
    server = gitserver.GitServer(
        workdir / "git", gitserver.Credentials(users={USER: PASSWORD})
    ).start()
    url = server.create_repository("team")
    plane = controlplane.ControlPlane(workdir / "controlplane", controlplane.find_binaries())
    plane.start()
    operator = OperatorProcess(plane.kubeconfig, workdir / "operator")
    try:
        kube = Cluster(kubeconfig=plane.kubeconfig, root=ROOT)
        kube.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(ROOT / "crds"))
        kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
        kube.kubectl("apply", "--server-side", "-k", str(ROOT / "config" / "policy"))
        kube.kubectl("create", "namespace", NAMESPACE)
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/basic-auth",
                "metadata": {"name": "git-auth", "namespace": NAMESPACE},
                "stringData": {"username": USER, "password": PASSWORD},
            }
        )
        operator.start()
        kube.apply(
            {
                "apiVersion": "config.porch.kpt.dev/v1alpha1",
                "kind": "Repository",
                "metadata": {"name": REPO, "namespace": NAMESPACE},
                "spec": {
                    "type": "git",
                    "git": {"repo": url, "branch": "main", "secretRef": {"name": "git-auth"}},
                },
            }
        )
        kube.kubectl(
            "wait", "-n", NAMESPACE, "--for=condition=Ready", "--timeout=60s",
            f"repository/{REPO}",
        )  # fmt: skip
        api = cluster.Api(plane.server, plane.workdir / "pki")
        # Warm up: the first render imports the function runtimes.
        _settled(api, _create(api, "warmup", "v1", {"init": {}}))

        inits = []
        for i in range(samples):
            name = f"{REPO}.app{i}.v1"
            inits.append(
                _timed(lambda i=i, name=name: (
                    _create(api, f"app{i}", "v1", {"init": {"description": "bench"}}),
                    _settled(api, name),
                ))
            )  # fmt: skip
        report.add_percentiles("apply of a Draft (init) → Ready", inits, "ms", p50=100, p99=300)

        approvals = []
        for i in range(samples):
            name = f"{REPO}.app{i}.v1"
            _move(api, name, "Proposed")
            _settled(api, name)
            approvals.append(
                _timed(lambda name=name: (_move(api, name, "Published"), _settled(api, name)))
            )
        report.add_percentiles("approve → Ready, tag pushed", approvals, "ms", p50=150)

        base = f"{REPO}.base.v1"
        _create(api, "base", "v1", {"init": {"description": "a 20-file blueprint"}})
        _settled(api, base)
        files = cluster.json.loads(api.get(f"{RESOURCES}/{base}"))["spec"]["resources"]
        for n in range(18):
            files[f"cm{n:02}.yaml"] = (
                f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{n:02}\ndata:\n"
                + "".join(f"  key{k}: value {k}\n" for k in range(20))
            )
        api.send("PATCH", f"{RESOURCES}/{base}", {"spec": {"resources": files}}, MERGE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            prr = cluster.json.loads(api.get(f"{RESOURCES}/{base}"))
            if (prr.get("status") or {}).get("observedGeneration") == prr["metadata"]["generation"]:
                break
            time.sleep(0.05)
        _move(api, base, "Proposed")
        _settled(api, base)
        _move(api, base, "Published")
        _settled(api, base)
        clones = []
        for i in range(samples):
            name = f"{REPO}.site{i}.v1"
            source = {"cloneFrom": {"upstreamRef": {"name": base}}}
            clones.append(
                _timed(lambda i=i, name=name, source=source: (
                    _create(api, f"site{i}", "v1", source), _settled(api, name)
                ))
            )  # fmt: skip
        report.add_percentiles(
            f"clone of a {len(files)}-file package → Ready", clones, "ms", p50=250
        )
    finally:
        operator.stop()
        plane.stop()
        server.stop()
