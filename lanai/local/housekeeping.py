"""Push-based repository housekeeping for the local Git server, as hosting services do it.

A bare repository that only ever receives small pushes keeps every ref as a loose file
and every object as a loose object. ``git receive-pack`` checks each push's connectivity
against *all* refs (``rev-list --not --all``, twice over under its quarantine), so on such
a repository every push costs more than the last: 6 → 28 ms between 0 and 600 refs,
measured on this server. Hosting services do not let repositories drift like that;
GitLab, for one, documents push-based housekeeping: an incremental repack every 10
pushes and a full one every 50. :class:`Housekeeping` does the same here, after the push
(never on its path), one repository at a time, on one background thread:

- every ``incremental_every`` pushes: pack the loose objects (``repack -d``), pack the refs
  (``pack-refs --all``) and refresh the commit-graph;
- every ``full_every`` pushes: the same with every pack joined into one (``repack -a -d``).

Git's own ``gc --auto`` after a push is turned off meanwhile (:data:`NO_AUTO_GC`): two
maintainers of one repository would only repeat each other's work.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

NO_AUTO_GC = {
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "receive.autogc",
    "GIT_CONFIG_VALUE_0": "false",
}
"""Environment for ``git http-backend`` that keeps ``receive-pack`` from running ``gc --auto``."""

TIMEOUT = 300.0
"""Seconds one housekeeping command may take before it is given up on."""


@dataclass
class Housekeeping:
    """Counts pushes per repository and maintains a repository every so many of them."""

    incremental_every: int = 10
    full_every: int = 50
    git: str = "git"
    _pushes: dict[Path, int] = field(default_factory=dict)
    _queued: set[Path] = field(default_factory=set)
    _idle: threading.Condition = field(default_factory=threading.Condition)
    """Guards the counts; notified whenever a repository's housekeeping ends."""
    _worker: futures.ThreadPoolExecutor = field(
        default_factory=lambda: futures.ThreadPoolExecutor(1, thread_name_prefix="git-housekeeping")
    )
    runs: int = 0
    """Housekeeping runs finished (for tests and reports)."""

    def pushed(self, repository: Path) -> None:
        """Count a push to ``repository``; start its housekeeping when one is due (unless
        one is queued or running for it already: the next due push starts it again)."""
        with self._idle:
            count = self._pushes.get(repository, 0) + 1
            self._pushes[repository] = count
            if count % self.incremental_every or repository in self._queued:
                return
            self._queued.add(repository)
            full = count % self.full_every == 0
            self._worker.submit(self._maintain, repository, full)

    def drain(self) -> None:
        """Wait for the housekeeping queued or under way (before a repository is removed)."""
        with self._idle:
            self._idle.wait_for(lambda: not self._queued)

    def _maintain(self, repository: Path, full: bool) -> None:
        try:
            self._run(repository, "repack", *(("-a",) if full else ()), "-d", "-q")
            self._run(repository, "pack-refs", "--all")
            self._run(repository, "commit-graph", "write", "--reachable")
        except (OSError, subprocess.SubprocessError) as error:
            logger.warning("housekeeping of %s failed: %s", repository.name, error)
        finally:
            with self._idle:
                self._queued.discard(repository)
                self.runs += 1
                self._idle.notify_all()

    def _run(self, repository: Path, *args: str) -> None:
        subprocess.run(
            [self.git, "-C", str(repository), *args],
            check=True,
            capture_output=True,
            timeout=TIMEOUT,
        )
