"""kopf settings that make Lanai behave like a well-mannered operator.

- kopf's bookkeeping goes to ``status.kopf`` (progress and diff-base), never to
  annotations, so Argo CD sees no drift on users' objects;
- kopf's log-to-Event posting is off: Lanai posts its own, meaningful Events;
- one named finalizer; standalone (no peering objects to install);
- PackageRevision and PackageRevisionResources are reconciled level-triggered (spec
  against Git, ``metadata.generation`` against ``status.observedGeneration``), so kopf
  keeps no diff base for them: that would cost one more API write per object, 10,000
  writes on the cold sync of a large repository, for information Lanai never reads.
  PackageVariant and PackageVariantSet are reconciled by daemons from their live bodies
  (their on.delete handlers need no diff base either);
- a waiting deletion handler wakes up when its object changes (:class:`WakingProgressStorage`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any, cast

import kopf

from lanai.api import constants

LEVEL_TRIGGERED_KINDS = frozenset(
    {"PackageRevision", "PackageRevisionResources", "PackageVariant", "PackageVariantSet"}
)
DELETE_FROM_GIT = "delete-from-git"
"""The PackageRevision deletion handler's id."""
WAKEABLE_HANDLERS = frozenset({DELETE_FROM_GIT})


class SelectiveDiffBaseStorage(kopf.DiffBaseStorage):
    """kopf's status diff base, except for kinds reconciled level-triggered.

    For those kinds every event looks like a creation to kopf; their handlers carry a
    ``when`` filter (generation ahead of observedGeneration) that decides.
    """

    def __init__(self, inner: kopf.DiffBaseStorage, skipped: frozenset[str]) -> None:
        super().__init__()
        self._inner = inner
        self._skipped = skipped

    def _skips(self, body: Any) -> bool:
        return body.get("kind") in self._skipped

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        # kopf builds an essence (a deep copy of the body) on every watch event to
        # compare with the stored one; for these kinds nothing is stored or compared,
        # and the handlers never read ``new``/``diff``: two events per object in a
        # cold sync paid for 22,000 deep copies of 10,000 revisions.
        if self._skips(body):
            return {}
        return self._inner.build(body=body, extra_fields=extra_fields)

    def fetch(self, *, body: Any) -> Any:
        return None if self._skips(body) else self._inner.fetch(body=body)

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        if not self._skips(body):
            self._inner.store(body=body, patch=patch, essence=essence)


PROGRESS_FIELD = f"status.{constants.KOPF_STATUS_FIELD}.progress"
WAKE_KEY = "lanaiWakeOn"
"""Beside a waiting handler's progress record: what the object looked like when it began to
wait (see :class:`WakingProgressStorage`)."""
_BOOT = uuid.uuid4().hex[:8]
"""This operator process: a restart re-examines every waiting handler once."""


def _sight(body: Mapping[str, Any]) -> str:
    """What, when it changes, may let a waiting handler through: the spec (its
    generation), the finalizers, and the operator process looking."""
    metadata = body.get("metadata") or {}
    finalizers = ",".join(metadata.get("finalizers") or [])
    return f"{_BOOT}/{metadata.get('generation')}/{finalizers}"


class WakingProgressStorage(kopf.StatusProgressStorage):
    """kopf's status progress storage, in which some handlers stop waiting on a change.

    kopf runs a handler that raised ``TemporaryError(delay=...)`` again only once the
    delay is over, whatever happens to the object meanwhile. A deletion waiting for a
    person (to propose it, to remove a finalizer) would then finish at the next retry, not
    when the person acted. For the ``wakeable`` handlers this storage keeps, beside the
    record of a waiting handler, :func:`_sight` of the object as the handler saw it;
    an event showing anything else ends the wait, so the handler runs on that event.
    :func:`wake_patch` ends it from outside (another object changed).
    """

    def __init__(self, *, wakeable: Collection[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wakeable = frozenset(wakeable)

    def fetch(self, *, key: Any, body: Any) -> Any:
        record = super().fetch(key=key, body=body)
        if record is None or key not in self._wakeable:
            return record
        found = dict(cast(Mapping[str, Any], record))
        seen = found.pop(WAKE_KEY, None)
        if found.get("delayed") and seen != _sight(body):
            del found["delayed"]  # not sleeping: kopf runs the handler now
        return found

    def store(self, *, key: Any, record: Any, body: Any, patch: Any) -> None:
        if key in self._wakeable:
            waiting = bool(record.get("delayed"))
            record = {**record, WAKE_KEY: _sight(body) if waiting else None}
        super().store(key=key, record=record, body=body, patch=patch)


def wake_patch(handler: str) -> dict[str, Any]:
    """The status merge patch that ends ``handler``'s wait on an object (for
    :class:`WakingProgressStorage`)."""
    progress: dict[str, Any] = {handler: {WAKE_KEY: "woken"}}
    for part in reversed(PROGRESS_FIELD.split(".")[1:]):
        progress = {part: progress}
    return progress


def configure(settings: kopf.OperatorSettings, *, fast: bool = False) -> None:
    settings.persistence.progress_storage = WakingProgressStorage(
        wakeable=WAKEABLE_HANDLERS,
        field=PROGRESS_FIELD,
        touch_field=f"status.{constants.KOPF_STATUS_FIELD}.dummy",
    )
    settings.persistence.diffbase_storage = SelectiveDiffBaseStorage(
        kopf.StatusDiffBaseStorage(
            field=f"status.{constants.KOPF_STATUS_FIELD}.last-handled-configuration",
            ignored_fields=["status"],
        ),
        LEVEL_TRIGGERED_KINDS,
    )
    settings.persistence.finalizer = constants.FINALIZER
    settings.posting.enabled = False
    settings.peering.standalone = True
    settings.networking.request_timeout = 60
    settings.watching.server_timeout = 10 if fast else 300
    settings.watching.client_timeout = 15 if fast else 330
    settings.execution.max_workers = 8
    settings.batching.error_delays = (
        (1, 1, 2, 3, 5, 8, 13, 21, 34, 55)
        if fast
        else (
            1,
            2,
            4,
            8,
            16,
            32,
            64,
            128,
            300,
        )
    )
    if fast:
        settings.execution.default_backoff = 1
