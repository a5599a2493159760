"""Measures 1 and 2: a Repository synced by the real operator into a real API server.

Everything runs as in production: lanai.local.controlplane (etcd + kube-apiserver), the
CRDs from crds/, lanai.local.gitserver in front of a generated bare repository, and the
operator as its own process (``python -m lanai run``, like tests/support/operator.py).

1. Cold sync: from ``kubectl apply`` of the Repository until every PackageRevision
   object exists; the operator's RSS and peak RSS at that point.
2. No-op sync: nothing changes in Git; the operator re-syncs every ``--sync-period``
   seconds. Each sync's duration is read from ``lanai_repository_sync_duration_seconds``
   (scraped often enough to see every sync: delta of _sum per +1 of _count); API writes
   from the API server's own ``apiserver_request_total`` and from the resourceVersions
   of all PackageRevisions before and after.
3. Repository deletion: from ``kubectl delete`` of the Repository until no
   PackageRevision is left, and the API writes it took (a Published revision is moved
   to DeletionProposed before it is deleted, as the deletion policy asks of everyone).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench import cluster, repogen, stats
from lanai.local import controlplane, gitserver
from tests.support.cluster import Cluster
from tests.support.operator import OperatorProcess

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench-bot", "bench-password-not-secret"
NAMESPACE = "bench"
SYNC_METRIC = "lanai_repository_sync_duration_seconds"


def _syncs(metrics_url: str) -> tuple[float, float, dict[str, float]]:
    """(count, sum, count by outcome) of the sync histogram."""
    count = total = 0.0
    by_outcome: dict[str, float] = {}
    for name, labels, value in cluster.scrape(metrics_url):
        if name == f"{SYNC_METRIC}_count":
            count += value
            outcome = labels.get("outcome", "")
            by_outcome[outcome] = by_outcome.get(outcome, 0) + value
        elif name == f"{SYNC_METRIC}_sum":
            total += value
    return count, total, by_outcome


def wait_count(
    api: cluster.Api, want: int, timeout: float, op: OperatorProcess
) -> dict[int, float]:
    """Poll the object count; returns {threshold: seconds} as thresholds are crossed."""
    started = time.perf_counter()
    marks = sorted({want, *(m for m in (want // 2, int(want * 0.9)) if m)})
    reached: dict[int, float] = {}
    last = -1
    while time.perf_counter() - started < timeout:
        assert op.process is not None
        if op.process.poll() is not None:
            raise RuntimeError(f"the operator exited:\n{op.log()[-3000:]}")
        count = api.count(NAMESPACE)
        now = time.perf_counter() - started
        for mark in marks:
            if count >= mark and mark not in reached:
                reached[mark] = now
        if count != last and int(now) % 5 == 0:
            last = count
        if count >= want:
            return reached
        time.sleep(0.2)
    raise TimeoutError(
        f"only {api.count(NAMESPACE)} of {want} PackageRevisions after {timeout:.0f}s"
    )


def _wait_applied(op: OperatorProcess, before: float, timeout: float) -> float:
    """When (perf_counter) a sync that wrote objects finished after ``before`` had."""
    deadline = time.perf_counter() + timeout
    while _syncs(op.metrics_url)[2].get("applied", 0) <= before:
        if time.perf_counter() > deadline:
            raise TimeoutError("the cold sync did not finish")
        time.sleep(0.05)
    return time.perf_counter()


def _noop(
    api: cluster.Api, op: OperatorProcess, syncs: int, timeout: float
) -> tuple[list[float], dict[str, float], int]:
    """Watch ``syncs`` consecutive syncs: durations (ms), API writes, objects changed."""
    deadline = time.perf_counter() + timeout
    # Settle: a sync that started after the objects were written found nothing to do
    # (the one that wrote them may still be patching status when the count is reached).
    floor = _syncs(op.metrics_url)[2].get("unchanged", 0) + 1
    while _syncs(op.metrics_url)[2].get("unchanged", 0) < floor + 1:
        if time.perf_counter() > deadline:
            raise TimeoutError("no unchanged sync observed")
        time.sleep(0.2)
    versions = api.resource_versions(NAMESPACE)
    writes = api.writes()
    count, total, _ = _syncs(op.metrics_url)
    durations: list[float] = []
    outcomes: dict[str, float] = dict(_syncs(op.metrics_url)[2])
    while len(durations) < syncs:
        if time.perf_counter() > deadline:
            break
        time.sleep(0.05)
        new_count, new_total, _ = _syncs(op.metrics_url)
        if new_count > count:
            # Scrapes are far more frequent than syncs: one new observation per step.
            durations.append((new_total - total) * 1000 / (new_count - count))
            count, total = new_count, new_total
    outcome_delta = cluster.delta(outcomes, _syncs(op.metrics_url)[2])
    written = cluster.delta(writes, api.writes())
    after = api.resource_versions(NAMESPACE)
    changed = sum(1 for name, rv in after.items() if versions.get(name) != rv) + len(
        set(versions) - set(after)
    )
    print(f"    no-op syncs by outcome: {outcome_delta}; API writes meanwhile: {written or 'none'}")
    return durations, written, changed


def run(
    shape: repogen.Shape,
    workdir: Path,
    report: stats.Report,
    *,
    noop_syncs: int = 10,
    small: repogen.Shape | None = None,
) -> None:
    gitroot = workdir / "git"
    started = time.perf_counter()
    repogen.create(gitroot / "big.git", shape)
    if small:
        repogen.create(gitroot / "small.git", small)
    print(
        f"    generated {shape.published} revisions in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    server = gitserver.GitServer(
        gitroot,
        gitserver.Credentials(users={USER: PASSWORD}),
    ).start()
    plane = controlplane.ControlPlane(workdir / "controlplane", controlplane.find_binaries())
    plane.start()
    op = OperatorProcess(plane.kubeconfig, workdir / "operator", extra_args=["--sync-period", "2"])
    try:
        kube = Cluster(kubeconfig=plane.kubeconfig, root=ROOT)
        op.kubeconfig = cluster.install(kube, ROOT, NAMESPACE, USER, PASSWORD)
        api = cluster.Api(plane.server, plane.workdir / "pki")
        op.start()
        assert op.process is not None
        report.add(
            "operator RSS when ready, no Repository yet",
            cluster.memory(op.process.pid)["VmRSS"],
            "MiB",
        )
        print(
            f"    operator pid {op.process.pid if op.process else '?'}, log {op.log_path}",
            flush=True,
        )

        if small:
            small_url = f"{server.url}/small.git"
            cluster.apply_when_served(kube, cluster.repository("small", NAMESPACE, small_url))
            wait_count(api, small.objects, 120, op)
            durations, writes, changed = _noop(api, op, noop_syncs, 120)
            report.add_percentiles(
                f"no-op sync, {small.published} revisions",
                durations,
                "ms",
                p50=50,
                p90=50,
                p99=50,
                max=50,
            )
            report.add(
                f"no-op sync, {small.published} revisions: PackageRevision objects changed",
                changed,
                "objects",
                0,
            )
            report.add(
                f"no-op sync, {small.published} revisions: PackageRevision API writes",
                _revision_writes(writes),
                "requests",
                0,
            )
            report.add(
                f"no-op sync, {small.published} revisions: Repository status writes per sync",
                writes.get("repositories/status", 0) / max(1, len(durations)),
                "requests",
                note="(lastFullSyncTime/nextFullSyncTime)",
            )
            kube.kubectl(
                "delete", "-n", NAMESPACE, "repository", "small", "--wait=true", timeout=120
            )
            deadline = time.perf_counter() + 120
            while api.count(NAMESPACE) and time.perf_counter() < deadline:
                time.sleep(0.2)

        parts = {"operator": op.process.pid, **plane.pids}
        cpu_before = {name: cluster.cpu_seconds(pid) for name, pid in parts.items()}
        load_before = cluster.load_average()
        applied_before = _syncs(op.metrics_url)[2].get("applied", 0)
        t0 = time.perf_counter()
        big = cluster.repository("big", NAMESPACE, f"{server.url}/big.git")
        cluster.apply_when_served(kube, big)
        reached = wait_count(api, shape.objects, 900, op)
        assert op.process is not None
        mem = cluster.memory(op.process.pid)
        # The objects exist; the sync that made them is done once it has written the
        # status of the last ones too.
        finished = _wait_applied(op, applied_before, 300) - t0
        cpu = {name: cluster.cpu_seconds(pid) - cpu_before[name] for name, pid in parts.items()}
        report.add(
            f"cold sync → {shape.published} published revisions",
            reached.get(shape.published, time.perf_counter() - t0),
            "s",
            60 * shape.published / 10_000 if shape.published != 10_000 else 60,
        )
        report.add(
            f"cold sync → all {shape.objects} objects (incl. {shape.packages} branch revisions)",
            reached[shape.objects],
            "s",
        )
        report.add_cpu("the cold sync", cpu, load_before, cluster.load_average())
        report.add("cold sync → the sync finished (every object's status written)", finished, "s")
        report.add(f"operator RSS at {shape.objects} objects", mem["VmRSS"], "MiB", 300)
        report.add("operator peak RSS (VmHWM) during cold sync", mem["VmHWM"], "MiB", 300)
        report.add("  of which anonymous (RssAnon)", mem["RssAnon"], "MiB")
        report.add(
            "  of which file-backed (RssFile: libraries, mmapped Git packs)", mem["RssFile"], "MiB"
        )

        durations, writes, changed = _noop(api, op, noop_syncs, 300)
        report.add_percentiles(
            f"no-op sync, {shape.published} revisions",
            durations,
            "ms",
            p50=50,
            p90=50,
            p99=50,
            max=50,
        )
        report.add(
            f"no-op sync, {shape.published} revisions: PackageRevision objects changed",
            changed,
            "objects",
            0,
        )
        report.add(
            f"no-op sync, {shape.published} revisions: PackageRevision API writes",
            _revision_writes(writes),
            "requests",
            0,
        )
        report.add(
            f"no-op sync, {shape.published} revisions: Repository status writes per sync",
            writes.get("repositories/status", 0) / max(1, len(durations)),
            "requests",
            note="(lastFullSyncTime/nextFullSyncTime)",
        )
        mem = cluster.memory(op.process.pid)
        report.add("operator RSS after no-op syncs", mem["VmRSS"], "MiB", 300)
        _removal(api, kube, shape, report)
    finally:
        op.stop()
        plane.stop()
        server.stop()
        subprocess.run(["sync"], check=False)


def _removal(api: cluster.Api, kube: Cluster, shape: repogen.Shape, report: stats.Report) -> None:
    writes = api.writes()
    started = time.perf_counter()
    kube.kubectl("delete", "-n", NAMESPACE, "repository", "big", "--wait=false")
    deadline = started + 900
    while api.count(NAMESPACE) and time.perf_counter() < deadline:
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    written = cluster.delta(writes, api.writes())
    print(f"    API writes during the Repository deletion: {written}")
    report.add(f"Repository deletion → its {shape.objects} PackageRevisions gone", elapsed, "s")
    report.add(
        "  PackageRevision API writes during it (main resource)",
        written.get("packagerevisions", 0),
        "requests",
        note="(proposals, deletes, finalizer removals)",
    )
    report.add(
        "  PackageRevision status writes during it",
        written.get("packagerevisions/status", 0),
        "requests",
    )


def _revision_writes(writes: dict[str, float]) -> float:
    return sum(v for k, v in writes.items() if k.startswith("packagerevisions"))
