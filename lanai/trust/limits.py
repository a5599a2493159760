"""How much memory and time a KRM function may take, and how to say it was too much.

A package's pipeline is code its author chose: a starlark script that doubles a string
31 times asks for 2 GiB, a loop may never end. Functions therefore run in a worker
process with a cap on its private writable memory (``RLIMIT_DATA``) and a deadline; this
module holds the numbers and the rules around them, so the operator's flags, ``lanai fn``
and the worker agree, and every message a user sees about a limit reads the same.

``RLIMIT_DATA`` rather than ``RLIMIT_AS``: the address space also counts what is only
reserved, never used (glibc's malloc arenas, thread stacks, shared libraries, and the Go
runtime's heap reservations, which make a Go function fail to start at all under an
address-space cap of a few hundred MiB). The data limit counts the heap and private
anonymous mappings, the memory that can become resident.
"""

from __future__ import annotations

import math
import re
import signal

MIB = 1024 * 1024

DEFAULT_MEMORY = 256 * MIB
"""Private memory one render's functions may add to its worker (the worker's own ~25 MiB
of interpreter and libraries not counted), and the cap of each exec function."""
MIN_MEMORY = 32 * MIB
MAX_MEMORY = 64 * 1024 * MIB

DEFAULT_TIMEOUT = 60.0
"""Seconds one function may run."""
MAX_TIMEOUT = 24 * 3600.0

DEFAULT_WORKERS = 2
"""Worker processes of the operator: renders run in parallel up to this many."""
MAX_WORKERS = 32

RENDER_TIME_FACTOR = 10
MIN_RENDER_TIME = 300.0

RECYCLE_GROWTH = 64 * MIB
"""A worker whose resident memory grew by more than this over a job is replaced."""

_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?\s*$")
_UNITS = {
    None: MIB,
    "Ki": 1024,
    "Mi": MIB,
    "Gi": 1024 * MIB,
    "Ti": 1024 * 1024 * MIB,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
}
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_SECOND_UNITS = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}

_OUT_OF_MEMORY = (
    "memory allocation of",  # Rust's alloc error handler, then abort
    "out of memory",  # Go's runtime, pyo3 panics, glibc
    "memoryerror",  # Python
    "cannot allocate memory",  # ENOMEM as strerror
    "std::bad_alloc",  # C++
)


class LimitError(ValueError):
    """A memory, time or worker setting that cannot be used (the message says why)."""


def parse_memory(text: str) -> int:
    """Bytes from ``256`` (MiB) or a Kubernetes quantity (``256Mi``, ``1Gi``, ``300M``)."""
    found = _QUANTITY.match(text)
    if found is None:
        raise LimitError(
            f"memory limit {text!r} is not a size: give MiB (256) or a quantity (256Mi, 1Gi)"
        )
    value = math.floor(float(found.group(1)) * _UNITS[found.group(2)])
    return check_memory(value)


def check_memory(value: int) -> int:
    if not MIN_MEMORY <= value <= MAX_MEMORY:
        raise LimitError(
            f"memory limit {mib(value)} is outside {mib(MIN_MEMORY)} .. {mib(MAX_MEMORY)}"
        )
    return value


def parse_seconds(text: str) -> float:
    """Seconds from ``60``, ``1.5``, ``90s``, ``2m`` or ``1h``."""
    found = _SECONDS.match(text)
    if found is None:
        raise LimitError(f"time limit {text!r} is not a duration: give seconds (60) or 2m")
    return check_timeout(float(found.group(1)) * _SECOND_UNITS[found.group(2)])


def check_timeout(value: float) -> float:
    if not 0 < value <= MAX_TIMEOUT:
        raise LimitError(f"time limit {seconds(value)} is outside 0 s .. {seconds(MAX_TIMEOUT)}")
    return value


def check_workers(value: int) -> int:
    if not 1 <= value <= MAX_WORKERS:
        raise LimitError(f"function workers {value} is outside 1 .. {MAX_WORKERS}")
    return value


def mib(value: int) -> str:
    """``256 MiB``; a size that is no whole number of MiB keeps one decimal."""
    whole, rest = divmod(value, MIB)
    return f"{whole} MiB" if rest == 0 else f"{value / MIB:.1f} MiB"


def seconds(value: float) -> str:
    return f"{value:g} s"


# -- what the worker and its parent apply -------------------------------------------------


def data_limit(current: int, cap: int) -> int:
    """The worker's ``RLIMIT_DATA`` for a job: what it holds now, plus the cap."""
    return current + cap


def kill_after(timeout: float) -> float:
    """When the parent kills a function that ignored its own deadline: the function's
    runtime stops it cooperatively at ``timeout`` where it can (starlark, executables, a
    function runner); the kill is the backstop, a little later."""
    return timeout + min(10.0, max(1.0, timeout / 10))


def render_time_limit(timeout: float) -> float:
    """A whole render's deadline, so a pipeline of many slow steps ends too."""
    return max(MIN_RENDER_TIME, RENDER_TIME_FACTOR * timeout)


def should_recycle(resident: int, baseline: int) -> bool:
    """A worker that kept more than :data:`RECYCLE_GROWTH` after a job is replaced."""
    return resident - baseline > RECYCLE_GROWTH


def out_of_memory(stderr: str) -> bool:
    """Whether a process's last words say an allocation failed."""
    text = stderr.lower()
    return any(marker in text for marker in _OUT_OF_MEMORY)


def died_of_memory(returncode: int, stderr: str, *, killed_by_us: bool) -> bool:
    """A process that ended abnormally ran out of memory: it said so, or the kernel's
    OOM killer (the only other sender of SIGKILL) ended it."""
    if out_of_memory(stderr):
        return True
    return returncode == -signal.SIGKILL and not killed_by_us


# -- messages --------------------------------------------------------------------------


def memory_exceeded(function: str | None, cap: int) -> str:
    who = f"function {function}" if function else "the render"
    return f"{who} exceeded its {mib(cap)} memory limit"


def time_exceeded(function: str | None, limit: float) -> str:
    who = f"function {function}" if function else "the render"
    return f"{who} exceeded its {seconds(limit)} time limit"


def exceeded(limit: str, function: str | None, amount: float) -> str:
    """The message for ``limit`` (``memory`` in bytes or ``time`` in seconds)."""
    if limit == "memory":
        return memory_exceeded(function, int(amount))
    return time_exceeded(function, amount)
