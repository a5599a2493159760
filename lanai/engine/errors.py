"""The engine's errors: each says, once, what the user should know.

Handlers turn them into a condition, an event and a retry decision in one place. What
decides between them is whether the request can still succeed without being changed:

- ``Rejected`` is final: the request breaks a rule that no later event can lift (fix the
  spec, or make a new revision);
- ``Unavailable`` is temporary: Git or a Repository cannot be reached right now;
- ``Waiting`` is temporary too: the request needs something that is on its way or that
  another action provides (the revision created in Git, a source revision published,
  readiness gates met), so it is retried until that happens;
- ``RenderFailed`` is final until the resources change;
- ``Forbidden`` is retried slowly: the user lacks a permission someone may grant.
"""

from __future__ import annotations


class EngineError(Exception):
    reason = "Failed"
    retry = False
    delay = 0.0
    """Seconds before a retry (0: the handler's default, a growing backoff)."""
    warning = True
    """Worth a Warning Event (False: a Normal one; waiting is not a fault)."""


class Rejected(EngineError):
    """The request breaks a rule; retrying cannot help."""


class Unavailable(EngineError):
    """A repository or upstream cannot be reached right now."""

    reason = "Pending"
    retry = True


class Waiting(Unavailable):
    """The request needs something that is not there yet; it is retried until it is."""

    warning = False


class RenderFailed(EngineError):
    """The package's function pipeline failed; nothing was pushed."""

    reason = "RenderFailed"


class Forbidden(EngineError):
    """The requesting user lacks a permission the request needs (e.g. reading the Secret
    it names). Retried slowly: it succeeds once someone grants that permission."""

    reason = "Forbidden"
    retry = True
    delay = 60.0
