"""How long libgit2 waits for a Git server before it gives up.

By default libgit2 waits forever: a server (or a proxy, or a half-open connection) that
accepts and never answers holds the thread that asked until the process ends. Lanai's
Git work runs in worker threads, so every such wait would take a thread away for good;
enough of them and no Repository syncs at all. A connect timeout and a per-read/write
timeout make every network call end, with a "timed out" error the probe reports.
The settings are process-wide (libgit2 global options), set once at startup.
"""

from __future__ import annotations

import pygit2
from pygit2.enums import Option

DEFAULT_TIMEOUT = 30.0
"""Seconds to connect, and to wait for each read or write, before a call fails."""


def set_timeouts(seconds: float = DEFAULT_TIMEOUT) -> None:
    milliseconds = max(int(seconds * 1000), 1)
    pygit2.option(Option.SET_SERVER_CONNECT_TIMEOUT, milliseconds)
    pygit2.option(Option.SET_SERVER_TIMEOUT, milliseconds)


def timeouts() -> tuple[float, float]:
    """(connect, read/write) timeouts in seconds; 0 means wait forever."""
    connect = pygit2.option(Option.GET_SERVER_CONNECT_TIMEOUT)
    io = pygit2.option(Option.GET_SERVER_TIMEOUT)
    return connect / 1000, io / 1000
