"""Prometheus metrics of the reconcilers (kopf has none of its own).

Metric objects live in prometheus-client's process-wide registry, the one place a
module-level object is the convention; each layer declares its own (git, functions).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter(
    "lanai_reconcile_total", "Reconciliations by kind and outcome.", ["kind", "outcome"]
)
RECONCILE_SECONDS = Histogram(
    "lanai_reconcile_duration_seconds",
    "Time spent in one reconciliation, by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SYNC_SECONDS = Histogram(
    "lanai_repository_sync_duration_seconds",
    "One Repository sync (fetch, index, mirror into PackageRevision objects), by Repository"
    " and outcome: unchanged (nothing to write), applied (objects written) or failed.",
    ["namespace", "name", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
REPOSITORIES_READY = Gauge(
    "lanai_repository_ready", "1 when a Repository is Ready, else 0.", ["namespace", "name"]
)
REVISIONS = Gauge(
    "lanai_repository_revisions",
    "Package revisions Git holds for a Repository, by lifecycle.",
    ["namespace", "name", "lifecycle"],
)
LIFECYCLES = ("Draft", "Proposed", "Published", "DeletionProposed")


def count_revisions(namespace: str, name: str, counts: Mapping[str, int]) -> None:
    """The revision gauge of a Repository: ``counts`` per lifecycle (absent: none)."""
    for lifecycle in dict.fromkeys([*LIFECYCLES, *counts]):
        REVISIONS.labels(namespace, name, lifecycle).set(counts.get(lifecycle, 0))


def forget_repository(namespace: str, name: str) -> None:
    """Drop a deleted Repository's series (its sync histogram stays: counters are history)."""
    for gauge, extra in ((REPOSITORIES_READY, ()), *((REVISIONS, (lc,)) for lc in LIFECYCLES)):
        with suppress(KeyError):
            gauge.remove(namespace, name, *extra)


@contextmanager
def reconciling(kind: str) -> Iterator[dict[str, str]]:
    """Time a reconciliation; the caller sets ``outcome['outcome']`` (default: error)."""
    outcome = {"outcome": "error"}
    started = time.perf_counter()
    try:
        yield outcome
    finally:
        RECONCILE_SECONDS.labels(kind).observe(time.perf_counter() - started)
        RECONCILES.labels(kind, outcome["outcome"]).inc()
