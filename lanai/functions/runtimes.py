"""The runtime chain a render uses, built from plain settings.

The operator and ``lanai fn`` render in a function worker (``lanai.functions.box``), a
separate process: what crosses to it is this small, picklable description, and the worker
builds the chain itself. Builtin catalog functions come first, then configured
executables, then (if any) a function runner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lanai.functions import builtin_runtime, chain, exec_runtime, metrics, wire
from lanai.kpt import fnapi
from lanai.trust import limits


@dataclass(frozen=True)
class Settings:
    executables: Mapping[str, str] = field(default_factory=dict)
    """Function image → local executable speaking the KRM function protocol."""
    allow_exec: bool = False
    """Whether Kptfile ``exec:`` steps run (``lanai fn --allow-exec``; never the operator)."""
    timeout: float = limits.DEFAULT_TIMEOUT
    """Seconds one function may run."""
    memory: int = limits.DEFAULT_MEMORY
    """Bytes of memory one render may add to its worker, and each executable may use."""
    function_runner: str | None = None
    """host:port of a function runner for images neither builtin nor executables."""
    max_message: int = wire.DEFAULT_MAX_MESSAGE
    cwd: str | None = None
    """Where executables run (``lanai fn``: the package directory)."""
    builtin: bool = True
    """Whether catalog functions run as builtins (``lanai function-runner --no-builtin``)."""


@dataclass
class Built:
    runtime: fnapi.FunctionRuntime
    close: Callable[[], None]


def build(settings: Settings, recorder: chain.Recorder = metrics.record) -> Built:
    """The chain for ``settings``; call ``close`` when done (it closes a runner channel)."""
    runtimes: list[fnapi.FunctionRuntime] = []
    if settings.builtin:
        runtimes.append(builtin_runtime.BuiltinRuntime(timeout=settings.timeout))
    runtimes.append(
        exec_runtime.ExecRuntime(
            settings.executables,
            allow_exec=settings.allow_exec,
            timeout=settings.timeout,
            cwd=settings.cwd,
            memory=settings.memory,
        )
    )
    close: Callable[[], None] = _nothing
    if settings.function_runner:
        # gRPC and protobuf (~10 MiB resident) only where a runner is used.
        from lanai.functions import grpc_runtime

        remote = grpc_runtime.GrpcRuntime(
            settings.function_runner, timeout=settings.timeout, max_message=settings.max_message
        )
        runtimes.append(remote)
        close = remote.close
    return Built(chain.ChainRuntime(runtimes, recorder, allow_exec=settings.allow_exec), close)


def _nothing() -> None:
    return None
