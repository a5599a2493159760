"""The engine's errors: each says, once, what the user should know.

Handlers turn them into a condition, an event and a retry decision in one place:
``Rejected`` is permanent (fix the spec), ``Unavailable`` is temporary (retry),
``RenderFailed`` is permanent until the resources change.
"""

from __future__ import annotations


class EngineError(Exception):
    reason = "Failed"
    retry = False
    delay = 0.0
    """Seconds before a retry (0: the handler's default)."""


class Rejected(EngineError):
    """The request breaks a rule; retrying cannot help."""


class Unavailable(EngineError):
    """A repository or upstream cannot be reached right now."""

    reason = "Pending"
    retry = True


class RenderFailed(EngineError):
    """The package's function pipeline failed; nothing was pushed."""

    reason = "RenderFailed"


class Forbidden(EngineError):
    """The requesting user lacks a permission the request needs (e.g. reading the Secret
    it names). Retried slowly: it succeeds once someone grants that permission."""

    reason = "Forbidden"
    retry = True
    delay = 60.0
