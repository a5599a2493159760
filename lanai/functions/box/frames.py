"""Messages between the operator (or ``lanai fn``) and a function worker, over pipes.

A message is a 4-byte big-endian length and a pickle. Pickle because a render's files
are a dict of bytes, which pickle copies at memory speed (no base64, no YAML). What the
worker sends back is read with an unpickler that refuses every class: a worker runs
code a package chose, so its answers are plain data (dict, list, str, bytes, numbers)
or nothing. Reads in the parent take a deadline, which is how a function's time limit
is enforced.
"""

from __future__ import annotations

import io
import os
import pickle
import select
import struct
import time
from typing import Any, Final

_HEADER = struct.Struct(">I")
MAX_FRAME: Final = 1 << 30
"""Larger than any answer a worker under its memory cap can build."""


class Timeout:
    """The deadline passed before a whole message arrived."""


TIMEOUT: Final = Timeout()


class FrameError(Exception):
    """The other side sent something that is not a message of this protocol."""


def encode(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if len(body) > MAX_FRAME:
        raise FrameError(f"a message of {len(body)} bytes is over the {MAX_FRAME} byte limit")
    return _HEADER.pack(len(body)) + body


def write(fd: int, data: bytes) -> None:
    """All of ``data`` (an :func:`encode` d message); blocks while the pipe is full."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a worker may send plain data only, not {module}.{name}")


def loads_plain(body: bytes) -> Any:
    try:
        return _PlainUnpickler(io.BytesIO(body)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise FrameError(f"unreadable message: {error}") from None


def plain(value: Any) -> Any:
    """``value`` with every container and scalar turned into its builtin type (ruamel's
    string and number subclasses included), so the plain unpickler accepts it."""
    if value is None or type(value) in (str, bytes, int, float, bool):
        return value
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    return str(value)


class Reader:
    """Reads whole messages from a pipe, each by a deadline (the parent's side)."""

    def __init__(self, fd: int, *, trusted: bool = False) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._trusted = trusted

    def read(self, deadline: float | None = None) -> Any:
        """The next message, :data:`TIMEOUT` when ``deadline`` (``time.monotonic()``)
        passes first, or :class:`EOFError` when the other side is gone."""
        while True:
            message = self._take()
            if message is not None:
                return message[0]
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return TIMEOUT
                if not self._poll.poll(max(1, int(left * 1000) + 1)):
                    continue
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                raise EOFError("the other side closed the pipe")
            self._buffer += chunk

    def _take(self) -> tuple[Any] | None:
        if len(self._buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self._buffer)
        if size > MAX_FRAME:
            raise FrameError(f"a message of {size} bytes is over the {MAX_FRAME} byte limit")
        end = _HEADER.size + size
        if len(self._buffer) < end:
            return None
        with memoryview(self._buffer) as view:
            body = bytes(view[_HEADER.size : end])
        del self._buffer[:end]
        return (pickle.loads(body) if self._trusted else loads_plain(body),)  # noqa: S301
