"""A runtime made of runtimes, tried in order.

Render wants one runtime; Lanai has several (builtin catalog functions, configured
executables, a function-runner service). The first that knows a function runs it; only
"not found" falls through, because a function that ran and failed must not be retried
somewhere else. The chain is also where evaluations are counted and timed, because it
is the one place that knows which runtime ran a function (in a function worker, the
records travel back to the operator with the render's answer).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ruamel.yaml.comments import CommentedMap

from lanai.functions import images, metrics
from lanai.kpt import fnapi

Recorder = Callable[[str, str, str, float], None]
"""Takes (function, runtime, outcome, seconds), as :func:`metrics.record` does."""


def runtime_name(runtime: fnapi.FunctionRuntime) -> str:
    """A runtime's ``name`` attribute, else its class name (the metrics' runtime label)."""
    name = getattr(runtime, "name", None)
    return name if isinstance(name, str) else type(runtime).__name__


class ChainRuntime:
    """Tries each runtime in turn; thread-safe if its runtimes are."""

    name = "chain"

    def __init__(
        self,
        runtimes: Sequence[fnapi.FunctionRuntime],
        recorder: Recorder = metrics.record,
        *,
        allow_exec: bool = True,
    ) -> None:
        self._runtimes = tuple(runtimes)
        self._record = recorder
        self.allow_exec = allow_exec
        """Whether Kptfile ``exec`` steps may run (render refuses them first, as kpt does)."""

    def resolve_image(self, image: str, tag: str | None) -> str:
        """The image a Kptfile step with ``tag`` runs (kpt's tag resolution); raises
        :class:`lanai.functions.images.InvalidImage` with kpt's message."""
        return images.resolve_function_image(image, tag)

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        reasons: list[str] = []
        for runtime in self._runtimes:
            started = time.perf_counter()
            try:
                output = runtime.evaluate(fn, resource_list)
            except fnapi.FunctionNotFound as error:
                reasons.append(error.message)
                continue
            except fnapi.FunctionLimitExceeded as error:
                self._done(fn, runtime, metrics.limit_outcome(error.limit), started)
                raise
            except MemoryError:
                self._done(fn, runtime, metrics.MEMORY_LIMIT, started)
                raise
            except BaseException:
                self._done(fn, runtime, metrics.FAILED, started)
                raise
            self._done(fn, runtime, metrics.OK, started)
            return output
        self._record(fn.display, "none", metrics.NOT_FOUND, 0.0)
        message = f"no runtime can run function {fn.display}"
        if reasons:
            message += f" ({'; '.join(reasons)})"
        raise fnapi.FunctionNotFound(message=message)

    def _done(
        self, fn: fnapi.FunctionRef, runtime: fnapi.FunctionRuntime, outcome: str, since: float
    ) -> None:
        self._record(fn.display, runtime_name(runtime), outcome, time.perf_counter() - since)
