"""How the operator process uses glibc's allocator: few arenas, trimmed after big syncs.

pygit2 work runs in worker threads, and glibc gives each thread its own malloc arena
(up to eight per core), each keeping its freed memory; the image used to set
``MALLOC_ARENA_MAX=2`` for that, which only helped where the image was used. A cold
sync of 10,000 revisions also frees tens of MiB at once (the plan, watch events,
Git buffers) that glibc keeps mapped; ``malloc_trim`` hands free pages back.
Elsewhere than glibc both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

logger = logging.getLogger(__name__)

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number
TRIM_AFTER = 1000
"""API writes after which a sync returns freed memory to the system."""


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


def trim() -> None:
    """Give free heap pages back to the system (blocks briefly; call from a thread)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
