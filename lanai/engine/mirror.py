"""Plan how PackageRevision objects should change to mirror what Git holds.

A Repository sync reads every revision from the cache and compares it with the objects
that exist (from an in-memory index, not an API list). The plan is the minimum: create
what is missing, patch only fields that differ, delete what vanished from Git. When
nothing changed the plan is empty and the sync makes no API write.

Two kinds of object are never touched: ones being deleted, and ones users created that
are not in Git yet (a Draft whose creation is still running or failed). An object is
"in Git" once its status carries a ``selfLock``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanai.api import conditions, constants
from lanai.api.keys import PackageRevisionKey
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import lifecycle, rules

MANAGED_STATUS = (
    "revision",
    "selfLock",
    "upstreamLock",
    "publishedBy",
    "publishedAt",
    "creationSource",
    "packageConditions",
    "deployment",
)


@dataclass(frozen=True)
class ObservedObject:
    """The parts of an existing PackageRevision object the planner compares."""

    name: str
    lifecycle: str
    latest_label: str | None
    status: Mapping[str, Any]
    generation: int = 1
    observed_generation: int | None = None
    deleting: bool = False

    @property
    def in_git(self) -> bool:
        return bool(self.status.get("selfLock"))

    @property
    def settled(self) -> bool:
        """The engine has acted on the current spec (no user change pending)."""
        return self.observed_generation is not None and self.observed_generation >= self.generation


@dataclass
class MirrorPlan:
    create: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    """(object body, status to write once it exists)."""
    patch: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(name, merge patch of metadata/spec)."""
    status: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(name, merge patch of status)."""
    delete: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.patch or self.status or self.delete)


def desired_status(record: PackageRevisionRecord, deployment: bool) -> dict[str, Any]:
    status: dict[str, Any] = {
        "revision": record.revision,
        "selfLock": record.self_lock,
        "upstreamLock": record.upstream_lock,
        "publishedBy": record.published_by or None,
        "publishedAt": record.published_at or None,
        "creationSource": record.creation_source or None,
        "packageConditions": list(record.package_conditions) or None,
        "deployment": deployment,
    }
    return status


def desired_object(record: PackageRevisionRecord, latest: bool) -> dict[str, Any]:
    key = record.key
    labels = {constants.LATEST_REVISION_LABEL: "true"} if latest else {}
    spec: dict[str, Any] = {
        "packageName": key.package,
        "repository": key.repository,
        "workspaceName": key.workspace,
        "lifecycle": str(record.lifecycle),
    }
    if record.readiness_gates:
        spec["readinessGates"] = [{"conditionType": gate} for gate in record.readiness_gates]
    if record.labels or record.annotations:
        spec["packageMetadata"] = {
            k: v for k, v in (("labels", record.labels), ("annotations", record.annotations)) if v
        }
    return {
        "apiVersion": f"{constants.PORCH_GROUP}/{constants.PORCH_VERSION}",
        "kind": "PackageRevision",
        "metadata": {
            "name": key.name,
            "namespace": key.namespace,
            "labels": labels,
            # Set at creation, so kopf need not add it with one more write per object.
            "finalizers": [constants.FINALIZER],
        },
        "spec": spec,
    }


def _ready(record: PackageRevisionRecord) -> conditions.Condition:
    if record.error:
        return conditions.Condition(constants.READY, "False", constants.REASON_ERROR, record.error)
    return conditions.Condition(constants.READY, "True", constants.REASON_READY, "")


def _status_patch(
    record: PackageRevisionRecord, observed: ObservedObject, deployment: bool
) -> dict[str, Any]:
    wanted = desired_status(record, deployment)
    patch = {k: v for k, v in wanted.items() if observed.status.get(k) != v}
    ready = _ready(record)
    current = conditions.find(observed.status.get("conditions"), constants.READY)
    differs = current is None or (current.get("status"), current.get("message", "")) != (
        ready.status,
        ready.message,
    )
    # Only a sync-visible fact flips Ready; the engine owns Ready during its operations.
    if differs and (observed.settled or current is None):
        patch["conditions"] = conditions.upsert(observed.status.get("conditions"), ready)
    return patch


def plan(
    records: Iterable[PackageRevisionRecord],
    existing: Mapping[str, ObservedObject],
    *,
    deployment: bool = False,
) -> MirrorPlan:
    """What to change so the objects of one Repository match ``records``."""
    records = list(records)
    facts = [rules.RevisionFacts(r.key, r.lifecycle, r.revision, r.upstream_names) for r in records]
    latest_keys: set[PackageRevisionKey] = set(rules.latest_revisions(facts).values())
    result = MirrorPlan()
    wanted_names = set()
    for record in records:
        name = record.key.name
        wanted_names.add(name)
        latest = record.key in latest_keys
        observed = existing.get(name)
        if observed is None:
            status = desired_status(record, deployment)
            status["conditions"] = conditions.upsert(None, _ready(record))
            if record.lifecycle in lifecycle.PUBLISHED_STATES:
                # Settled on arrival: nothing for the PackageRevision handler to do.
                # Drafts and proposals are left to it, to get their resources object.
                status["observedGeneration"] = 1
            result.create.append((desired_object(record, latest), status))
            continue
        if observed.deleting:
            continue
        metadata_patch: dict[str, Any] = {}
        wanted_label = "true" if latest else None
        if observed.latest_label != wanted_label:
            metadata_patch["metadata"] = {"labels": {constants.LATEST_REVISION_LABEL: wanted_label}}
        if observed.lifecycle != str(record.lifecycle) and observed.settled:
            # Git changed under a settled object (someone pushed or deleted a ref).
            metadata_patch["spec"] = {"lifecycle": str(record.lifecycle)}
        if metadata_patch:
            result.patch.append((name, metadata_patch))
        status_patch = _status_patch(record, observed, deployment)
        if (
            observed.observed_generation is None
            and observed.generation == 1
            and record.lifecycle in lifecycle.PUBLISHED_STATES
            and observed.lifecycle == str(record.lifecycle)
        ):
            # Created by a sync that stopped before writing its status: finish that
            # write (the PackageRevision handler leaves such objects to the sync).
            status_patch["observedGeneration"] = 1
        if status_patch:
            result.status.append((name, status_patch))
    for name, observed in existing.items():
        if name not in wanted_names and observed.in_git and not observed.deleting:
            result.delete.append(name)
    return result
