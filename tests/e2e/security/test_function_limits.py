"""An author's pipeline cannot take the operator's memory or time.

The attacker is the package-author role (alice): she creates a Draft cloned from a Git
package whose starlark step doubles a string 31 times (2 GiB) or loops without end. The
render runs in a function worker with a memory and time cap, so the revision reports
the limit (Ready=False, Rendered=False, an Event RenderFailed), nothing is pushed, the
operator's own memory stays where it was, and the next Draft renders normally.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanai.local import gitserver
from tests.support import gitwork, pipelines
from tests.support.cluster import condition
from tests.support.operator import OperatorProcess
from tests.support.pipelines import STARLARK_IMAGE
from tests.support.team import AUTHOR, REPO, Team
from tests.support.waiting import wait_for

MIB = 1024 * 1024
RSS_BOUND = 48 * MIB
"""How much the operator's resident memory may move while a worker meets a 2 GiB bomb:
the noise of an operator at work (watch events, a Git push), not the bomb."""


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of ``pid``, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


class _Sampler:
    """The operator's largest VmRSS, sampled every 20 ms while a test acts."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.largest = max(self.largest, _memory(self.pid)["VmRSS"])

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _seed(team: Team, git_server: gitserver.GitServer, tmp_path: Path, source: str) -> str:
    """A Git repository (not a registered Repository) holding package ``pkg`` whose
    pipeline runs ``source`` after set-labels; its URL."""
    url = git_server.create_repository(f"{team.namespace}-catalog")
    files = pipelines.starlark_package(source, name="pkg", labels=True)
    gitwork.seed(url, tmp_path / "catalog", {"pkg": files})
    return url


def _clone(team: Team, url: str, package: str) -> str:
    """Create, as the author, a Draft cloned from ``pkg`` at ``url``; its name."""
    team.let_read_secret("git-auth")  # Lanai reads it on her behalf only if she may
    name = f"{REPO}.{package}.v1"
    source = {"repo": url, "ref": "main", "directory": "pkg", "secretRef": {"name": "git-auth"}}
    team.create(
        name,
        {
            "repository": REPO,
            "packageName": package,
            "workspaceName": "v1",
            "lifecycle": "Draft",
            "source": {"cloneFrom": {"type": "git", "git": source}},
        },
        user=AUTHOR,
    )
    return name


def _refused_for(team: Team, name: str, limit: str) -> dict[str, Any]:
    """The revision refused for ``limit``: Ready and Rendered False, an Event, no branch."""
    failed = team.settled(name, ready="False")
    ready, rendered = condition(failed, "Ready"), condition(failed, "Rendered")
    assert ready is not None
    assert rendered is not None
    expected = f"function {STARLARK_IMAGE} exceeded its {limit}"
    assert ready["reason"] == "RenderFailed"
    assert ready["message"].endswith(f"root package: {expected}")
    assert (rendered["status"], rendered["reason"]) == ("False", "RenderFailed")
    assert expected in rendered["message"]
    events = wait_for(
        lambda: [e for e in team.events(name) if e["reason"] == "RenderFailed"] or None,
        timeout=30,
        what=f"a RenderFailed event on {name}",
    )
    assert expected in events[0]["message"]
    return failed


def _quiet_log(operator: OperatorProcess, since: int) -> str:
    """The operator's log since ``since``: one line per failure, no traceback or panic."""
    text = operator.log()[since:]
    for marker in ("Traceback", "panicked", "PanicException", "memory allocation of"):
        assert marker not in text
    return text


def test_a_memory_bomb_in_a_draft_leaves_the_operator_as_it_was(
    team: Team, operator: OperatorProcess, git_server: gitserver.GitServer, tmp_path: Path
) -> None:
    assert operator.process is not None
    pid = operator.process.pid
    url = _seed(team, git_server, tmp_path, pipelines.DOUBLING)
    refs = team.refs()
    logged = len(operator.log())
    before = _memory(pid)
    with _Sampler(pid) as sampler:
        name = _clone(team, url, "bomb")
        _refused_for(team, name, "256 MiB memory limit")
    after = _memory(pid)
    assert sampler.largest - before["VmRSS"] < RSS_BOUND
    assert after["VmRSS"] - before["VmRSS"] < RSS_BOUND
    assert after["VmHWM"] - before["VmHWM"] < RSS_BOUND  # not even for a moment
    assert team.refs() == refs  # nothing pushed
    assert team.get(name, "prr") is None
    log = _quiet_log(operator, logged)
    assert f"{name}: error rendering package" in log

    # The box recovered: the next Draft, a harmless pipeline, renders.
    harmless = _seed_again(team, git_server, tmp_path)
    fine = _clone(team, harmless, "fine")
    rendered = condition(team.settled(fine), "Rendered")
    assert rendered is not None
    assert rendered["status"] == "True"
    assert "app: web" in team.show("refs/heads/drafts/fine/v1", "fine/cm.yaml")


def _seed_again(team: Team, git_server: gitserver.GitServer, tmp_path: Path) -> str:
    url = git_server.create_repository(f"{team.namespace}-harmless")
    files = pipelines.starlark_package(pipelines.HARMLESS, name="pkg", labels=True)
    gitwork.seed(url, tmp_path / "harmless", {"pkg": files})
    return url


@pytest.fixture
def impatient(
    team: Team, operator: OperatorProcess, operator_factory: type[OperatorProcess]
) -> Iterator[OperatorProcess]:
    """An operator whose functions may run 2 s, instead of the session's."""
    operator.stop()
    replacement = operator_factory(extra_args=["--function-timeout", "2"]).start()
    try:
        yield replacement
    finally:
        replacement.stop()
        operator.start()


def test_an_endless_loop_in_a_draft_stops_at_the_time_limit(
    impatient: OperatorProcess, team: Team, git_server: gitserver.GitServer, tmp_path: Path
) -> None:
    url = _seed(team, git_server, tmp_path, pipelines.ENDLESS)
    refs = team.refs()
    name = _clone(team, url, "spin")
    _refused_for(team, name, "2 s time limit")
    assert team.refs() == refs
    _quiet_log(impatient, 0)

    harmless = _seed_again(team, git_server, tmp_path)
    fine = _clone(team, harmless, "fine")
    team.settled(fine)
    assert "app: web" in team.show("refs/heads/drafts/fine/v1", "fine/cm.yaml")
