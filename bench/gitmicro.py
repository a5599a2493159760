"""Measure 4: what one Repository costs at the Git layer, without Kubernetes.

Cold: a new mirror fetches everything and lists every revision (the first sync after a
start). Warm: nothing changed on the remote, so ``fetch`` finds no new ref, ``version()``
stays the same and ``list_revisions`` answers from the per-commit caches (every sync).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import stats
from lanai.git import probe, storage
from tests.support import guards


def run(
    url: str, auth: probe.RemoteAuth, workdir: Path, report: stats.Report, rounds: int = 20
) -> None:
    guard = guards.local()
    git = storage.GitStorage(url, "main", "", workdir / "micro-mirror", auth, guard=guard)
    started = time.perf_counter()
    git.fetch()
    fetched = time.perf_counter()
    revisions = git.list_revisions()
    listed = time.perf_counter()
    report.add("git: cold fetch", fetched - started, "s")
    report.add(
        "git: cold list_revisions", listed - fetched, "s", note=f"{len(revisions)} revisions"
    )
    version = git.version()
    fetches, versions, lists = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        changed = git.fetch()
        t1 = time.perf_counter()
        assert not changed
        assert git.version() == version
        t2 = time.perf_counter()
        git.list_revisions()
        t3 = time.perf_counter()
        fetches.append((t1 - t0) * 1000)
        versions.append((t2 - t1) * 1000)
        lists.append((t3 - t2) * 1000)
    report.add_percentiles("git: warm fetch (unchanged)", fetches, "ms")
    report.add_percentiles("git: version()", versions, "ms")
    report.add_percentiles("git: warm list_revisions", lists, "ms")
