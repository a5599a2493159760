"""The in-process runtime: catalog images that Lanai implements itself.

Render hands every pipeline step to a runtime; this one answers for the catalog
functions in :mod:`lanai.functions.builtin`, whatever registry spelling or tag the
Kptfile uses, and says FunctionNotFound for everything else so a chain can fall through
to a runtime that runs real images. Functions edit the given ResourceList in place;
nothing here is shared between calls, so concurrent evaluations are safe.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from ruamel.yaml.comments import CommentedMap

from lanai.functions import builtin, images
from lanai.functions.builtin import starlark_run
from lanai.kpt import fnapi
from lanai.trust import limits


class BuiltinRuntime:
    """Runs catalog functions in process. Thread-safe: it holds no mutable state."""

    name = "builtin"

    def __init__(
        self,
        functions: Mapping[str, builtin.Function] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """``timeout``: seconds a starlark script may run before it is stopped (a function
        of its own; the others are bounded by the worker's deadline)."""
        found = dict(builtin.REGISTRY if functions is None else functions)
        if timeout is not None and found.get("starlark") is starlark_run.run:
            found["starlark"] = functools.partial(starlark_run.run, timeout=timeout)
        self._functions: Mapping[str, builtin.Function] = found

    def resolve(self, fn: fnapi.FunctionRef) -> Callable[[CommentedMap], str | None] | None:
        """The implementation ``fn`` names, or ``None`` if this runtime has none."""
        if fn.image is None:
            return None
        try:
            found = images.catalog_function(fn.image)
        except images.InvalidImage as error:
            raise fnapi.FunctionError(message=str(error), stderr=str(error)) from error
        if found is None:
            return None
        return self._functions.get(found.name)

    def resolve_image(self, image: str, tag: str | None) -> str:
        """The image a Kptfile step runs once its ``tag`` is applied, version constraints
        resolved as kpt resolves them (against the known catalog tags)."""
        return images.resolve_function_image(image, tag)

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        function = self.resolve(fn)
        if function is None:
            raise fnapi.FunctionNotFound(
                message=f"no builtin implementation of function {fn.display}"
            )
        try:
            stderr = function(resource_list) or ""
        except fnapi.FunctionLimitExceeded as error:
            error.message = limits.exceeded(error.limit, fn.display, error.amount)
            error.results = [{"message": error.message, "severity": "error"}]
            raise
        except fnapi.FunctionError as error:
            if not error.results:
                error.results = [{"message": error.message, "severity": "error"}]
            raise
        except MemoryError:
            raise  # not the function's bug: the box reports its limit
        except Exception as error:  # a bug in a builtin must still fail only this step
            message = f"function {fn.display} failed: {type(error).__name__}: {error}"
            raise fnapi.FunctionError(
                message=message, stderr=message, results=[{"message": message, "severity": "error"}]
            ) from error
        return fnapi.FunctionOutput(resource_list=resource_list, stderr=stderr, exit_code=0)
