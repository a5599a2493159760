"""When did the API server tell a watcher? A watch of the benchmark's objects, timestamped.

A lifecycle sample ends when a client would learn the outcome: the first watch event
showing it (what ``kubectl wait`` and ``porchctl`` see), not the next poll. Every event
is kept with the ``time.perf_counter()`` of its arrival, so a wait that starts after the
event still gets the event's own time.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench import cluster

Predicate = Callable[[dict[str, Any]], bool]


class Watcher:
    """The objects of one collection (``path``, with an optional label selector)."""

    def __init__(self, session: cluster.Session, path: str, selector: str = "") -> None:
        self._session = session
        self._path = path
        self._selector = selector
        self._seen: defaultdict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        self._log: list[tuple[float, str, dict[str, Any] | None]] = []
        """Every event in order: (arrival, name, object or None when deleted)."""
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-watch")
        self._ready = threading.Event()

    def start(self) -> Watcher:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the benchmark's watch did not start")
        return self

    def stop(self) -> None:
        self._stop.set()

    def _query(self, **extra: str) -> str:
        query = {"labelSelector": self._selector} if self._selector else {}
        query.update(extra)
        return self._path + "?" + "&".join(f"{k}={v}" for k, v in query.items())

    def _run(self) -> None:
        version = self._session.request("GET", self._query())["metadata"]["resourceVersion"]
        while not self._stop.is_set():
            connection = self._session.connect(timeout=None)
            try:
                path = self._query(
                    watch="1", resourceVersion=version, timeoutSeconds="3600",
                    allowWatchBookmarks="true",
                )  # fmt: skip
                connection.request("GET", path, headers={"Accept": "application/json"})
                answer = connection.getresponse()
                self._ready.set()
                while not self._stop.is_set():
                    line = answer.readline()
                    if not line:
                        break
                    arrived = time.perf_counter()
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        name = obj["metadata"]["name"]
                        gone = event["type"] == "DELETED"
                        with self._changed:
                            self._seen[name].append((arrived, obj))
                            self._log.append((arrived, name, None if gone else obj))
                            self._changed.notify_all()
            except (OSError, http.client.HTTPException):
                if self._stop.is_set():
                    return  # the benchmark is over and its API server gone
                raise
            finally:
                connection.close()

    def first(self, name: str, predicate: Predicate, timeout: float = 60) -> tuple[float, dict]:  # type: ignore[type-arg]
        """(arrival time, object) of the first event of ``name`` that ``predicate`` holds for."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self._changed:
            while True:
                events = self._seen[name]
                for arrived, obj in events[checked:]:
                    if predicate(obj):
                        return arrived, obj
                checked = len(events)
                left = deadline - time.monotonic()
                if left <= 0:
                    last = events[-1][1] if events else None
                    raise TimeoutError(f"{name}: not seen as wanted within {timeout}s: {last}")
                self._changed.wait(left)

    def until(self, holds: Callable[[dict[str, dict[str, Any]]], bool], timeout: float) -> float:
        """Arrival time of the first event after which ``holds`` is true of the collection
        (the newest object of each name, deleted ones left out): a count reached, say,
        told by the watch rather than by polling lists (which loads the API server)."""
        deadline = time.monotonic() + timeout
        state: dict[str, dict[str, Any]] = {}
        checked = 0
        with self._changed:
            while True:
                for arrived, name, obj in self._log[checked:]:
                    if obj is None:
                        state.pop(name, None)
                    else:
                        state[name] = obj
                    if holds(state):
                        return arrived
                checked = len(self._log)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"not reached within {timeout}s ({len(state)} objects)")
                self._changed.wait(left)

    def latest(self, name: str, timeout: float = 60) -> dict[str, Any]:
        """The newest object of ``name`` the watch has shown."""
        self.first(name, lambda obj: True, timeout)
        with self._changed:
            return self._seen[name][-1][1]

    def forget(self, name: str) -> None:
        with self._changed:
            self._seen.pop(name, None)
