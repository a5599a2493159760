"""The parent's side of the function workers: a pool, the deadlines, what a death means.

:class:`Box` keeps up to ``workers`` worker processes (:mod:`.worker`) and hands each
render to an idle one: one message out, one back, plus a note as each function starts
and ends. While a function runs the parent waits for the next note only until that
function's deadline; past it, the worker is killed (SIGKILL, its executables die with
it) and the render fails with ``function X exceeded its 60 s time limit``. A worker that
dies is asked why (exit status, its last words on stderr) and the render fails with the
memory limit or the crash, naming the function that was running. Either way a fresh
worker takes its place; so does one that kept too much memory after a job. Workers start
on first use, or in the background through :meth:`Box.start`; nothing here blocks the
caller for longer than its render, and nothing a worker says reaches a user but the
message built here.

Thread-safe: renders from many threads share the pool, each waiting for a free worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from ruamel.yaml.comments import CommentedMap

from lanai.functions import metrics, runtimes
from lanai.functions.box import frames, jobs, worker
from lanai.kpt import evaluation, fnapi, package, resourcelist
from lanai.kpt import render as kpt_render
from lanai.trust import limits

logger = logging.getLogger(__name__)

START_TIMEOUT = 60.0
"""Seconds a new worker may take to load Lanai (a busy node is slow to start Python)."""
STDERR_TAIL = 8 * 1024
MAX_DETAIL = 300
WORKER_COMMAND = (sys.executable, "-P", "-m", "lanai.functions.box.worker")
WARM = 1
"""Workers kept started once one has been replaced, so the next render need not wait."""


class _NotStarted(Exception):
    """The worker died or never answered before it took the job (not the job's fault)."""


class _Closed(Exception):
    pass


class _Tail:
    """Drains a worker's stderr, keeping the end: diagnostics for the log, never a user."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._fd = pipe.fileno()
        self._pipe = pipe
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="box-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while chunk := os.read(self._fd, 65536):
                with self._lock:
                    self._data += chunk
                    if len(self._data) > 2 * STDERR_TAIL:
                        del self._data[:-STDERR_TAIL]
        except OSError:
            pass

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def text(self, wait: float = 0.0) -> str:
        if wait:
            self._thread.join(wait)
        with self._lock:
            return bytes(self._data[-STDERR_TAIL:]).decode("utf-8", "replace")

    def close(self) -> None:
        self._thread.join(1.0)
        with contextlib.suppress(OSError):
            self._pipe.close()


@dataclass
class _Outcome:
    kind: str
    """``done`` | ``failed`` (the worker says why) | ``time`` | ``died`` (the parent knows)."""
    body: dict[str, Any] = field(default_factory=dict)
    step: fnapi.FunctionRef | None = None
    seconds: float = 0.0
    """How long ``step`` had run."""
    message: str = ""


def _ref(body: Any) -> fnapi.FunctionRef | None:
    if not isinstance(body, dict):
        return None
    fields = {k: body.get(k) for k in ("image", "exec", "name", "package")}
    if not all(v is None or isinstance(v, str) for v in fields.values()):
        return None
    return fnapi.FunctionRef(**fields)


class _Forked:
    """A worker forked from this process, with the part of Popen's interface used here.

    Only for a process with a single thread (``lanai fn``): the child then starts with
    Lanai loaded and skips the ~0.5 s of CPU a fresh interpreter spends importing it.
    """

    def __init__(self) -> None:
        jobs_r, jobs_w = os.pipe()
        answers_r, answers_w = os.pipe()
        errors_r, errors_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns from forked()
            worker.forked(jobs_r, answers_w, errors_w)
        for fd in (jobs_r, answers_w, errors_w):
            os.close(fd)
        self.pid = pid
        self.returncode: int | None = None
        self._reaping = threading.Lock()
        self.stdin: IO[bytes] | None = os.fdopen(jobs_w, "wb", buffering=0)
        self.stdout: IO[bytes] | None = os.fdopen(answers_r, "rb", buffering=0)
        self.stderr: IO[bytes] | None = os.fdopen(errors_r, "rb", buffering=0)

    def poll(self) -> int | None:
        with self._reaping:  # one waitpid at a time: a second would find no child
            if self.returncode is None:
                try:
                    done, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): gone
                    done, status = self.pid, 0
                if done:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0.0)
            time.sleep(0.005)
        assert self.returncode is not None
        return self.returncode


class _Process:
    """One worker process, used by one thread at a time."""

    def __init__(self, command: list[str] | None, env: Mapping[str, str]) -> None:
        self.popen: subprocess.Popen[bytes] | _Forked
        if command is None:
            self.popen = _Forked()
        else:
            self.popen = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd="/",
                env=dict(env),
                start_new_session=True,  # no terminal signals; the parent decides its end
            )
        assert self.popen.stdin is not None
        assert self.popen.stdout is not None
        assert self.popen.stderr is not None
        self._jobs = self.popen.stdin
        self._reader = frames.Reader(self.popen.stdout.fileno())
        self.tail = _Tail(self.popen.stderr)
        self.baseline = 0
        self.ready = False
        self.killed = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def await_ready(self, timeout: float) -> None:
        try:
            frame = self._reader.read(time.monotonic() + timeout)
        except (EOFError, frames.FrameError, OSError):
            why = self.death()
            # No job has run yet: what it said is about the installation, for the admin.
            last = self.tail.text().strip().splitlines()[-1:] or [why]
            logger.warning("a function worker failed to start: %s", last[0])
            raise _NotStarted(why) from None
        if frame is frames.TIMEOUT:
            self.kill()
            raise _NotStarted(f"it did not start within {timeout:g} s")
        if not (isinstance(frame, list | tuple) and len(frame) == 2 and frame[0] == "ready"):
            self.kill()
            raise _NotStarted("it did not start as a function worker")
        info = frame[1] if isinstance(frame[1], dict) else {}
        rss = info.get("rss")
        self.baseline = rss if isinstance(rss, int) else 0
        self.ready = True

    def run(self, payload: bytes, timeout: float, start_timeout: float) -> _Outcome:
        if not self.ready:
            self.await_ready(start_timeout)
        if not self.alive():
            raise _NotStarted(self.death())
        self.tail.clear()
        try:
            frames.write(self._jobs.fileno(), payload)
        except OSError:
            raise _NotStarted(self.death()) from None
        step: fnapi.FunctionRef | None = None
        started = time.monotonic()
        job_deadline = started + limits.render_time_limit(timeout)
        step_deadline = math.inf
        taken = False
        while True:
            try:
                frame = self._reader.read(min(job_deadline, step_deadline))
            except (EOFError, OSError):  # OSError: the box was closed under this job
                if not taken:  # it died before the job reached it (killed while idle)
                    raise _NotStarted(self.death()) from None
                return _Outcome("died", step=step, message=self.death())
            except frames.FrameError as error:
                self.kill()
                return _Outcome("died", step=step, message=f"it sent garbage ({error})")
            now = time.monotonic()
            if frame is frames.TIMEOUT:
                self.kill()
                by_step = step_deadline <= job_deadline
                return _Outcome(
                    "time", step=step if by_step else None, seconds=now - started, message=""
                )
            kind, body = frame if isinstance(frame, list | tuple) and len(frame) == 2 else ("", 0)
            if kind == "started":
                taken = True
            elif kind == "step":
                step, started = _ref(body), now
                step_deadline = now + limits.kill_after(timeout)
            elif kind == "idle":
                step, step_deadline = None, math.inf
            elif kind in ("done", "failed") and isinstance(body, dict):
                return _Outcome(kind, body=body, step=step)
            else:
                self.kill()
                return _Outcome("died", step=step, message="it sent a message out of turn")

    def death(self) -> str:
        """Why the worker ended (waits for it): ``memory`` or a description of the crash."""
        try:
            code = self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.popen.wait()
        stderr = self.tail.text(wait=1.0)
        if stderr.strip():
            logger.debug("function worker %d said before it ended:\n%s", self.pid, stderr)
        if code == worker.EXIT_OUT_OF_MEMORY or limits.died_of_memory(
            code, stderr, killed_by_us=self.killed
        ):
            return "memory"
        if code < 0:
            try:
                return f"stopped by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"stopped by signal {-code}"
        return f"exited with code {code}"

    def kill(self) -> None:
        self.killed = True
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.popen.wait()
        for pipe in (self.popen.stdin, self.popen.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        self.tail.close()


def worker_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment: the caller's, with few malloc arenas (a worker's memory
    is its cap's business) and Rust panics without backtraces (they go to a log)."""
    found = dict(os.environ if env is None else env)
    found.setdefault("MALLOC_ARENA_MAX", "2")
    found["RUST_BACKTRACE"] = "0"
    return found


class Box:
    """A pool of function workers for one set of runtime settings."""

    def __init__(
        self,
        settings: runtimes.Settings,
        *,
        workers: int = limits.DEFAULT_WORKERS,
        env: Mapping[str, str] | None = None,
        start_timeout: float = START_TIMEOUT,
        fork: bool = False,
        keep_warm: bool = True,
        command: Sequence[str] | None = None,
    ) -> None:
        """``fork``: start workers by forking this process while it has a single thread
        (a command line tool, never the operator), else as fresh interpreters.
        ``keep_warm``: start a worker in place of one that was replaced (a service).
        ``command``: how to start a worker (default: this Python, the worker module)."""
        self.settings = dataclasses.replace(settings, executables=dict(settings.executables))
        self._fork = fork
        self._warm = WARM if keep_warm else 0
        self._max = limits.check_workers(workers)
        self._env = worker_env(env)
        self._start_timeout = start_timeout
        self._command = list(command or WORKER_COMMAND)
        self._lock = threading.Condition()
        self._idle: list[_Process] = []
        self._live: set[_Process] = set()
        self._closed = False

    # -- the pool ------------------------------------------------------------------------

    def start(self, count: int = 1) -> None:
        """Start workers now (they load in the background) so the first render is quick."""
        with self._lock:
            while not self._closed and len(self._live) < min(count, self._max):
                process = self._spawn()
                self._live.add(process)
                self._idle.append(process)

    def _spawn(self) -> _Process:
        forking = self._fork and threading.active_count() == 1
        return _Process(None if forking else self._command, self._env)

    def pids(self) -> list[int]:
        """The live workers' process ids (for tests and diagnostics)."""
        with self._lock:
            return sorted(p.pid for p in self._live)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            processes = list(self._live)
            self._idle.clear()
            self._live.clear()
            self._lock.notify_all()
        for process in processes:
            process.kill()

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _acquire(self) -> _Process:
        gone: list[_Process] = []
        try:
            with self._lock:
                while True:
                    if self._closed:
                        raise _Closed
                    while self._idle:
                        process = self._idle.pop()
                        if process.alive():
                            return process
                        self._live.discard(process)  # died while idle (OOM killer)
                        gone.append(process)
                    if len(self._live) < self._max:
                        process = self._spawn()
                        self._live.add(process)
                        return process
                    self._lock.wait()
        finally:
            for process in gone:
                process.kill()

    def _release(self, process: _Process, keep: bool) -> None:
        with self._lock:
            if keep and not self._closed and process.alive():
                self._idle.append(process)
                self._lock.notify()
                return
            self._live.discard(process)
            self._lock.notify()
        logger.debug("replacing function worker %d", process.pid)
        process.kill()
        with contextlib.suppress(OSError):
            self.start(self._warm)

    # -- jobs ----------------------------------------------------------------------------

    def render(
        self,
        files: Mapping[str, bytes],
        package_path: str = "",
        *,
        root_name: str = "",
        want_resources: bool = False,
        shown_root: str | None = None,
    ) -> kpt_render.RenderResult:
        """Render like :func:`lanai.kpt.render.render`, in a worker; never raises.

        A package whose Kptfiles declare no function runs none of its author's code:
        it renders here, without the round trip (most Drafts: init, copy, edits)."""
        if not kpt_render.runs_functions(dict(files)):
            return kpt_render.render(
                dict(files),
                _NoFunctions(),
                package_path=package_path,
                root_name=root_name,
                keep_resources=want_resources,
                shown_root=shown_root,
            )
        job = jobs.RenderJob(
            self.settings, dict(files), package_path, root_name, want_resources, shown_root
        )
        result = self._run(job)
        assert isinstance(result, kpt_render.RenderResult)
        return result

    def evaluate(
        self,
        tree: package.PackageTree,
        image: str,
        config: Mapping[str, str] | None = None,
        *,
        piped: str | None = None,
        shown: str | None = None,
    ) -> evaluation.Evaluated:
        """``kpt fn eval`` of ``image`` over ``tree`` (or, ``piped``, over the resources
        of that text: ``fn eval -``), in a worker; never raises. ``shown``: the name the
        log gives the function."""
        job = jobs.EvalJob(
            self.settings, dict(tree), image, dict(config) if config else None, piped, shown
        )
        result = self._run(job)
        assert isinstance(result, evaluation.Evaluated)
        return result

    def function(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        """One function over ``resource_list``, in a worker, as a function runner runs it;
        raises :class:`fnapi.FunctionError` (or a subclass) when it fails."""
        if not fn.image:
            raise fnapi.FunctionNotFound(message=f"a function runner runs images, not {fn.display}")
        job = jobs.FunctionJob(self.settings, fn.image, resourcelist.encode(resource_list))
        result = self._run(job)
        if isinstance(result, fnapi.FunctionError):
            raise result
        assert isinstance(result, fnapi.FunctionOutput)
        return result

    def _run(self, job: jobs.Job) -> jobs.Result:
        try:
            return self._attempt(job)
        except Exception as error:  # a bug here must fail one render, not the caller
            logger.warning("function box: %s: %s", type(error).__name__, error)
            logger.debug("function box failure", exc_info=True)
            return jobs.failure(job, f"the function worker failed: {_clip(str(error))}", None)

    def _attempt(self, job: jobs.Job) -> jobs.Result:
        try:
            payload = frames.encode(job)
        except frames.FrameError as error:
            return jobs.failure(job, f"the package is too large to render: {error}", None)
        problem = ""
        for _attempt in range(2):  # a worker that died while idle gets one successor
            try:
                process = self._acquire()
            except _Closed:
                return jobs.failure(job, "the function workers are shut down", None)
            except OSError as error:
                return jobs.failure(job, f"could not start a function worker: {error}", None)
            keep = False
            try:
                outcome = process.run(payload, self.settings.timeout, self._start_timeout)
                keep = outcome.kind == "done" and not self._worn(outcome.body, process)
            except _NotStarted as error:
                problem = str(error)
                logger.info("function worker %d could not take a job: %s", process.pid, problem)
                continue
            finally:
                self._release(process, keep)
            return self._result(job, outcome, process)
        return jobs.failure(job, f"could not start a function worker: {problem}", None)

    @staticmethod
    def _worn(body: dict[str, Any], process: _Process) -> bool:
        rss = body.get("rss")
        grown = isinstance(rss, int) and limits.should_recycle(rss, process.baseline)
        return bool(body.get("tainted")) or grown

    def _result(self, job: jobs.Job, outcome: _Outcome, process: _Process) -> jobs.Result:
        _replay(outcome.body.get("records"))
        step = outcome.step
        name = step.display if step is not None else None
        limit = ""
        if outcome.kind == "done":
            try:
                return jobs.answer(job, outcome.body.get("reply"))
            except jobs.BadAnswer as error:
                logger.warning("function worker %d: %s", process.pid, error)
                return jobs.failure(job, "the function worker gave no usable answer", None)
        if outcome.kind == "time":
            seconds = self.settings.timeout
            message = (
                limits.time_exceeded(name, seconds)
                if step is not None
                else limits.time_exceeded(None, limits.render_time_limit(seconds))
            )
            _count(step, metrics.TIME_LIMIT, outcome.seconds)
            limit = "time"
        elif outcome.kind == "failed" and outcome.body.get("cause") != "memory":
            detail = str(outcome.body.get("detail") or "an unexpected error")
            what = "render" if isinstance(job, jobs.RenderJob) else "function evaluation"
            message = f"the {what} failed unexpectedly: {_clip(detail)}"
        elif outcome.kind == "failed" or outcome.message == "memory":
            message = limits.memory_exceeded(name, self.settings.memory)
            _count(step, metrics.MEMORY_LIMIT, outcome.seconds)
            limit = "memory"
        elif self._closed:
            message = "the function workers were shut down during the render"
        else:
            who = f"function {name}" if name else "the function worker"
            message = f"{who} crashed ({outcome.message})"
            _count(step, metrics.FAILED, outcome.seconds)
        logger.info("function worker %d: %s", process.pid, message)
        return jobs.failure(job, message, step, limit)


def _replay(records: Any) -> None:
    """The metrics the worker's chain recorded, into this process's registry."""
    if not isinstance(records, list):
        return
    for record in records:
        if (
            isinstance(record, list | tuple)
            and len(record) == 4
            and all(isinstance(v, str) for v in record[:3])
            and isinstance(record[3], int | float)
        ):
            metrics.record(record[0], record[1], record[2], float(record[3]))


def _count(step: fnapi.FunctionRef | None, outcome: str, seconds: float) -> None:
    if step is not None:
        metrics.record(step.display, metrics.UNKNOWN_RUNTIME, outcome, seconds)


def _clip(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…"


class _NoFunctions:
    """The runtime of a render that runs no function (see :meth:`Box.render`)."""

    name = "none"

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        raise fnapi.FunctionError(message=f"function {fn.display} may run only in a worker")


class BoxedRuntime:
    """A function runtime whose every evaluation runs in a :class:`Box` (for a function
    runner, which is asked for one function at a time). Thread-safe, as the box is."""

    name = "box"

    def __init__(self, box: Box) -> None:
        self._box = box

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        return self._box.function(fn, resource_list)
