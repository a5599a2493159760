"""Operators that die (or freeze) exactly at one of Lanai's crash points.

An operator started with ``LANAI_CRASH_AT=<point>:<subject>`` exits with status 137 (as
after kill -9) when it reaches ``point`` for ``subject``; with ``LANAI_FREEZE_AT`` it
stops itself there (SIGSTOP) until :func:`thaw`. The test waits for that to happen (the
process state, never a clock) and checks the log says it happened where it was meant to,
so a point that is never reached fails the test instead of passing it silently.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lanai import faults
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

DEATH_TIMEOUT = 300.0
"""Seconds an armed operator may take to reach its point: a guard against hangs only
(the wait ends as soon as the process is gone)."""


@dataclass
class Kills:
    """kill -9s carried out, by point."""

    by_point: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_point.values())


def armed(
    factory: type[OperatorProcess], point: str, subject: str, *, freeze: bool = False
) -> OperatorProcess:
    """A running operator that crashes (or freezes) at ``point`` for ``subject``."""
    variable = faults.FREEZE_VARIABLE if freeze else faults.CRASH_VARIABLE
    return factory(env={variable: f"{point}:{subject}"}).start()  # type: ignore[call-arg]


def died_at(process: OperatorProcess, point: str, subject: str, kills: Kills | None = None) -> None:
    """Wait until ``process`` has crashed at ``point`` for ``subject``; count the kill."""
    assert process.process is not None
    running = process.process
    wait_for(
        lambda: running.poll() is not None,
        timeout=DEATH_TIMEOUT,
        interval=0.1,
        what=f"the operator to crash at {point}:{subject}",
    )
    log = process.log(since_start=True)
    assert running.returncode == 137, f"exited {running.returncode}, not at a crash point"
    assert f"crashing at {point}:{subject}" in log, f"died elsewhere:\n{log[-3000:]}"
    if kills is not None:
        kills.by_point[point] += 1


def _state(pid: int) -> str:
    """The kernel's one-letter state of ``pid`` (``T``: stopped)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2]


def frozen_at(process: OperatorProcess, point: str, subject: str) -> None:
    """Wait until ``process`` has stopped itself at ``point`` for ``subject``."""
    assert process.process is not None
    pid = process.process.pid
    wait_for(
        lambda: (
            process.process is not None
            and (process.process.poll() is not None or _state(pid) == "T")
        ),
        timeout=DEATH_TIMEOUT,
        what=f"the operator to freeze at {point}:{subject}",
    )
    assert process.process.poll() is None, "the operator exited instead of freezing"
    assert f"freezing at {point}:{subject}" in process.log(since_start=True)


def thaw(process: OperatorProcess) -> None:
    """Let a frozen operator go on from where it stopped."""
    assert process.process is not None
    os.kill(process.process.pid, signal.SIGCONT)
