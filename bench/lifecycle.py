"""The lifecycle steps a reviewer waits for, each beside its floor, through the real
operator, API server and Git server.

Steps, each timed from the API request until the benchmark's watch delivers the object
settled (``observedGeneration`` caught up, ``Ready=True``; for approve with the revision
number, which the operator writes only after the tag is pushed):

- init: create a Draft (``source.init``);
- propose: Draft → Proposed;
- approve: Proposed → Published;
- copy: a new Draft copied from the published revision;
- clone: a Draft cloned from a published 20-file package.

Floors, measured in the same run, one of each between the samples (same load):

- one push of one ref (a new commit) to the local ``git http-backend``, and one push
  of a branch and a tag, both through Lanai's own Git layer (``GitStorage``);
- one status patch of a PackageRevision (its round trip), and the delivery of its watch
  event: from sending the patch until the watch shows it.

A step cannot be faster than the user's request reaching the operator by watch, the Git
push, and the status reaching the user by watch: its floor is two deliveries plus the
push (for approve, of a branch and a tag). Each step is reported as p50/p99, as a
multiple of its floor, with the 1-minute load average around its samples.

The Git server keeps its repositories packed every 10 pushes, as a hosting service does
(:mod:`lanai.local.housekeeping`): unmaintained, its own cost per push grows with every
ref the samples add (the floors too), which says nothing about Lanai.

``others`` and ``repositories`` measure the same steps with more in the namespace:
a repository with ``others`` published revisions (written by :mod:`bench.repogen`, synced
before the samples) and ``repositories - 1`` more Repositories registered beside them.
With ``within``, the ``others`` are in the steps' own repository instead: every step then
writes to a repository of 10,000 revisions (a catalog of blueprints, the common case),
and the floors push to that repository too, since ``git receive-pack`` checks each push
against every ref the repository holds.
"""

from __future__ import annotations

import os
import statistics
import time
import urllib.error
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import cluster, repogen, stats, watching
from lanai.git import probe, storage
from lanai.local import controlplane, gitserver, housekeeping
from tests.support import guards
from tests.support.cluster import Cluster
from tests.support.operator import OperatorProcess

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench-bot", "bench-password-not-secret"
NAMESPACE = "lifecycle"
REPO = "team"
REVISIONS = f"/apis/porch.kpt.dev/v1alpha2/namespaces/{NAMESPACE}/packagerevisions"
RESOURCES = f"/apis/porch.kpt.dev/v1alpha2/namespaces/{NAMESPACE}/packagerevisionresources"
REPOSITORIES = f"/apis/config.porch.kpt.dev/v1alpha1/namespaces/{NAMESPACE}/repositories"
MERGE = "application/merge-patch+json"
LABEL = "bench.lanai.dev/sample"
"""On every object the benchmark creates: its watch sees those, not the other 10,000."""
PAUSE = 0.1
"""Seconds between samples: the Events and follow-ups of one step do not land on the
next step's clock (a reviewer does one thing at a time)."""

TARGETS = {"init": 40.0, "propose": 35.0, "approve": 35.0, "copy": 45.0, "clone": 80.0}
"""p50 targets in ms (issue 17: at least 3x faster than Porch); every p99 ≤ 3x its p50."""
STEPS = ("init", "propose", "approve", "copy", "clone")
SERVED_WITHIN = 60.0
"""Seconds the API server may take to serve freshly installed CRDs (it answers 503
for them at first, even after they are Established)."""


def settled(generation: int, revision: bool = False) -> watching.Predicate:
    """The object's spec of ``generation`` (or a later one Lanai made) is carried out."""

    def check(obj: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        found = obj["metadata"].get("generation") or 0
        ready = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)
        if found < generation or status.get("observedGeneration") != found or not ready:
            return False
        if ready["status"] != "True":
            raise RuntimeError(f"{obj['metadata']['name']}: {ready['message']}")
        return not revision or int(status.get("revision") or 0) > 0

    return check


