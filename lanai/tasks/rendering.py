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
    executables: Mapping[str, str] | None = None, *, timeout: float = 60.0
) -> fnapi.FunctionRuntime:
    """Builtin catalog functions first, then configured executables."""
    return chain.ChainRuntime(
        [
            builtin_runtime.BuiltinRuntime(),
            exec_runtime.ExecRuntime(executables or {}, allow_exec=False, timeout=timeout),
        ]
    )


class KptRenderer:
    """An async ``Renderer`` for the task handler."""

    def __init__(self, runtime: fnapi.FunctionRuntime) -> None:
        self._runtime = runtime

    async def __call__(self, files: Mapping[str, bytes]) -> Rendered:
        result = await asyncio.to_thread(render.render, dict(files), self._runtime)
        return Rendered(
            dict(result.tree), ok=result.ok, message=result.error, results=result.results
        )
