"""Objects a Repository sync could not write: remembered, retried later, reported once.

One object the API server refuses to write (a CEL rule, an admission policy, a conflict,
a server error) must neither stop the sync of the rest nor flood the log and the Events
on every sync. Per Repository, :class:`FailedWrites` keeps each refused object with a
capped, growing delay before its next attempt; the first refusal, and any refusal with a
new message, is reported on the object itself: a ``Synced=False`` condition (on a
PackageRevision), a ``SyncFailed`` Event and one log line. The Repository's status
counts them; ``lanai repo sync`` (spec.sync.runOnceAt) retries them at once. The planner
removes the condition once the object is written (``failing`` in ``mirror.plan``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from lanai.api import conditions, constants
from lanai.handlers import kube, mirroring, runtime

logger = logging.getLogger(__name__)

FIRST_RETRY = 5.0
"""Seconds before the first retry of a refused write; doubled after each refusal."""
LONGEST_RETRY = 600.0


@dataclass
class _Entry:
    failure: mirroring.WriteFailure
    attempts: int
    retry_at: float


@dataclass
class FailedWrites:
    """The objects of one Repository whose last write was refused, with their backoff."""

    first_retry: float = FIRST_RETRY
    longest_retry: float = LONGEST_RETRY
    clock: Callable[[], float] = time.monotonic
    _entries: dict[mirroring.Key, _Entry] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._entries)

    def due(self, key: mirroring.Key) -> bool:
        """May the sync try to write this object now?"""
        entry = self._entries.get(key)
        return entry is None or entry.retry_at <= self.clock()

    def next_retry_in(self) -> float | None:
        """Seconds until the first refused object is due again (None: none is waiting)."""
        if not self._entries:
            return None
        return max(0.0, min(entry.retry_at for entry in self._entries.values()) - self.clock())

    def revisions(self) -> frozenset[str]:
        """Names of the PackageRevisions still failing (for ``mirror.plan``)."""
        return frozenset(name for kind, name in self._entries if kind == "PackageRevision")

    def failures(self) -> list[mirroring.WriteFailure]:
        return [entry.failure for _, entry in sorted(self._entries.items())]

    def retry_now(self) -> None:
        """Someone asked for a sync (spec.sync.runOnceAt): every object is tried again."""
        for entry in self._entries.values():
            entry.retry_at = 0.0

    def update(
        self, planned: set[mirroring.Key], applied: mirroring.Applied
    ) -> tuple[list[mirroring.WriteFailure], int]:
        """Note a sync's outcome: (the refusals to report, how many objects recovered).

        An object recovers when its write went through, or when nothing is to be written
        to it any more (Git or the object changed meanwhile)."""
        now = self.clock()
        recovered = 0
        for key in list(self._entries):
            if key not in planned or (key in applied.attempted and key not in applied.failed):
                del self._entries[key]
                recovered += 1
        fresh = []
        for key, failure in applied.failed.items():
            entry = self._entries.get(key)
            attempts = entry.attempts + 1 if entry else 1
            delay = min(self.first_retry * 2 ** (attempts - 1), self.longest_retry)
            if entry is None or entry.failure.message != failure.message:
                fresh.append(failure)
            self._entries[key] = _Entry(failure, attempts, now + delay)
        return fresh, recovered


def planned_keys(plan: Any, package_plan: Any) -> set[mirroring.Key]:
    """Every object a sync's two plans (revisions, Packages) write."""
    keys = {("PackageRevision", name) for name in plan.names()}
    keys |= {("Package", str(body["metadata"]["name"])) for body in package_plan.create}
    keys |= {("Package", name) for name, _ in package_plan.patch}
    keys |= {("Package", name) for name in package_plan.delete}
    return keys


def summary(failures: list[mirroring.WriteFailure], shown: int = 3) -> str:
    """For the Repository's Ready message: how many, and the first few by name."""
    names = ", ".join(f"{f.kind} {f.name}" for f in failures[:shown])
    more = f" and {len(failures) - shown} more" if len(failures) > shown else ""
    count = f"{len(failures)} object{'s' if len(failures) != 1 else ''}"
    return f"{count} could not be written: {names}{more} (see their SyncFailed events)"


def _message(repository: str, failure: mirroring.WriteFailure) -> str:
    return (
        f"the sync of Repository {repository} {failure.describe()}; the object may not show "
        f"what Git holds. Lanai retries it with a growing delay (at most "
        f"{LONGEST_RETRY / 60:g} min), at once after `lanai repo sync {repository}`"
    )


_RESOURCES = {
    "PackageRevision": (constants.PORCH_GROUP, constants.PORCH_VERSION, "packagerevisions"),
    "Package": (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGES),
}


async def report(
    rt: runtime.Runtime,
    namespace: str,
    repository: str,
    failures: Iterable[mirroring.WriteFailure],
) -> None:
    """Tell each refusal once: a log line, a condition on the object, an Event on it (on
    the Repository when the object does not exist). Best effort: reporting never fails
    the sync."""
    for failure in failures:
        logger.warning("sync of %s/%s: %s", namespace, repository, failure.describe())
        message = _message(repository, failure)
        try:
            await _report_one(rt, namespace, repository, failure, message)
        except (kube.ApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
            logger.debug("could not report on %s %s: %s", failure.kind, failure.name, error)


async def _report_one(
    rt: runtime.Runtime,
    namespace: str,
    repository: str,
    failure: mirroring.WriteFailure,
    message: str,
) -> None:
    group, version, plural = _RESOURCES[failure.kind]
    found = await kube.find(rt.api, group, version, namespace, plural, failure.name)
    if found is None:
        reference = {
            "apiVersion": f"{constants.CONFIG_GROUP}/{constants.CONFIG_VERSION}",
            "kind": "Repository",
            "metadata": {"name": repository, "namespace": namespace},
        }
        await rt.events.post(reference, "Warning", constants.REASON_SYNC_FAILED, message)
        return
    current: list[dict[str, Any]] | None = (found.get("status") or {}).get("conditions")
    shown = conditions.find(current, constants.SYNCED)
    if shown is not None and shown.get("message") == message:
        return  # reported before (by an earlier run of the operator)
    if failure.kind == "PackageRevision":
        synced = conditions.Condition(
            constants.SYNCED, "False", constants.REASON_SYNC_FAILED, message
        )
        status = {"conditions": conditions.upsert(current, synced)}
        try:
            await kube.patch_status(rt.api, group, version, plural, namespace, failure.name, status)
        except kube.ApiError as error:  # the status may be what cannot be written
            logger.debug("could not set Synced=False on %s: %s", failure.name, error)
    await rt.events.post(found, "Warning", constants.REASON_SYNC_FAILED, message)
