"""Render through a function box (``lanai.functions.box``), off the event loop.

Every render runs in a worker process with a memory and time cap, so a pipeline cannot
take the operator's memory or hold a render forever. Waiting for the worker blocks a
thread; at most as many renders wait as there are workers, so the default executor's
threads stay free for Git. A package without a pipeline is rendered too: kpt records the
``Rendered`` condition in every root Kptfile it renders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from lanai.functions import runtimes
from lanai.functions.box import pool
from lanai.tasks.requests import Rendered


def settings(
    executables: Mapping[str, str] | None = None,
    *,
    timeout: float | None = None,
    memory: int | None = None,
    function_runner: str | None = None,
) -> runtimes.Settings:
    """The operator's runtime chain: builtin catalog functions first, then configured
    executables, then a runner. Kptfile ``exec:`` steps are refused: a package must not
    run commands of its choosing inside the operator."""
    defaults = runtimes.Settings()
    return runtimes.Settings(
        executables=dict(executables or {}),
        allow_exec=False,
        timeout=defaults.timeout if timeout is None else timeout,
        memory=defaults.memory if memory is None else memory,
        function_runner=function_runner,
    )


class KptRenderer:
    """An async ``Renderer`` for the task handler."""

    def __init__(self, box: pool.Box, workers: int) -> None:
        self._box = box
        self._slots = asyncio.Semaphore(workers)

    async def __call__(self, files: Mapping[str, bytes]) -> Rendered:
        async with self._slots:
            result = await asyncio.to_thread(self._box.render, dict(files))
        return Rendered(
            dict(result.tree), ok=result.ok, message=result.error, results=result.results
        )
