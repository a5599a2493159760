"""The contract between render (here, in ``lanai.kpt``) and function runtimes.

Render lives below ``lanai.functions`` in the layer order, so it cannot import a
runtime; it receives one that satisfies :class:`FunctionRuntime`. Runtimes exchange
ResourceLists as ruamel round-trip documents (``CommentedMap``), not bytes, so the
in-process builtin functions pay no serialisation and keep comments for free; the exec
and gRPC runtimes serialise at their own edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ruamel.yaml.comments import CommentedMap


@dataclass(frozen=True)
class FunctionRef:
    """One pipeline step as the Kptfile names it: an image or an exec path, never both."""

    image: str | None = None
    exec: str | None = None
    name: str | None = None
    package: str | None = None
    """The package whose pipeline runs the step (``""``: the root), for messages only."""

    @property
    def display(self) -> str:
        return self.image or self.exec or self.name or "<unnamed function>"


@dataclass
class FunctionOutput:
    """What a function returned: its ResourceList (items, results) and its stderr."""

    resource_list: CommentedMap
    stderr: str = ""
    exit_code: int = 0


@dataclass
class FunctionError(Exception):
    """A function ran (or could not be started) and failed.

    ``results`` are the structured results the function reported before failing, as
    plain dicts in ResourceList ``results`` form; ``stderr`` is its diagnostic output.
    """

    message: str
    stderr: str = ""
    exit_code: int = 1
    results: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


class FunctionNotFound(FunctionError):
    """No runtime knows the image or executable (a render error naming it, never a hang)."""


@dataclass
class FunctionLimitExceeded(FunctionError):
    """The function took more memory or time than it may; ``message`` names the function
    and the limit (see :mod:`lanai.trust.limits`), so render shows it as it is."""

    limit: str = "time"
    """``memory`` or ``time``."""
    amount: float = 0.0
    """The limit: bytes of memory or seconds."""


class FunctionRuntime(Protocol):
    """Evaluates one function over a ResourceList. Implementations must be thread-safe."""

    def evaluate(self, fn: FunctionRef, resource_list: CommentedMap) -> FunctionOutput:
        """Run ``fn``; raise :class:`FunctionNotFound` or :class:`FunctionError` on failure."""
        ...
