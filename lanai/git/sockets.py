"""libgit2's TCP connections, opened by Lanai so that the address checked is the one used.

libgit2 resolves and connects by itself, and offers no callback between the two. What
it does offer is a replaceable socket stream (``git_stream_register``, its public
``sys/stream.h`` API): every plain or TLS connection of its HTTP transport starts as a
socket stream made by the registered constructor. This module registers one whose
``connect`` asks the :class:`~lanai.git.egress.Operation` bound to the calling thread
(libgit2 works synchronously on the thread that called it), so libgit2 connects only
where :mod:`lanai.git.egress` allows, redirects included. TLS, certificates, HTTP and
authentication stay libgit2's.

Why not an HTTP proxy: libgit2 1.9 tunnels only https through a proxy (CONNECT); for
http URLs it connects to the server directly even with a proxy set, so a proxy cannot
guard plain-HTTP servers (in-cluster Gitea, say). A proxy also adds a hop per request.
Doing smart HTTP in Python instead would re-implement what libgit2 does well.

A connection on a thread with no bound operation is refused: every libgit2 network call
must say which URL it is for. The registration is process-wide and happens once; this
needs the libgit2 that pygit2 loaded to export ``git_stream_register`` (it always has,
since libgit2 0.28), else every Git connection fails with a message saying so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pygit2

from lanai.git import egress, network

logger = logging.getLogger(__name__)

_CDEF = """
typedef struct git_stream {
    int version;
    unsigned int flags;
    int timeout;
    int connect_timeout;
    int (*connect)(struct git_stream *);
    int (*certificate)(void **, struct git_stream *);
    int (*set_proxy)(struct git_stream *, const void *);
    ssize_t (*read)(struct git_stream *, void *, size_t);
    ssize_t (*write)(struct git_stream *, const char *, size_t, int);
    int (*close)(struct git_stream *);
    void (*free)(struct git_stream *);
} git_stream;
typedef struct {
    int version;
    int (*init)(git_stream **, const char *, const char *);
    int (*wrap)(git_stream **, git_stream *, const char *);
} git_stream_registration;
int git_stream_register(int type, git_stream_registration *registration);
int git_error_set_str(int error_class, const char *string);
"""
# ``flags`` stands for the two one-bit fields (encrypted, proxy_support) that share one
# unsigned int in libgit2's struct; both stay 0 for a plain socket.

_STREAM_VERSION = 1
_STREAM_STANDARD = 1
_ERROR_NET = 12
_GIT_TIMEOUT = -37


class Unavailable(RuntimeError):
    """Lanai cannot hook libgit2's connections here, so it makes none."""


class _Bound(threading.local):
    operation: egress.Operation | None = None


_bound = _Bound()
_install_lock = threading.Lock()
_installed: _Hook | None = None


def _libgit2_paths() -> list[str]:
    """Where the libgit2 that pygit2 uses is loaded from: a mapped ``libgit2*.so``
    (pygit2's wheels and distribution packages), else pygit2's own extension."""
    paths: list[str] = []
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            path = line.rstrip("\n").split(maxsplit=5)[-1]
            if os.path.basename(path).startswith("libgit2") and path not in paths:
                paths.append(path)
    from pygit2 import _libgit2

    paths.append(str(_libgit2.__file__))
    return paths


_FLUSH_AT = 64 * 1024
"""Bytes of writes held back at most; libgit2 writes a request in dozens of small pieces
(request line, each header, each pack chunk), sent together when it starts reading."""


class _Stream:
    """One libgit2 socket stream: its C struct and, once connected, its socket."""

    def __init__(self, hook: _Hook, host: str, port: str) -> None:
        self.host = host
        self.port = port
        self.sock: socket.socket | None = None
        self.pending = bytearray()
        self.struct = hook.ffi.new("git_stream *")
        self.struct.version = _STREAM_VERSION
        self.struct.connect = hook.connect
        self.struct.read = hook.read
        self.struct.write = hook.write
        self.struct.close = hook.close
        self.struct.free = hook.free


