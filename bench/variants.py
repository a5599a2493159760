"""The PackageVariantSet target of DESIGN.md §7: 100 Repositories → 100 downstream
Drafts Ready in ≤ 10 s, and the upgrade wave after the blueprint publishes v2.

The real control plane, Git server and operator process. One blueprint Repository and
100 deployment Repositories labelled ``env=prod``; the blueprint is published; then one
PackageVariantSet (repositorySelector ``env=prod``, a packageContext key per site from
a CEL expression) is created and timed:

- until every downstream PackageRevision (``<site>.app.packagevariant-1``) is a Ready
  Draft in Git, and
- until every PackageVariant is Ready (its downstream also carries the variant's
  package context: a second commit, rendered).

Then the 100 downstreams are approved (not timed), the blueprint publishes v2, and the
wave is timed until every variant has a Ready upgrade Draft. API writes are the API
server's own ``apiserver_request_total`` for POST/PUT/PATCH/DELETE during each phase
(Events included), divided by the number of downstreams.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cluster, stats, watching
from lanai.local import controlplane, gitserver
from tests.support.cluster import Cluster
from tests.support.operator import OperatorProcess

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench-bot", "bench-password-not-secret"
NAMESPACE = "fleet"
PACKAGE = "app"
REVISIONS = f"/apis/porch.kpt.dev/v1alpha2/namespaces/{NAMESPACE}/packagerevisions"
RESOURCES = f"/apis/porch.kpt.dev/v1alpha2/namespaces/{NAMESPACE}/packagerevisionresources"
VARIANTS = f"/apis/config.porch.kpt.dev/v1alpha1/namespaces/{NAMESPACE}/packagevariants"
SETS = f"/apis/config.porch.kpt.dev/v1alpha2/namespaces/{NAMESPACE}/packagevariantsets"
REPOSITORIES = f"/apis/config.porch.kpt.dev/v1alpha1/namespaces/{NAMESPACE}/repositories"
MERGE = "application/merge-patch+json"
APP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  version: "{version}"
"""


AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete]
  - level: None
"""


def _ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)
    if not ready or ready["status"] != "True":
        return False
    generation = obj["metadata"].get("generation")
    observed = status.get("observedGeneration", ready.get("observedGeneration"))
    return bool(observed == generation)


def _items(api: cluster.Api, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(api.get(path))["items"]
    return items


LAGGARDS: list[Callable[[], str]] = []
"""Describes what is not Ready yet, for a timeout's message."""


