"""Prometheus metrics of the Git layer: how long fetches and pushes take, and how they end.

A sync that is slow because the Git server is slow looks, from the sync histogram alone,
like one that is slow because of the API server; these tell the two apart. Metric
objects live in prometheus-client's process-wide registry, the one place a module-level
object is the convention.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Histogram

GIT_SECONDS = Histogram(
    "lanai_git_operation_duration_seconds",
    "One Git network operation, by operation (fetch, push) and outcome: for a fetch"
    " unchanged (nothing new), fetched or failed; for a push ok, rejected (someone else"
    " moved the ref first) or failed.",
    ["operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


@contextmanager
def timed(operation: str) -> Iterator[dict[str, str]]:
    """Time ``operation``; the caller sets ``outcome['outcome']`` (default: failed)."""
    outcome = {"outcome": "failed"}
    started = time.perf_counter()
    try:
        yield outcome
    finally:
        GIT_SECONDS.labels(operation, outcome["outcome"]).observe(time.perf_counter() - started)
