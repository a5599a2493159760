"""Prometheus metrics of function evaluations.

Both the operator and ``lanai function-runner`` evaluate functions through a
:class:`~lanai.functions.chain.ChainRuntime`, so the chain records them here and either
process exposes the same series. Metric objects live in prometheus-client's
process-wide registry, the one place a module-level object is the convention.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

OK = "ok"
FAILED = "error"
NOT_FOUND = "not_found"
TIME_LIMIT = "time_limit"
MEMORY_LIMIT = "memory_limit"
UNKNOWN_RUNTIME = "unknown"
"""The runtime label of a function whose worker was killed before it could say."""

EVALUATIONS = Counter(
    "lanai_function_evaluations_total",
    "Function evaluations by function, runtime and outcome "
    "(ok, error, not_found, time_limit, memory_limit).",
    ["function", "runtime", "outcome"],
)
DURATION = Histogram(
    "lanai_function_duration_seconds",
    "Time spent evaluating one function, by function and runtime.",
    ["function", "runtime"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def limit_outcome(limit: str) -> str:
    return MEMORY_LIMIT if limit == "memory" else TIME_LIMIT


def record(function: str, runtime: str, outcome: str, seconds: float) -> None:
    EVALUATIONS.labels(function, runtime, outcome).inc()
    if outcome != NOT_FOUND:
        DURATION.labels(function, runtime).observe(seconds)