class _Hook:
    """The registered constructor and stream callbacks, kept alive for the process."""

    def __init__(self) -> None:
        import cffi  # type: ignore[import-untyped]

        self.ffi = cffi.FFI()
        self.ffi.cdef(_CDEF)
        self.lib = self._open()
        self.streams: dict[int, _Stream] = {}
        ffi = self.ffi
        self._address = ffi.typeof("uintptr_t")
        self.init = ffi.callback("int(git_stream **, const char *, const char *)", self._init)
        self.connect = ffi.callback("int(git_stream *)", self._connect)
        self.read = ffi.callback("ssize_t(git_stream *, void *, size_t)", self._read)
        self.write = ffi.callback("ssize_t(git_stream *, const char *, size_t, int)", self._write)
        self.close = ffi.callback("int(git_stream *)", self._close)
        self.free = ffi.callback("void(git_stream *)", self._free)
        self.registration = ffi.new("git_stream_registration *")
        self.registration.version = _STREAM_VERSION
        self.registration.init = self.init
        if self.lib.git_stream_register(_STREAM_STANDARD, self.registration) != 0:
            raise Unavailable("libgit2 refused Lanai's socket stream")

    def _open(self) -> Any:
        major = pygit2.LIBGIT2_VER[0]
        if major != 1:
            raise Unavailable(
                f"libgit2 {pygit2.LIBGIT2_VERSION} is not one Lanai's connection check was "
                "built for (1.x); Git connections are disabled"
            )
        for path in _libgit2_paths():
            try:
                lib = self.ffi.dlopen(path)
                lib.git_stream_register  # noqa: B018 (raises AttributeError when absent)
                lib.git_error_set_str  # noqa: B018
            except (OSError, AttributeError):
                continue
            return lib
        raise Unavailable(
            "the libgit2 that pygit2 loaded does not export git_stream_register, so Lanai "
            "cannot check where Git connections go; Git connections are disabled"
        )

    def _key(self, struct: Any) -> int:
        return int(self.ffi.cast(self._address, struct))

    def _fail(self, message: str, code: int = -1) -> int:
        self.lib.git_error_set_str(_ERROR_NET, message.encode("utf-8", "replace"))
        return code

    def _init(self, out: Any, host: Any, port: Any) -> int:
        try:
            stream = _Stream(self, self.ffi.string(host).decode(), self.ffi.string(port).decode())
        except Exception as error:
            return self._fail(f"cannot create a socket stream: {type(error).__name__}")
        self.streams[self._key(stream.struct)] = stream
        out[0] = stream.struct
        return 0

    def _connect(self, struct: Any) -> int:
        stream = self.streams.get(self._key(struct))
        if stream is None:
            return self._fail("unknown socket stream")
        operation = _bound.operation
        if operation is None:
            return self._fail(
                f"no Git operation is bound to this thread; Lanai refuses to connect to "
                f"{stream.host}"
            )
        if not stream.port.isdigit():
            return self._fail(f"invalid port {stream.port!r}")
        connect_timeout, io_timeout = network.timeouts()
        try:
            sock = operation.connect(stream.host, int(stream.port), connect_timeout or None)
            sock.settimeout(io_timeout or None)
        except egress.Refused as error:
            return self._fail(str(error))
        except TimeoutError as error:
            return self._fail(str(error), _GIT_TIMEOUT)
        except OSError as error:
            return self._fail(str(error))
        except Exception as error:
            return self._fail(f"failed to connect to {stream.host}: {type(error).__name__}")
        stream.sock = sock
        return 0

    def _read(self, struct: Any, buffer: Any, size: int) -> int:
        stream = self.streams.get(self._key(struct))
        if stream is None or stream.sock is None:
            return self._fail("read from a closed socket stream")
        try:
            if stream.pending:
                self._flush(stream, stream.sock)
            return stream.sock.recv_into(self.ffi.buffer(buffer, size))
        except TimeoutError:
            return self._fail(f"timed out reading from {stream.host}", _GIT_TIMEOUT)
        except OSError as error:
            return self._fail(f"could not read from {stream.host}: {error.strerror or error}")
        except Exception as error:
            return self._fail(f"could not read from {stream.host}: {type(error).__name__}")

    def _write(self, struct: Any, data: Any, size: int, _flags: int) -> int:
        stream = self.streams.get(self._key(struct))
        if stream is None or stream.sock is None:
            return self._fail("write to a closed socket stream")
        try:
            stream.pending += self.ffi.buffer(data, size)
            if len(stream.pending) >= _FLUSH_AT:
                self._flush(stream, stream.sock)
            return size
        except TimeoutError:
            return self._fail(f"timed out writing to {stream.host}", _GIT_TIMEOUT)
        except OSError as error:
            return self._fail(f"could not write to {stream.host}: {error.strerror or error}")
        except Exception as error:
            return self._fail(f"could not write to {stream.host}: {type(error).__name__}")

    @staticmethod
    def _flush(stream: _Stream, sock: socket.socket) -> None:
        pending, stream.pending = stream.pending, bytearray()
        sock.sendall(pending)

    def _close(self, struct: Any) -> int:
        stream = self.streams.get(self._key(struct))
        if stream is not None and stream.sock is not None:
            with contextlib.suppress(OSError):
                if stream.pending:
                    self._flush(stream, stream.sock)
                stream.sock.close()
            stream.sock = None
        return 0

    def _free(self, struct: Any) -> None:
        stream = self.streams.pop(self._key(struct), None)
        if stream is not None and stream.sock is not None:
            with contextlib.suppress(OSError):
                stream.sock.close()


def install() -> None:
    """Register Lanai's socket stream with libgit2 (once per process)."""
    global _installed
    with _install_lock:
        if _installed is None:
            _installed = _Hook()


@contextlib.contextmanager
def bound(operation: egress.Operation) -> Iterator[egress.Operation]:
    """libgit2 calls made inside connect only as ``operation`` allows."""
    install()
    previous = _bound.operation
    _bound.operation = operation
    try:
        yield operation
    finally:
        _bound.operation = previous
