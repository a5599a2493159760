"""Cold sync of many small Repositories at once (issue 17: 100 Repositories x 100
revisions, the same 10,000 revisions as the one big repository, ≤ 60 s).

As measure 1, with 100 bare repositories of 10 packages x 10 published revisions each
(``repogen``), served by the same Git server, and the operator with its default sync
period (a platform team's installation, not the benchmark's 2 s). The clock runs from
the first Repository's POST (all 100 are POSTed back to back) until every
PackageRevision object exists. Reported beside it: the operator's, API server's and
etcd's CPU, the operator's RSS, and the API writes per PackageRevision by resource,
since the API server's own CPU is this sync's floor.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import cluster, repogen, stats, syncbench
from lanai.local import controlplane, gitserver
from tests.support.cluster import Cluster
from tests.support.operator import OperatorProcess

SMALL = repogen.Shape(10, 10)
"""Each Repository: 10 packages x 10 published revisions (110 objects)."""
SETTLE = 30.0
"""Seconds after the last object appears before memory is read again."""
REPOSITORIES_PATH = "/apis/config.porch.kpt.dev/v1alpha1/namespaces/{ns}/repositories"


def run(
    workdir: Path,
    report: stats.Report,
    repositories: int = 100,
    shape: repogen.Shape = SMALL,
) -> None:
    gitroot = workdir / "git"
    names = [f"team{n:03d}" for n in range(repositories)]
    for name in names:
        repogen.create(gitroot / f"{name}.git", shape)
    server = gitserver.GitServer(
        gitroot,
        gitserver.Credentials(users={syncbench.USER: syncbench.PASSWORD}),
    ).start()
    plane = controlplane.ControlPlane(workdir / "controlplane", controlplane.find_binaries())
    plane.start()
    op = OperatorProcess(plane.kubeconfig, workdir / "operator")
    namespace = syncbench.NAMESPACE
    try:
        kube = Cluster(kubeconfig=plane.kubeconfig, root=syncbench.ROOT)
        op.kubeconfig = cluster.install(
            kube, syncbench.ROOT, namespace, syncbench.USER, syncbench.PASSWORD
        )
        api = cluster.Api(plane.server, plane.workdir / "pki")
        op.start()
        assert op.process is not None
        path = REPOSITORIES_PATH.format(ns=namespace)
        _served(api, path)
        parts = {"operator": op.process.pid, **plane.pids}
        cpu_before = {name: cluster.cpu_seconds(pid) for name, pid in parts.items()}
        writes_before = api.writes()
        load_before = cluster.load_average()
        started = time.perf_counter()
        for name in names:
            api.send("POST", path, cluster.repository(name, namespace, f"{server.url}/{name}.git"))
        posted = time.perf_counter() - started
        wanted = repositories * shape.objects
        reached = syncbench.wait_count(api, wanted, 900, op)  # from now on
        cpu = {name: cluster.cpu_seconds(pid) - cpu_before[name] for name, pid in parts.items()}
        written = cluster.delta(writes_before, api.writes())
        rss = cluster.memory(op.process.pid)
        published = repositories * shape.published
        title = f"cold sync of {repositories} Repositories x {shape.published} revisions"
        report.add(f"{title} → all {wanted} objects", posted + reached[wanted], "s", 60)
        report.add(f"  of which POSTing the {repositories} Repositories", posted, "s")
        report.add_cpu("it", cpu, load_before, cluster.load_average())
        report.add(f"  operator RSS at {wanted} objects", rss["VmRSS"], "MiB", 300)
        report.add("    of which anonymous (RssAnon)", rss["RssAnon"], "MiB")
        report.add("    of which file-backed (RssFile)", rss["RssFile"], "MiB")
        threads = len(list(Path(f"/proc/{op.process.pid}/task").iterdir()))
        report.add("    operator threads", threads, "")
        per_object = {k: v / wanted for k, v in written.items() if v >= repositories / 2}
        for resource, count in sorted(per_object.items(), key=lambda kv: -kv[1]):
            report.add(f"  API writes per object: {resource}", count, "requests")
        report.add(
            "  API writes per object, all",
            sum(written.values()) / wanted,
            "requests",
            note=f"({published} published + {repositories * shape.packages} branch revisions)",
        )
        print(f"    API writes during the cold sync: {written}", flush=True)
        time.sleep(SETTLE)
        report.add(
            f"  operator RSS {SETTLE:.0f} s later (the syncs done)",
            cluster.memory(op.process.pid)["VmRSS"],
            "MiB",
            300,
        )
    finally:
        op.stop()
        plane.stop()
        server.stop()


def _served(api: cluster.Api, path: str, within: float = cluster.UNAVAILABLE_FOR) -> None:
    """Until the API server serves Repositories (freshly installed CRDs answer 503 first),
    so that the clock does not include its start-up."""
    deadline = time.monotonic() + within
    while True:
        try:
            api.get(path)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