@dataclass
class Bed:
    """The control plane, Git server, operator and the benchmark's own clients."""

    workdir: Path
    server: gitserver.GitServer
    plane: controlplane.ControlPlane
    operator: OperatorProcess
    kube: Cluster
    session: cluster.Session
    watch: watching.Watcher
    floor_git: storage.GitStorage
    times: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    loads: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def create(self, package: str, workspace: str, source: dict[str, Any]) -> tuple[str, int]:
        name = f"{REPO}.{package}.{workspace}"
        body = {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": name, "labels": {LABEL: "true"}},
            "spec": {
                "repository": REPO,
                "packageName": package,
                "workspaceName": workspace,
                "lifecycle": "Draft",
                "source": source,
            },
        }
        made = self.session.request("POST", REVISIONS, body)
        return name, int(made["metadata"]["generation"])

    def move(self, name: str, lifecycle: str) -> int:
        patch = {"spec": {"lifecycle": lifecycle}}
        moved = self.session.request("PATCH", f"{REVISIONS}/{name}", patch, MERGE)
        return int(moved["metadata"]["generation"])

    def moved(self, name: str, lifecycle: str) -> tuple[str, int]:
        return name, self.move(name, lifecycle)

    def wait(self, name: str, generation: int, revision: bool = False) -> float:
        return self.watch.first(name, settled(generation, revision))[0]

    def timed(self, step: str, act: Callable[[], tuple[str, int]], revision: bool = False) -> None:
        """One sample of ``step``: ``act`` sends the request, the watch tells when done."""
        self.loads[step].append(os.getloadavg()[0])
        started = time.perf_counter()
        name, generation = act()
        done = self.wait(name, generation, revision)
        self.times[step].append((done - started) * 1000)
        time.sleep(PAUSE)


def _create_when_served(bed: Bed, package: str, workspace: str, source: dict[str, Any]) -> str:
    """:meth:`Bed.create`, retried while the API server answers 503 (or 404) for a CRD
    it has only just installed, so a run never loses a block to that."""
    deadline = time.monotonic() + SERVED_WITHIN
    retried = False
    while True:
        try:
            name, generation = bed.create(package, workspace, source)
            bed.wait(name, generation)
            return name
        except urllib.error.HTTPError as error:
            if error.code == 409 and retried:  # an earlier try got through after all
                name = f"{REPO}.{package}.{workspace}"
                bed.wait(name, 1)
                return name
            if error.code not in (503, 404) or time.monotonic() > deadline:
                raise
            retried = True
            time.sleep(0.2)


class Floors:
    """One sample of each floor at a time, between the steps' samples."""

    def __init__(self, bed: Bed, probe_name: str) -> None:
        self.bed = bed
        self.name = probe_name
        self.n = 0
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.signature = storage.Signature("bench", "bench@example.com")

    def sample(self) -> None:
        self.n += 1
        git = self.bed.floor_git
        commit = self._commit()
        started = time.perf_counter()
        git._set_and_push({f"refs/heads/one/{self.n}": commit}, guarded={})
        self.times["push"].append((time.perf_counter() - started) * 1000)
        commit = self._commit()
        started = time.perf_counter()
        # Names no revision ref has: the floors may push to the steps' own repository.
        git._set_and_push(
            {f"refs/heads/two/{self.n}": commit, f"refs/tags/floor-two-{self.n}": commit},
            guarded={f"refs/tags/floor-two-{self.n}": None},
        )
        self.times["push2"].append((time.perf_counter() - started) * 1000)
        self._status()

    def _commit(self) -> str:
        git = self.bed.floor_git
        files = {"Kptfile": b"apiVersion: kpt.dev/v1\nkind: Kptfile\n", "n": b"%d\n" % self.n}
        tree = git._build("floor", files)
        head = git.head() or None
        return git._new_commit(head, "floor", tree, "floor", {}, self.signature)

    def _status(self) -> None:
        """A status patch of a settled PackageRevision the operator leaves alone (no
        new generation): its round trip, and until the watch delivers it."""
        session = self.bed.session
        obj = self.bed.watch.latest(self.name)
        found = (obj.get("status") or {}).get("conditions") or []
        kept = [c for c in found if c["type"] != "BenchFloor"]
        mark = {
            "type": "BenchFloor",
            "status": "True",
            "reason": "Floor",
            "message": str(self.n),
            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        patch = {"status": {"conditions": [*kept, mark]}}
        started = time.perf_counter()
        answer = session.request("PATCH", f"{REVISIONS}/{self.name}/status", patch, MERGE)
        answered = time.perf_counter()
        version = answer["metadata"]["resourceVersion"]
        seen, _ = self.bed.watch.first(
            self.name, lambda o: o["metadata"]["resourceVersion"] == version
        )
        self.times["status"].append((answered - started) * 1000)
        self.times["delivery"].append((seen - started) * 1000)

    def p50(self, kind: str) -> float:
        return statistics.median(self.times[kind])

    def of(self, step: str) -> float:
        push = self.p50("push2" if step == "approve" else "push")
        return 2 * self.p50("delivery") + push


def _start(
    workdir: Path,
    others: int,
    repositories: int,
    apiserver_args: list[str] | None = None,
    within: bool = False,
) -> Bed:
    server = gitserver.GitServer(
        workdir / "git",
        gitserver.Credentials(users={USER: PASSWORD}),
        housekeeping=housekeeping.Housekeeping(),
    ).start()
    floor_url = server.create_repository("floor")
    big_url = ""
    if others and within:
        repogen.create(server.repository_path(REPO), repogen.Shape.for_revisions(others))
        url = f"{server.url}/{REPO}.git"
    else:
        url = server.create_repository(REPO)
    if others and not within:
        shape = repogen.Shape.for_revisions(others)
        repogen.create(server.repository_path("big"), shape)
        big_url = f"{server.url}/big.git"
    extra = [server.create_repository(f"extra{n}") for n in range(max(0, repositories - 1))]
    plane = controlplane.ControlPlane(
        workdir / "controlplane", controlplane.find_binaries(), apiserver_args=apiserver_args or []
    )
    plane.start()
    # BENCH_OPERATOR_ARGS: more flags for the operator (-v for kopf's debug log, say).
    flags = os.environ.get("BENCH_OPERATOR_ARGS", "").split()
    kube = Cluster(kubeconfig=plane.kubeconfig, root=ROOT)
    as_deployed = cluster.install(kube, ROOT, NAMESPACE, USER, PASSWORD)
    operator = OperatorProcess(as_deployed, workdir / "operator", extra_args=flags)
    operator.start()
    session = cluster.Session(plane.server, plane.workdir / "pki")
    named = [(REPO, url)]
    if big_url:
        named.append(("big", big_url))
    named += [(f"extra{n}", u) for n, u in enumerate(extra)]
    for name, repo_url in named:
        cluster.apply_when_served(kube, cluster.repository(name, NAMESPACE, repo_url))
    for name, _url in named:
        if name == "big":
            continue  # its cold sync takes minutes: run() waits for its objects instead
        kube.kubectl(
            "wait", "-n", NAMESPACE, "--for=condition=Ready", "--timeout=600s",
            f"repository/{name}", timeout=610,
        )  # fmt: skip
    floor_git = storage.GitStorage(
        url if within else floor_url,  # within: the Git server's cost at that size
        "main",
        "",
        workdir / "floor-mirror",
        probe.RemoteAuth(USER, PASSWORD),
        guard=guards.local(),
    )
    floor_git.fetch()
    floor_git.ensure_branch()
    floor_git.fetch()
    watch = watching.Watcher(session, REVISIONS, f"{LABEL}=true").start()
    return Bed(workdir, server, plane, operator, kube, session, watch, floor_git)


def _stop(bed: Bed | None) -> None:
    if bed is None:
        return
    bed.watch.stop()
    bed.session.close()
    bed.operator.stop()
    bed.plane.stop()
    bed.server.stop()


def _wait_count(bed: Bed, wanted: int, timeout: float = 600) -> float:
    api = cluster.Api(bed.plane.server, bed.plane.workdir / "pki")
    started = time.monotonic()
    while api.count(NAMESPACE) < wanted:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"fewer than {wanted} PackageRevisions after {timeout}s")
        time.sleep(0.5)
    return time.monotonic() - started


