"""A runtime made of runtimes, tried in order.

Render wants one runtime; Lanai has several (builtin catalog functions, configured
executables, a function-runner service). The first that knows a function runs it; only
"not found" falls through, because a function that ran and failed must not be retried
somewhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

from ruamel.yaml.comments import CommentedMap

from lanai.kpt import fnapi


class ChainRuntime:
    """Tries each runtime in turn; thread-safe if its runtimes are."""

    def __init__(self, runtimes: Sequence[fnapi.FunctionRuntime]) -> None:
        self._runtimes = tuple(runtimes)

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        for runtime in self._runtimes:
            try:
                return runtime.evaluate(fn, resource_list)
            except fnapi.FunctionNotFound:
                continue
        raise fnapi.FunctionNotFound(message=f"no runtime can run function {fn.display}")
