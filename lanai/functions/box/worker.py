"""A function worker: renders packages for its parent, inside a memory cap.

A fresh interpreter started by :mod:`lanai.functions.box.pool` (never a fork of the
threaded operator: another thread may hold a lock the child would wait on forever), or,
for a single-threaded command such as ``lanai fn render``, a fork of it that skips loading
Lanai a second time. For each job it caps its own private memory at what it
holds plus the job's allowance (``RLIMIT_DATA``, see :mod:`lanai.trust.limits`), runs
the whole render with the runtime chain built from the job's settings, and tells the
parent when each function starts and ends, so a worker the parent has to kill (time) or
that dies (memory, a crash) is blamed on the right step. It makes itself the kernel's
first choice when memory runs out (``oom_score_adj`` 1000), dumps no core, and exits as
soon as its parent is gone. Its stderr goes to the parent, which never shows it to a
user: a Rust panic or a Python traceback stays in the worker's own diagnostics.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import select
import sys
import threading
import traceback
from typing import Any, NoReturn

from ruamel.yaml.comments import CommentedMap

from lanai.functions import runtimes
from lanai.functions.box import frames, jobs
from lanai.kpt import fnapi
from lanai.trust import limits

EXIT_OUT_OF_MEMORY = 86
"""The worker could not even say that it ran out of memory."""
THREAD_STACK = 512 * 1024
"""Threads of exec functions only copy pipes; 8 MiB stacks would count against the cap."""


def _take_pipes() -> tuple[int, int]:
    """The protocol moves off fds 0 and 1, so nothing that prints can corrupt it."""
    jobs_fd, answers_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return jobs_fd, answers_fd


def _confine_self() -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as score:
            score.write("1000")
    except OSError:
        pass  # not Linux, or /proc read-only: the memory cap still holds
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    threading.stack_size(THREAD_STACK)


def _watch_parent(jobs_fd: int) -> None:
    """Exit the moment the parent's end of the job pipe closes, even mid-job (the
    parent died; executables started for a job die with this process)."""

    def watch() -> None:
        poller = select.poll()
        poller.register(jobs_fd, 0)  # hang-ups and errors are always reported
        while True:
            for _fd, _event in poller.poll():
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def usage() -> dict[str, int]:
    """Resident and private ("data") memory of this process, in bytes."""
    found = {"rss": 0, "data": 0}
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmRSS:"):
                found["rss"] = int(line.split()[1]) * 1024
            elif line.startswith(b"VmData:"):
                found["data"] = int(line.split()[1]) * 1024
    return found


def is_panic(error: BaseException) -> bool:
    """pyo3's PanicException (a Rust panic in starlark) derives from BaseException."""
    return type(error).__name__ == "PanicException"


class _Channel:
    def __init__(self, jobs_fd: int, answers_fd: int) -> None:
        self._reader = frames.Reader(jobs_fd, trusted=True)
        self._answers = answers_fd

    def receive(self) -> Any:
        try:
            return self._reader.read()
        except EOFError:
            return None

    def send(self, message: Any) -> None:
        frames.write(self._answers, frames.encode(message))


class _Watched:
    """The runtime render sees: announces each function, and turns running out of
    memory inside one into that function's limit error."""

    name = "box"

    def __init__(self, inner: fnapi.FunctionRuntime, channel: _Channel, memory: int) -> None:
        self._inner = inner
        self._channel = channel
        self._memory = memory
        self.tainted = False
        self.allow_exec = getattr(inner, "allow_exec", True)
        self.resolve_image = getattr(inner, "resolve_image", None)

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        step = {"image": fn.image, "exec": fn.exec, "name": fn.name, "package": fn.package}
        self._channel.send(("step", step))
        crash = ""
        try:
            return self._inner.evaluate(fn, resource_list)
        except MemoryError:
            crash = "memory"  # raised below, once the frames holding the memory are gone
        except BaseException as error:
            if not is_panic(error):
                raise
            traceback.print_exc()
            crash = "memory" if limits.out_of_memory(str(error)) else str(error) or "panic"
        finally:
            self._channel.send(("idle", None))
        self.tainted = True
        if crash == "memory":
            message = limits.memory_exceeded(fn.display, self._memory)
            raise fnapi.FunctionLimitExceeded(
                message=message,
                results=[{"message": message, "severity": "error"}],
                limit="memory",
                amount=self._memory,
            )
        detail = crash.strip().splitlines()[0] if crash.strip() else "panic"
        message = f"function {fn.display} crashed: {detail}"
        raise fnapi.FunctionError(
            message=message, results=[{"message": message, "severity": "error"}]
        )


