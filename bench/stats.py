"""Percentiles and the comparison with DESIGN.md §7, printed the same way for every measure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": float(len(values)),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


@dataclass
class Row:
    measure: str
    value: float
    unit: str
    target: float | None = None
    """Upper bound; None for information only."""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.target is None:
            return None
        if self.target == 0:
            return 0.0 if self.value == 0 else math.inf
        return self.value / self.target

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "ok" if self.value <= self.target else "MISSED"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Tables a benchmark prints beside the rows (e.g. the lifecycle steps and floors)."""

    def add(self, *args: object, **kwargs: object) -> Row:
        row = Row(*args, **kwargs)  # type: ignore[arg-type]
        self.rows.append(row)
        verdict = row.verdict if row.target is not None else ""
        target = (
            f" (target ≤ {row.target:g} {row.unit}, ratio {row.ratio:.2f}) {verdict}"
            if (row.target is not None)
            else ""
        )
        print(
            f"  {row.measure}: {row.value:.4g} {row.unit}{target} {row.note}".rstrip(), flush=True
        )
        return row

    def add_percentiles(
        self, measure: str, values: Sequence[float], unit: str, **targets: float
    ) -> None:
        """One row per percentile; ``targets`` maps p50/p90/p99/max to upper bounds."""
        for key, value in summary(values).items():
            if key == "n":
                continue
            self.add(
                f"{measure} {key}",
                value,
                unit,
                targets.get(key),
                f"n={len(values)}" if key == "p50" else "",
            )

    def add_cpu(self, during: str, cpu: dict[str, float], load_before: float, now: float) -> None:
        """The CPU seconds each process used ``during`` a phase, and the load around it."""
        for name, used in sorted(cpu.items()):
            self.add(f"  CPU used by {name} during {during}", used, "s")
        self.add(
            f"  load average (1 min) before / after {during}",
            now,
            "",
            note=f"(before: {load_before:.1f}; 2 cores, shared with other work)",
        )

    def table(self) -> str:
        lines = ["| measure | value | target | ratio | verdict |", "|---|---|---|---|---|"]
        for row in self.rows:
            target = f"≤ {row.target:g} {row.unit}" if row.target is not None else "—"
            ratio = f"{row.ratio:.2f}" if row.ratio is not None else "—"
            value = f"{row.value:.4g} {row.unit}"
            lines.append(f"| {row.measure} | {value} | {target} | {ratio} | {row.verdict} |")
        return "\n".join(lines)

    @property
    def missed(self) -> list[Row]:
        return [row for row in self.rows if row.verdict == "MISSED"]
