"""Waiting for the operator after a change, with progress on stderr.

The API server accepts a create or a lifecycle move at once; Lanai acts on it a moment
later. The change has been carried out when ``status.observedGeneration`` has caught up
with ``metadata.generation``, and a condition (``Ready``; ``Rendered`` for a Draft's
files) says how it went: ``True`` ends the wait, ``False`` fails it with the condition's
message. Deletions are done when the object is gone.

It polls with a short, growing interval rather than watching: a GET needs only the
``get`` verb, survives API server restarts and compaction without resourceVersion
bookkeeping, and costs a few requests per second at most.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from lanai.api import conditions, constants
from lanai.cli import kube

FIRST_INTERVAL = 0.05
DEFAULT_TIMEOUT = 60.0
LONGEST_INTERVAL = 1.0
REMIND_EVERY = 10.0


@dataclass(frozen=True)
class State:
    """Where a change stands: ``done`` when Lanai has acted, ``failed`` if it refused."""

    done: bool
    failed: bool
    summary: str


def describe_condition(condition: Mapping[str, Any]) -> str:
    """``Ready=False (Rejected): message``."""
    text = f"{condition.get('type')}={condition.get('status')}"
    if condition.get("reason"):
        text += f" ({condition['reason']})"
    if condition.get("message"):
        text += f": {condition['message']}"
    return text


def assess(
    obj: Mapping[str, Any], condition: str = constants.READY, *, required: bool = True
) -> State:
    """How far Lanai has got with the object's latest spec (a pure reading of it).

    ``required=False``: an object Lanai has acted on without writing ``condition`` is done.
    """
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    found = conditions.find(status.get("conditions"), condition)
    if generation is not None and (observed is None or observed < generation):
        summary = "Lanai has not acted on the change yet"
        if found and found.get("status") == "False":
            summary += f" (retrying after {describe_condition(found)})"
        return State(False, False, summary)
    if found is None:
        return State(not required, False, f"no {condition} condition yet")
    shown = describe_condition(found)
    if found.get("status") == "True":
        return State(True, False, shown)
    if found.get("status") == "False":
        return State(True, True, shown)
    return State(False, False, shown)


class Progress:
    """Prints a line when the state changes, and a reminder when it does not for a while."""

    def __init__(self, name: str, out: TextIO | None = None) -> None:
        self.name = name
        self.out = out or sys.stderr
        self.started = time.monotonic()
        self._last = ""
        self._said_at = 0.0

    def show(self, summary: str) -> None:
        now = time.monotonic()
        if summary == self._last and now - self._said_at < REMIND_EVERY:
            return
        elapsed = now - self.started
        suffix = f" ({elapsed:.0f}s)" if summary == self._last else ""
        print(f"waiting for {self.name}: {summary}{suffix}", file=self.out, flush=True)
        self._last = summary
        self._said_at = now


Pending = Callable[[Mapping[str, Any]], str | None]
"""Anything besides the condition the wait needs; returns what it still waits for."""


class _Poll:
    """The loop both waits share: a deadline, a growing interval, progress lines."""

    def __init__(self, name: str, within: float, out: TextIO | None) -> None:
        self.name = name
        self.within = within
        self.progress = Progress(name, out)
        self.deadline = time.monotonic() + within
        self.interval = FIRST_INTERVAL

    async def again(self, summary: str) -> None:
        """Show ``summary`` and sleep before the next look, or fail once time is up."""
        if time.monotonic() >= self.deadline:
            raise kube.Failure(
                f"timed out after {self.within:g}s waiting for {self.name}: {summary}"
            )
        self.progress.show(summary)
        await asyncio.sleep(max(0.0, min(self.interval, self.deadline - time.monotonic())))
        self.interval = min(self.interval * 1.5, LONGEST_INTERVAL)


async def until_ready(
    session: kube.Session,
    resource: kube.Resource,
    name: str,
    *,
    within: float,
    condition: str = constants.READY,
    required: bool = True,
    pending: Pending | None = None,
    out: TextIO | None = None,
) -> dict[str, Any]:
    """Wait until Lanai has acted on ``name``; return it, or fail with its message."""
    poll = _Poll(name, within, out)
    while True:
        obj = await session.find(resource, name)
        if obj is None:
            raise kube.Failure(f"{name} disappeared while waiting for it")
        state = assess(obj, condition, required=required)
        waiting_for = pending(obj) if pending and state.done and not state.failed else None
        if state.failed:
            raise kube.Failure(f"{name}: {state.summary}")
        if state.done and waiting_for is None:
            return obj
        await poll.again(waiting_for or state.summary)


Blocked = Callable[[Mapping[str, Any]], Awaitable[str | None]]
"""Why the deletion of an object (still there) cannot go on, if Lanai said so."""


async def until_gone(
    session: kube.Session,
    resource: kube.Resource,
    name: str,
    *,
    within: float,
    blocked: Blocked | None = None,
    out: TextIO | None = None,
) -> None:
    """Wait until ``name`` no longer exists; fail early when Lanai reports it blocked."""
    poll = _Poll(name, within, out)
    while True:
        obj = await session.find(resource, name)
        if obj is None:
            return
        reason = await blocked(obj) if blocked else None
        if reason:
            raise kube.Failure(
                f"{name} is marked for deletion but Lanai cannot delete it: {reason} "
                "(it stays marked and Lanai retries)"
            )
        finalizers = (obj.get("metadata") or {}).get("finalizers") or []
        others = [f for f in finalizers if f != constants.FINALIZER]
        await poll.again(
            f"held by finalizers {', '.join(others)}" if others else "Lanai is removing it"
        )


def event_time(event: Mapping[str, Any]) -> datetime.datetime | None:
    """When a core/v1 Event last happened (``lastTimestamp``, else ``eventTime``)."""
    raw = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    if isinstance(raw, datetime.datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=datetime.UTC)
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def latest_message(
    events: list[dict[str, Any]], uid: str | None, since: datetime.datetime
) -> str | None:
    """The message of the newest event about object ``uid`` that happened at/after ``since``."""
    newest: tuple[datetime.datetime, str] | None = None
    for event in events:
        involved = event.get("involvedObject") or {}
        when = event_time(event)
        if uid and involved.get("uid") not in (None, uid):
            continue
        if when is None or when < since:
            continue
        if newest is None or when >= newest[0]:
            newest = (when, str(event.get("message") or ""))
    return newest[1] if newest else None


def arguments() -> argparse.ArgumentParser:
    """``--no-wait`` and ``--timeout``, as a parent parser for commands that change things."""
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_argument_group("waiting")
    group.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="return once the API server accepted the change (default: wait for Lanai)",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for Lanai (default {DEFAULT_TIMEOUT:g})",
    )
    return flags