class Worker:
    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._settings: runtimes.Settings | None = None
        self._built: runtimes.Built | None = None
        self._records: list[tuple[str, str, str, float]] = []

    def _runtime(self, settings: runtimes.Settings) -> fnapi.FunctionRuntime:
        if self._built is None or settings != self._settings:
            if self._built is not None:
                self._built.close()
            self._built = runtimes.build(settings, self._record)
            self._settings = settings
        return self._built.runtime

    def _record(self, function: str, runtime: str, outcome: str, seconds: float) -> None:
        self._records.append((function, runtime, outcome, seconds))

    def run(self, job: jobs.Job) -> None:
        self._channel.send(("started", None))
        self._records = []
        watched: _Watched | None = None
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        cap = limits.data_limit(usage()["data"], job.settings.memory)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        reply: Any = None
        failure: dict[str, Any] | None = None
        try:
            watched = _Watched(self._runtime(job.settings), self._channel, job.settings.memory)
            resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
            reply = jobs.perform(job, watched)
        except MemoryError:
            failure = {"cause": "memory", "detail": ""}
        except Exception as error:
            traceback.print_exc()
            failure = {"cause": "error", "detail": f"{type(error).__name__}: {error}"}
        except BaseException as error:
            if not is_panic(error):
                raise
            traceback.print_exc()
            oom = limits.out_of_memory(str(error))
            failure = {"cause": "memory" if oom else "error", "detail": f"panic: {error}"}
        finally:
            resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
        tainted = failure is not None or (watched is not None and watched.tainted)
        status = {"records": self._records, "tainted": tainted, **usage()}
        try:
            if failure is None:
                self._channel.send(("done", {"reply": reply, **status}))
            else:
                self._channel.send(("failed", {**failure, **status}))
        except MemoryError:
            os._exit(EXIT_OUT_OF_MEMORY)


def serve(jobs_fd: int, answers_fd: int) -> None:
    """Answer jobs until the parent closes the job pipe."""
    _confine_self()
    _watch_parent(jobs_fd)
    gc.collect()
    gc.freeze()
    channel = _Channel(jobs_fd, answers_fd)
    channel.send(("ready", {"pid": os.getpid(), **usage()}))
    worker = Worker(channel)
    while (job := channel.receive()) is not None:
        if not isinstance(job, jobs.RenderJob | jobs.EvalJob | jobs.FunctionJob):
            break
        worker.run(job)


def forked(jobs_fd: int, answers_fd: int, errors_fd: int) -> NoReturn:
    """The child's side of a fork: the same pipes as an exec'd worker, nothing else of the
    parent's (other workers' pipes held open would hide the parent's death from them)."""
    code = 0
    try:
        os.setsid()
        moved = [os.dup(fd) for fd in (jobs_fd, answers_fd, errors_fd)]  # none of 0-2 now
        for target, fd in enumerate(moved):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.environ["RUST_BACKTRACE"] = "0"
        serve(*_take_pipes())
    except BaseException:  # the parent's stack is below this frame: never unwind into it
        code = 1
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        os._exit(code)


def main() -> None:
    serve(*_take_pipes())
    sys.exit(0)


if __name__ == "__main__":
    main()