def _blueprint(bed: Bed) -> str:
    """A published package of 20 files (the Kptfile, a ConfigMap of the init, 18 more)."""
    name = _create_when_served(bed, "base", "v1", {"init": {"description": "a 20-file blueprint"}})
    files = bed.session.request("GET", f"{RESOURCES}/{name}")["spec"]["resources"]
    for n in range(18):
        files[f"cm{n:02}.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{n:02}\ndata:\n"
            + "".join(f"  key{k}: value {k}\n" for k in range(20))
        )
    bed.session.request("PATCH", f"{RESOURCES}/{name}", {"spec": {"resources": files}}, MERGE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        prr = bed.session.request("GET", f"{RESOURCES}/{name}")
        if (prr.get("status") or {}).get("observedGeneration") == prr["metadata"]["generation"]:
            break
        time.sleep(0.05)
    bed.wait(name, bed.move(name, "Proposed"))
    bed.wait(name, bed.move(name, "Published"), revision=True)
    return name


def run(
    workdir: Path,
    report: stats.Report,
    samples: int = 100,
    others: int = 0,
    repositories: int = 1,
    label: str = "",
    within: bool = False,
) -> dict[str, float]:
    """Measure every step ``samples`` times; the p50 of each (ms), for comparisons."""
    bed: Bed | None = None
    try:
        bed = _start(workdir, others, repositories, within=within)
        if others:
            repogen_objects = repogen.Shape.for_revisions(others).objects
            took = _wait_count(bed, repogen_objects)
            print(f"   {repogen_objects} other PackageRevisions synced in {took:.0f}s", flush=True)
        # Warm up: the first render imports the function runtimes.
        warm = _create_when_served(bed, "warmup", "v1", {"init": {}})
        floors = Floors(bed, warm)
        for _ in range(3):
            floors.sample()
        floors.times.clear()
        base = _blueprint(bed)
        clone = {"cloneFrom": {"upstreamRef": {"name": base}}}
        assert bed.operator.process is not None
        waited = cluster.quiet([*bed.plane.pids.values(), bed.operator.process.pid])
        prefix = f"{label}: " if label else ""
        report.add(f"{prefix}waited for the control plane to go quiet", waited, "s")
        for i in range(samples):
            name = f"{REPO}.app{i}.v1"
            floors.sample()
            bed.timed("init", partial(bed.create, f"app{i}", "v1", {"init": {}}))
            bed.timed("propose", partial(bed.moved, name, "Proposed"))
            bed.timed("approve", partial(bed.moved, name, "Published"), revision=True)
            bed.timed("copy", partial(bed.create, f"app{i}", "v2", {"copyFrom": {"name": name}}))
            bed.timed("clone", partial(bed.create, f"site{i}", "v1", clone))
        if others:
            _listings(bed, report, label, REPO if within else "big")
        return _report(report, bed, floors, samples, label)
    finally:
        _stop(bed)


LISTINGS = {
    "label selector porch.kpt.dev/latest-revision=true": (
        "labelSelector=porch.kpt.dev%2Flatest-revision%3Dtrue"
    ),
    "field selector spec.packageName (one package of the big repository)": (
        f"fieldSelector=spec.packageName%3D{quote(repogen.package_name(7), safe='')}"
    ),
    "field selector spec.repository={repository}, spec.lifecycle=Published": (
        "fieldSelector=spec.repository%3D{repository},spec.lifecycle%3DPublished"
    ),
}


def _listings(bed: Bed, report: stats.Report, label: str, repository: str) -> None:
    """How long a list with a selector takes among the other revisions (median of 5,
    the answer read whole), and the operator's memory with them."""
    for what, query in LISTINGS.items():
        what, query = what.format(repository=repository), query.format(repository=repository)
        times = []
        count = 0
        for _ in range(5):
            started = time.perf_counter()
            answer = bed.session.request("GET", f"{REVISIONS}?{query}")
            times.append((time.perf_counter() - started) * 1000)
            count = len(answer["items"])
        report.add(f"{label}: list with {what} ({count} items) p50", statistics.median(times), "ms")
    assert bed.operator.process is not None
    rss = cluster.memory(bed.operator.process.pid)
    report.add(f"{label}: operator RSS", rss["VmRSS"], "MiB", 300)


def _report(
    report: stats.Report, bed: Bed, floors: Floors, samples: int, label: str
) -> dict[str, float]:
    prefix = f"{label}: " if label else ""
    for kind, what in (
        ("push", "push of one ref (a new commit) to git http-backend"),
        ("push2", "push of a branch and a tag"),
        ("status", "status patch of a PackageRevision (round trip)"),
        ("delivery", "status patch until a watch delivers it"),
    ):
        values = floors.times[kind]
        report.add(f"{prefix}floor: {what} p50", statistics.median(values), "ms")
        report.add(f"{prefix}floor: {what} p99", stats.percentile(values, 99), "ms")
    lines = [
        f"{prefix}lifecycle steps, {samples} samples each (floor = 2 watch deliveries + push)",
        "",
        "| step | p50 | p99 | p99/p50 | floor | p50/floor | target p50 | load 1-min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    found: dict[str, float] = {}
    for step in STEPS:
        values = bed.times[step]
        p50, p99 = stats.percentile(values, 50), stats.percentile(values, 99)
        floor = floors.of(step)
        loads = bed.loads[step]
        load = f"{min(loads):.1f}-{max(loads):.1f}"
        title = "clone of a 20-file package" if step == "clone" else step
        report.add(f"{prefix}{title} → Ready p50", p50, "ms", TARGETS[step], f"n={len(values)}")
        report.add(f"{prefix}{title} → Ready p99", p99, "ms")
        report.add(f"{prefix}{title} → Ready p99/p50", p99 / p50, "x", 3.0)
        report.add(f"{prefix}{title} → Ready p50 / its floor ({floor:.0f} ms)", p50 / floor, "x")
        report.add(f"{prefix}{title}: load average (1 min) during its samples, max", max(loads), "")
        quarter = max(1, len(values) // 4)
        first = stats.percentile(values[:quarter], 50)
        last = stats.percentile(values[-quarter:], 50)
        report.add(
            f"{prefix}{title}: p50 of the last {quarter} samples / of the first {quarter}",
            last / first, "x", note=f"({first:.0f} → {last:.0f} ms as the repository grew)",
        )  # fmt: skip
        lines.append(
            f"| {title} | {p50:.0f} ms | {p99:.0f} ms | {p99 / p50:.1f} | {floor:.0f} ms | "
            f"{p50 / floor:.1f}x | {TARGETS[step]:.0f} ms | {load} |"
        )
        found[step] = p50
    report.notes.append("\n".join(lines))
    print("\n".join(lines), flush=True)
    return found
