"""The exec runtime: functions that are local executables speaking the KRM protocol.

Operators map function images to binaries installed next to Lanai (and Kptfiles may
name an ``exec`` path directly), which avoids a container runtime inside the operator.
An executable is untrusted in the ways that matter to an operator: it may hang, flood
its output or print garbage, so each run has a deadline (the whole process group is
killed), a cap on what it may write, optionally a cap on its memory (``RLIMIT_DATA``,
see :mod:`lanai.trust.limits`; the process dies with its parent), and its output is
checked to be a ResourceList before anything downstream sees it.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import resource
import shlex
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from lanai.functions import images
from lanai.kpt import fnapi
from lanai.trust import limits

DEFAULT_TIMEOUT = limits.DEFAULT_TIMEOUT
DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_PR_SET_PDEATHSIG = 1


class _Capture(threading.Thread):
    """Drain one pipe into memory, up to ``limit`` bytes; beyond that, call ``overflow``."""

    def __init__(self, pipe: IO[bytes], limit: int, overflow: Any) -> None:
        super().__init__(daemon=True)
        self._pipe = pipe
        self._limit = limit
        self._overflow = overflow
        self._buffer = io.BytesIO()
        self.exceeded = False

    def run(self) -> None:
        try:
            while chunk := os.read(self._pipe.fileno(), _CHUNK):
                if self._buffer.tell() + len(chunk) > self._limit:
                    self.exceeded = True
                    self._overflow()
                    break
                self._buffer.write(chunk)
        except (OSError, ValueError):
            pass
        finally:
            self._pipe.close()

    @property
    def data(self) -> bytes:
        return self._buffer.getvalue()


class ExecRuntime:
    """Runs executables. Thread-safe: every call has its own process and buffers."""

    name = "exec"

    def __init__(
        self,
        executables: Mapping[str, str | os.PathLike[str]] | None = None,
        *,
        allow_exec: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        max_output: int = DEFAULT_MAX_OUTPUT,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        memory: int | None = None,
    ) -> None:
        """``memory``: bytes of private memory each executable may use (None: no cap)."""
        self._by_image: dict[str, str] = {}
        self._by_repository: dict[str, str] = {}
        for image, path in (executables or {}).items():
            self._by_image[_key(image)] = str(path)
            repository = _untagged(image)
            if repository is not None:
                self._by_repository[repository] = str(path)
        self._allow_exec = allow_exec
        self._timeout = timeout
        self._max_output = max_output
        self._env = dict(env) if env is not None else None
        self._cwd = str(cwd) if cwd is not None else None
        self._memory = memory

    def command(self, fn: fnapi.FunctionRef) -> list[str] | None:
        """The command line for ``fn``, or ``None`` when this runtime does not know it."""
        if fn.exec:
            if not self._allow_exec:
                return None
            argv = shlex.split(fn.exec)
            return argv or None
        if fn.image:
            found = self._by_image.get(_key(fn.image))
            if found is None:
                found = self._by_repository.get(_repository(fn.image))
            if found is None:
                return None
            return [found]
        return None

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        argv = self.command(fn)
        if argv is None:
            raise fnapi.FunctionNotFound(message=f"no executable configured for {fn.display}")
        payload = _dump(resource_list)
        stdout, stderr, code = self._run(fn, argv, payload)
        if (
            code != 0
            and self._memory is not None
            and limits.died_of_memory(code, stderr, killed_by_us=False)
        ):
            raise fnapi.FunctionLimitExceeded(
                message=limits.memory_exceeded(fn.display, self._memory),
                stderr=stderr,
                exit_code=code,
                limit="memory",
                amount=self._memory,
            )
        if code != 0:
            results = _results_of(stdout)
            detail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            message = f"function {fn.display} failed with exit code {code}"
            raise fnapi.FunctionError(
                message=f"{message}: {detail}" if detail else message,
                stderr=stderr,
                exit_code=code,
                results=results,
            )
        output = _parse(stdout)
        if output is None:
            snippet = stdout[:200].decode("utf-8", "replace").strip()
            raise fnapi.FunctionError(
                message=f"function {fn.display} did not write a ResourceList to stdout"
                + (f": {snippet!r}" if snippet else " (no output)"),
                stderr=stderr,
                exit_code=1,
            )
        return fnapi.FunctionOutput(resource_list=output, stderr=stderr, exit_code=0)

    def _run(
        self, fn: fnapi.FunctionRef, argv: list[str], payload: bytes
    ) -> tuple[bytes, str, int]:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=self._env,
                cwd=self._cwd,
                preexec_fn=None if self._memory is None else _confine(self._memory),
            )
        except OSError as error:
            raise fnapi.FunctionError(
                message=f"cannot start function {fn.display}: {error.strerror or error}",
                stderr=str(error),
                exit_code=127,
            ) from error

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

        assert process.stdin
        assert process.stdout
        assert process.stderr
        out = _Capture(process.stdout, self._max_output, kill)
        err = _Capture(process.stderr, self._max_output, kill)
        writer = threading.Thread(target=_feed, args=(process.stdin, payload), daemon=True)
        for thread in (out, err, writer):
            thread.start()
        timed_out = False
        try:
            process.wait(timeout=self._timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill()
            process.wait()
        for thread in (out, err, writer):
            thread.join(timeout=5)
        stderr = err.data.decode("utf-8", "replace")
        if timed_out:
            raise fnapi.FunctionLimitExceeded(
                message=limits.time_exceeded(fn.display, self._timeout),
                stderr=stderr,
                exit_code=-1,
                limit="time",
                amount=self._timeout,
            )
        if out.exceeded or err.exceeded:
            raise fnapi.FunctionError(
                message=f"function {fn.display} wrote more than {self._max_output} bytes",
                stderr=stderr[-4096:],
                exit_code=-1,
            )
        return out.data, stderr, process.returncode


def _confine(memory: int) -> Any:
    """What the child runs between fork and exec: its memory cap, no core dump, and
    death with the process that started it (a killed worker leaves no function behind).
    Only async-signal-safe work: system calls on objects made before the fork."""
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl

    def confine() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return confine


def _key(image: str) -> str:
    """Images compare by their full name: a short name means the catalog one."""
    try:
        return images.expand(image)
    except images.InvalidImage:
        return image


def _repository(image: str) -> str:
    try:
        return images.expand(image).rsplit("@", 1)[0].rsplit(":", 1)[0]
    except images.InvalidImage:
        return image


def _untagged(image: str) -> str | None:
    """The full repository of a configured image written without tag or digest."""
    try:
        ref = images.parse(image)
    except images.InvalidImage:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" in last or ref.digest:
        return None
    return _repository(image)


def _feed(pipe: IO[bytes], payload: bytes) -> None:
    try:
        pipe.write(payload)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            pipe.close()


def _yaml() -> YAML:
    yaml = YAML()
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def _dump(resource_list: CommentedMap) -> bytes:
    stream = io.StringIO()
    _yaml().dump(resource_list, stream)
    return stream.getvalue().encode("utf-8")


def _parse(stdout: bytes) -> CommentedMap | None:
    try:
        document = _yaml().load(stdout.decode("utf-8"))
    except (YAMLError, UnicodeDecodeError):
        return None
    if not isinstance(document, CommentedMap):
        return None
    if document.get("kind") != "ResourceList":
        return None
    items = document.get("items")
    if items is not None and not isinstance(items, list):
        return None
    return document


def _results_of(stdout: bytes) -> list[dict[str, Any]]:
    document = _parse(stdout)
    results = document.get("results") if document is not None else None
    if not isinstance(results, list):
        return []
    return [_plain(r) for r in results if isinstance(r, dict)]


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def executable_map(directory: str | os.PathLike[str]) -> dict[str, str]:
    """Map ``<catalog>/<file name>`` (any tag) to each executable file in ``directory``."""
    found: dict[str, str] = {}
    for path in sorted(Path(directory).iterdir()):
        if path.is_file() and os.access(path, os.X_OK):
            found[f"{images.DEFAULT_CATALOG}/{path.name}"] = str(path)
    return found
