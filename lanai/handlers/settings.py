"""kopf settings that make Lanai behave like a well-mannered operator.

- kopf's bookkeeping goes to ``status.kopf`` (progress and diff-base), never to
  annotations, so Argo CD sees no drift on users' objects;
- kopf's log-to-Event posting is off: Lanai posts its own, meaningful Events;
- one named finalizer; standalone (no peering objects to install).
"""

from __future__ import annotations

import kopf

from lanai.api import constants


def configure(settings: kopf.OperatorSettings, *, fast: bool = False) -> None:
    settings.persistence.progress_storage = kopf.StatusProgressStorage(
        field=f"status.{constants.KOPF_STATUS_FIELD}.progress",
        touch_field=f"status.{constants.KOPF_STATUS_FIELD}.dummy",
    )
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
        field=f"status.{constants.KOPF_STATUS_FIELD}.last-handled-configuration",
        ignored_fields=["status"],
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
