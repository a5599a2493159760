"""Kubernetes Events Lanai posts on the objects it acts for.

kopf can turn its log lines into Events, but those are kopf's words ("Handler ...
succeeded"); users want a few meaningful reasons, so Lanai disables kopf's posting and
posts its own: on a PackageRevision the changes Porch's watch reports (``Added``,
``Modified``, ``Deleted``) plus ``Published`` and ``RenderFailed``; on a Repository
``Ready`` and ``SyncFailed``. Posting is best effort: a failed Event never fails a
reconciliation.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp

from lanai.api import constants
from lanai.engine import lifecycle
from lanai.handlers import kube

logger = logging.getLogger(__name__)

EventType = Literal["Normal", "Warning"]
_MAX_MESSAGE = 1024


def reason_for_move(move: lifecycle.Move) -> str:
    """An approval is ``Published``; every other lifecycle move is a ``Modified``."""
    if move == lifecycle.Move.APPROVE:
        return constants.REASON_PUBLISHED
    return constants.REASON_MODIFIED


class Recorder:
    """Posts core/v1 Events with ``lanai`` as the reporting component."""

    def __init__(self, api: kube.Api, instance: str = "") -> None:
        self._api = api
        self._instance = instance or uuid.uuid4().hex[:8]

    async def post(
        self, body: Mapping[str, Any], type_: EventType, reason: str, message: str
    ) -> None:
        metadata = body.get("metadata", {})
        namespace = metadata.get("namespace") or "default"
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        involved = {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        }
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{metadata.get('name', 'lanai')}.",
                "namespace": namespace,
            },
            "involvedObject": {k: v for k, v in involved.items() if v is not None},
            "type": type_,
            "reason": reason,
            "message": message[:_MAX_MESSAGE],
            "source": {"component": constants.FIELD_MANAGER},
            "reportingComponent": constants.FIELD_MANAGER,
            "reportingInstance": self._instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await kube.create(self._api, "", "v1", namespace, "events", event, decode=False)
        except (kube.ApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
            # An Event must never fail the caller.
            logger.warning("could not post event %s on %s: %s", reason, metadata.get("name"), error)
