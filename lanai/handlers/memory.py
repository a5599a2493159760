"""How the operator process uses memory: few malloc arenas, a trimmed heap, a calm GC.

pygit2 work runs in worker threads, and glibc gives each thread its own malloc arena
(up to eight per core), each keeping its freed memory; the image used to set
``MALLOC_ARENA_MAX=2`` for that, which only helped where the image was used. A cold
sync of 10,000 revisions also frees tens of MiB at once (the plan, watch events,
Git buffers) that glibc keeps mapped; ``malloc_trim`` hands free pages back.
Elsewhere than glibc both are no-ops.

Python's cyclic collector runs a young collection every 700 new containers and a full
one (all ~10^5-10^6 tracked objects) whenever the long-lived ones grew by a quarter: in
a cold sync of 10,000 revisions (22,000 watch events of JSON) that was ~6 s of the
operator's CPU and pauses up to 0.36 s. Almost everything the operator frees is freed
by reference counting; the collector only has to find the odd cycle, so it runs far
less often, and what was loaded at start-up (modules, classes) is left out of it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import platform

logger = logging.getLogger(__name__)

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number
TRIM_AFTER = 1000
"""API writes (by all syncs together) after which freed memory goes back to the system:
one sync of 10,000 revisions, or a hundred Repositories of 100 each synced at once."""
GC_THRESHOLDS = (50_000, 20, 20)
"""New containers before a young collection; young (middle) collections before the next
generation is considered (Python's defaults: 700, 10, 10)."""


def _libc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def limit_arenas() -> None:
    """At most :data:`ARENAS` malloc arenas, unless ``MALLOC_ARENA_MAX`` says otherwise.

    Call before threads start: arenas already handed out stay.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return  # glibc read it at start-up
    libc = _libc()
    if libc is None:
        return
    if not libc.mallopt(_M_ARENA_MAX, ARENAS):
        logger.debug("mallopt(M_ARENA_MAX) was refused")


def calm_gc() -> None:
    """Fewer collections, and none of them over what was loaded at start-up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


_untrimmed = 0


def trim_due(writes: int) -> bool:
    """Count a sync's ``writes``; True (and the count starts again) once all syncs
    together have written :data:`TRIM_AFTER` since the last trim."""
    global _untrimmed
    _untrimmed += writes
    if _untrimmed < TRIM_AFTER:
        return False
    _untrimmed = 0
    return True


def trim() -> None:
    """Give free heap pages back to the system (blocks briefly; call from a thread)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
