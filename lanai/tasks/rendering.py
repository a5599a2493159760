"""Render through ``lanai.kpt.render`` with a function runtime, off the event loop.

Render is CPU-bound and may run executables, so it runs in a worker thread; the
runtimes are thread-safe. A package without a pipeline is rendered too: kpt records
the ``Rendered`` condition in every root Kptfile it renders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from lanai.functions import builtin_runtime, chain, exec_runtime
from lanai.kpt import fnapi, render
from lanai.tasks.requests import Rendered


def default_runtime(
    executables: Mapping[str, str] | None = None,
    *,
    timeout: float = 60.0,
    function_runner: str | None = None,
) -> fnapi.FunctionRuntime:
    """Builtin catalog functions first, then configured executables, then a runner.

    Kptfile ``exec:`` steps are refused: a package must not run commands of its
    choosing inside the operator.
    """
    runtimes: list[fnapi.FunctionRuntime] = [
        builtin_runtime.BuiltinRuntime(),
        exec_runtime.ExecRuntime(executables or {}, allow_exec=False, timeout=timeout),
    ]
    if function_runner:
        # gRPC and protobuf (~10 MiB resident) only for operators that use a runner.
        from lanai.functions import grpc_runtime

        runtimes.append(grpc_runtime.GrpcRuntime(function_runner, timeout=timeout))
    return chain.ChainRuntime(runtimes)


class KptRenderer:
    """An async ``Renderer`` for the task handler."""

    def __init__(self, runtime: fnapi.FunctionRuntime) -> None:
        self._runtime = runtime

    async def __call__(self, files: Mapping[str, bytes]) -> Rendered:
        result = await asyncio.to_thread(render.render, dict(files), self._runtime)
        return Rendered(
            dict(result.tree), ok=result.ok, message=result.error, results=result.results
        )