def _wait(what: str, probe: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``probe`` holds (polled every 50 ms)."""
    started = time.perf_counter()
    while not probe():
        if time.perf_counter() - started > timeout:
            detail = "; ".join(describe() for describe in LAGGARDS)
            raise TimeoutError(f"{what} not reached within {timeout}s: {detail}")
        time.sleep(0.05)
    return time.perf_counter() - started


def _not_ready(api: cluster.Api) -> str:
    found = []
    for variant in _items(api, VARIANTS):
        if not _ready(variant):
            ready = next(
                (c for c in (variant.get("status") or {}).get("conditions") or []
                 if c["type"] == "Ready"), {},
            )  # fmt: skip
            found.append(f"{variant['metadata']['name']}: {ready.get('message')}")
    return f"{len(found)} variants not Ready: " + " | ".join(found[:5])


def _cpu(plane: controlplane.ControlPlane, operator: OperatorProcess) -> dict[str, float]:
    pids = {**plane.pids, "operator": operator.process.pid if operator.process else 0}
    used = {name: cluster.cpu_seconds(pid) for name, pid in pids.items() if pid}
    # The Git server runs in this process; each request is a git process it waits for.
    children = os.times()
    used["Git server's git processes"] = children.children_user + children.children_system
    return used


def _settle(api: cluster.Api, name: str) -> None:
    _wait(name, lambda: _ready(json.loads(api.get(f"{REVISIONS}/{name}"))), 120)


def _publish(api: cluster.Api, name: str) -> None:
    for lifecycle in ("Proposed", "Published"):
        api.send("PATCH", f"{REVISIONS}/{name}", {"spec": {"lifecycle": lifecycle}}, MERGE)
        _settle(api, name)


def _blueprint(api: cluster.Api, version: int) -> None:
    name = f"blueprints.{PACKAGE}.v{version}"
    source: dict[str, Any] = (
        {"init": {}} if version == 1 else {"copyFrom": {"name": f"blueprints.{PACKAGE}.v1"}}
    )
    api.send(
        "POST",
        REVISIONS,
        {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": name},
            "spec": {"repository": "blueprints", "packageName": PACKAGE,
                     "workspaceName": f"v{version}", "lifecycle": "Draft", "source": source},
        },
    )  # fmt: skip
    _settle(api, name)
    resources = json.loads(api.get(f"{RESOURCES}/{name}"))
    files = {**resources["spec"]["resources"], "app.yaml": APP.format(version=version)}
    api.send("PATCH", f"{RESOURCES}/{name}", {"spec": {"resources": files}}, MERGE)

    def committed() -> bool:
        found = json.loads(api.get(f"{RESOURCES}/{name}"))
        return (found.get("status") or {}).get("observedGeneration") == found["metadata"][
            "generation"
        ]

    _wait("the blueprint edit", committed, 60)
    _publish(api, name)


def _writes(api: cluster.Api) -> dict[str, float]:
    return api.writes()


def _per_downstream(writes: dict[str, float], count: int) -> str:
    parts = sorted(writes.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v / count:.1f}" for k, v in parts if v)


def run(workdir: Path, report: stats.Report, sites: int = 100) -> None:
    server = gitserver.GitServer(
        workdir / "git",
        gitserver.Credentials(users={USER: PASSWORD}),
    ).start()
    # BENCH_AUDIT=1: the API server logs every write (audit.log in the control plane's
    # directory), to tell which component made each of the writes counted below.
    audit: list[str] = []
    if os.environ.get("BENCH_AUDIT"):
        workdir.mkdir(parents=True, exist_ok=True)
        policy = workdir / "audit-policy.yaml"
        policy.write_text(AUDIT_POLICY)
        log = workdir / "audit.log"
        audit = [f"--audit-policy-file={policy}", f"--audit-log-path={log}"]
    plane = controlplane.ControlPlane(
        workdir / "controlplane", controlplane.find_binaries(), apiserver_args=audit
    )
    plane.start()
    operator = OperatorProcess(plane.kubeconfig, workdir / "operator")
    watchers: list[watching.Watcher] = []
    try:
        kube = Cluster(kubeconfig=plane.kubeconfig, root=ROOT)
        operator.kubeconfig = cluster.install(kube, ROOT, NAMESPACE, USER, PASSWORD)
        operator.start()
        api = cluster.Api(plane.server, plane.workdir / "pki")
        LAGGARDS.append(lambda: _not_ready(api))
        names = ["blueprints", *(f"site-{n:03d}" for n in range(sites))]
        for name in names:
            url = server.create_repository(name)
            api.send(
                "POST",
                REPOSITORIES,
                {"apiVersion": "config.porch.kpt.dev/v1alpha1", "kind": "Repository",
                 "metadata": {"name": name,
                              "labels": {} if name == "blueprints" else {"env": "prod"}},
                 "spec": {"type": "git", "deployment": name != "blueprints",
                          "git": {"repo": url, "branch": "main",
                                  "secretRef": {"name": "git-auth"}}}},
            )  # fmt: skip

        def repositories_ready() -> bool:
            return sum(_ready(r) for r in _items(api, REPOSITORIES)) == len(names)

        took = _wait("every Repository Ready", repositories_ready, 600)
        print(f"    {len(names)} Repositories Ready in {took:.1f} s", flush=True)
        _blueprint(api, 1)
        time.sleep(3)  # let the Repository syncs the blueprint woke settle first
        if not _downstreams_absent(api):
            raise RuntimeError("downstream revisions exist before the set")

        # -- the fan-out -----------------------------------------------------------
        # Watches tell when each count is reached (their event's arrival), without the
        # API server load of listing every object many times a second.
        session = cluster.Session(plane.server, plane.workdir / "pki")
        revisions = watching.Watcher(session, REVISIONS).start()
        variants = watching.Watcher(session, VARIANTS).start()
        watchers += [revisions, variants]
        before, reads_before = _writes(api), api.reads()
        cpu_before, load_before = _cpu(plane, operator), cluster.load_average()
        started = time.perf_counter()
        api.send(
            "POST",
            SETS,
            {"apiVersion": "config.porch.kpt.dev/v1alpha2", "kind": "PackageVariantSet",
             "metadata": {"name": "fleet"},
             "spec": {"upstream": {"repo": "blueprints", "package": PACKAGE},
                      "targets": [{"repositorySelector": {"matchLabels": {"env": "prod"}},
                                   "template": {"packageContext": {"dataExprs": [
                                       {"key": "site", "valueExpr": "repository.name"}]}}}]}},
        )  # fmt: skip
        drafts_at = (
            revisions.until(lambda seen: _count_ready(seen, "packagevariant-1") >= sites, 300)
            - started
        )
        variants_at = (
            variants.until(lambda seen: sum(map(_ready, seen.values())) >= sites, 300)
            - started
            - drafts_at
        )
        total = time.perf_counter() - started
        cpu = cluster.delta(cpu_before, _cpu(plane, operator))
        load_after = cluster.load_average()
        time.sleep(3)  # let the syncs the new packages woke finish (their writes count too)
        writes = cluster.delta(before, _writes(api))
        reads = cluster.delta(reads_before, api.reads())
        report.add(f"PackageVariantSet → {sites} downstream Drafts Ready", drafts_at, "s", 10)
        report.add(
            f"PackageVariantSet → {sites} PackageVariants Ready (package context committed)",
            variants_at + drafts_at, "s",
        )  # fmt: skip
        report.add("  fan-out: wall time per downstream", total / sites * 1000, "ms")
        report.add("  fan-out: API writes per downstream", sum(writes.values()) / sites, "requests")
        print(f"    writes per downstream: {_per_downstream(writes, sites)}", flush=True)
        print(f"    reads per downstream: {_per_downstream(reads, sites)}", flush=True)
        print(f"    events per downstream: {_events(api, sites)}", flush=True)
        for name, seconds in sorted(cpu.items()):
            report.add(f"  fan-out: CPU used by {name}", seconds, "s")
        report.add("  load average (1 min) before / after the fan-out", load_before, "",
                   note=f"/ {load_after:.1f}")  # fmt: skip

        # -- the upgrade wave --------------------------------------------------------
        # Publish only once the Repository syncs the new packages woke have passed: a
        # sync that read Git just before a variant's edit can show the older files in
        # the resources object, which Lanai then commits back (a race outside the
        # variant controller; the variant re-applies its changes, but an approval in
        # between would publish the older files).
        time.sleep(5)
        _wait(
            "the variants to be Ready after the syncs",
            lambda: sum(_ready(v) for v in _items(api, VARIANTS)) >= sites,
            300,
        )
        for n in range(sites):
            _publish(api, f"site-{n:03d}.{PACKAGE}.packagevariant-1")
        _wait(
            "the variants to settle on their published downstreams",
            lambda: sum(_ready(v) for v in _items(api, VARIANTS)) >= sites,
            300,
        )
        time.sleep(3)
        before = _writes(api)
        started = time.perf_counter()
        _blueprint(api, 2)
        published_at = time.perf_counter() - started
        upgrades_at = (
            revisions.until(lambda seen: _count_ready(seen, "packagevariant-2") >= sites, 300)
            - started
        )
        report.add(
            f"blueprint v2 published → {sites} upgrade Drafts Ready",
            upgrades_at, "s", note=f"(publishing v2 itself: {published_at:.1f} s)",
        )  # fmt: skip
        try:
            settled_at = (
                variants.until(lambda seen: _variants_on(seen, "packagevariant-2") >= sites, 120)
                - started
                - upgrades_at
            )
            report.add(
                f"blueprint v2 published → {sites} PackageVariants Ready on their upgrades",
                upgrades_at + settled_at, "s",
            )  # fmt: skip
        except TimeoutError as error:
            late = sites - _variants_on(_by_name(_items(api, VARIANTS)), "packagevariant-2")
            report.add(
                "  upgrade wave: variants not Ready on an upgrade Draft after 120 s", late,
                "variants", note=str(error)[-400:],
            )  # fmt: skip
        wave = time.perf_counter() - started - published_at
        time.sleep(3)
        writes = cluster.delta(before, _writes(api))
        report.add("  upgrade wave: wall time per downstream", wave / sites * 1000, "ms")
        report.add(
            "  upgrade wave: API writes per downstream (incl. publishing v2)",
            sum(writes.values()) / sites, "requests",
        )  # fmt: skip
        print(f"    writes per downstream: {_per_downstream(writes, sites)}", flush=True)
    finally:
        for watcher in watchers:
            watcher.stop()  # before the API server goes: no reconnect, no traceback
        operator.stop()
        plane.stop()
        server.stop()


def _downstreams_absent(api: cluster.Api) -> bool:
    return not [r for r in _items(api, REVISIONS) if r["spec"]["repository"] != "blueprints"]


def _events(api: cluster.Api, count: int) -> str:
    """Events by the kind of their object and their reason, per downstream."""
    events = _items(api, f"/api/v1/namespaces/{NAMESPACE}/events")
    found = Counter(f"{e['involvedObject'].get('kind')}/{e.get('reason')}" for e in events)
    warnings = {
        f"{e['involvedObject'].get('kind')}/{e.get('reason')}": e.get("message", "")[:300]
        for e in events
        if e.get("type") == "Warning"
    }
    listed = ", ".join(f"{key} {n / count:.2f}" for key, n in found.most_common())
    return listed + "".join(f"\n      warning {k}, e.g.: {m}" for k, m in warnings.items())


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["metadata"]["name"]: item for item in items}


def _count_ready(seen: dict[str, dict[str, Any]], workspace: str) -> int:
    return sum(
        1
        for r in seen.values()
        if r["spec"]["workspaceName"] == workspace
        and r["spec"]["lifecycle"] == "Draft"
        and _ready(r)
    )


def _variants_on(seen: dict[str, dict[str, Any]], workspace: str) -> int:
    count = 0
    for variant in seen.values():
        targets = (variant.get("status") or {}).get("downstreamTargets") or []
        if _ready(variant) and [t["name"].rsplit(".", 1)[-1] for t in targets] == [workspace]:
            count += 1
    return count
