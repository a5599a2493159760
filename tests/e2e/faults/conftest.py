"""Fixtures of the fault suite: operators to kill, a Git server to stop, figures to report.

Every test here breaks something on purpose (kill -9 of the operator at a crash point, a
Git server that dies between two pushes, an API server restart, many writers at once)
and ends with :func:`tests.support.invariants.converged`. The figures each test gathers
(kills per point, outages, edits, approvals, what was lost) are printed at the end of
the run, so a CI log shows what the suite actually did.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanai.local import gitserver
from tests.support import crashes
from tests.support.cluster import Cluster
from tests.support.gitwork import GIT_PASSWORD, GIT_TOKEN, GIT_USER
from tests.support.operator import OperatorProcess

FIGURES: list[tuple[str, dict[str, Any]]] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault suite figures")
    for test, figures in FIGURES:
        shown = ", ".join(f"{key}={value}" for key, value in figures.items())
        terminalreporter.write_line(f"{test}: {shown}")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """What the test did and found, reported at the end of the run (if it passed)."""
    found: dict[str, Any] = {}
    yield found
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed:
        FIGURES.append((request.node.name, found))


class Operators:
    """The one operator of a fault test: started, killed and replaced at will, never two
    at once (two would race each other, which is not the fault under test)."""

    def __init__(self, factory: type[OperatorProcess], session: OperatorProcess) -> None:
        self._factory = factory
        self._session = session
        self.current: OperatorProcess | None = None
        self.kills = crashes.Kills()
        self.starts = 0

    def _replace(self, make: Any) -> OperatorProcess:
        self._session.stop()  # the session's operator works until the test takes over
        self.stop()
        self.current = make()
        self.starts += 1
        return self.current

    def start(self) -> OperatorProcess:
        return self._replace(lambda: self._factory().start())

    def armed(self, point: str, subject: str, *, freeze: bool = False) -> OperatorProcess:
        return self._replace(lambda: crashes.armed(self._factory, point, subject, freeze=freeze))

    def died_at(self, point: str, subject: str) -> None:
        assert self.current is not None
        crashes.died_at(self.current, point, subject, self.kills)

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()


@pytest.fixture
def operators(
    request: pytest.FixtureRequest,
    operator: OperatorProcess,
    cluster: Cluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operators]:
    """Operators of the test's own: the session's works until the first of them starts
    (so a test prepares with it), and again after the test."""
    started: list[OperatorProcess] = []

    class _Factory(OperatorProcess):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(cluster.kubeconfig, tmp_path_factory.mktemp("operator"), **kwargs)
            started.append(self)

    own = Operators(_Factory, operator)
    try:
        yield own
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed and started:
            print("----- the test's last operator log (tail) -----")
            print(started[-1].log()[-8000:])
        for process in started:
            process.stop()
        if operator.process is None or operator.process.poll() is not None:
            operator.start()


@pytest.fixture
def own_git_server(tmp_path: Path) -> Iterator[gitserver.GitServer]:
    """A Git server of the test's own, to stop and start again at the same address."""
    credentials = gitserver.Credentials(users={GIT_USER: GIT_PASSWORD}, tokens={GIT_TOKEN})
    server = gitserver.GitServer(tmp_path / "git", credentials).start()
    yield server
    server.stop()
