"""A revision's readiness gates, labels and annotations: in its Kptfile and in its spec.

The Kptfile holds them (``info.readinessGates``, ``metadata.labels``/``annotations``);
the PackageRevision shows them as ``spec.readinessGates`` and ``spec.packageMetadata``,
and the admission policy reads the spec to refuse a propose or approve whose gates are
unmet. So the two must agree, whichever side changed:

- the Kptfile changed (an edit of the resources, a push the sync found, a create that
  brought the upstream's): the spec follows, by :func:`follow_patch`;
- the spec changed (a user's patch of a Draft): the Kptfile follows, by
  :func:`kptfile_wanted`. Only a Draft's Kptfile can change.

Which one wins when both changed is decided by what the object had seen: a spec written
after the object showed the current Kptfile is the user's word and is written whole
(removals too); otherwise keys are only added, so an edit the spec has not caught up with
yet is never undone. Once Published the gates are frozen (the CRD refuses changes), so
nothing here plans one. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lanai.cache.records import PackageRevisionRecord
from lanai.engine import lifecycle


@dataclass(frozen=True)
class PackageMeta:
    gates: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.gates or self.labels or self.annotations)

    def same(self, other: PackageMeta) -> bool:
        return (
            self.gates == other.gates
            and dict(self.labels) == dict(other.labels)
            and dict(self.annotations) == dict(other.annotations)
        )


def of_record(record: PackageRevisionRecord) -> PackageMeta:
    """What the revision's Kptfile holds."""
    return PackageMeta(record.readiness_gates, dict(record.labels), dict(record.annotations))


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def gates_of(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """``spec.readinessGates`` as condition types, each once, in order."""
    found: list[str] = []
    for gate in spec.get("readinessGates") or []:
        kind = gate.get("conditionType") if isinstance(gate, Mapping) else None
        if kind and str(kind) not in found:
            found.append(str(kind))
    return tuple(found)


def of_spec(spec: Mapping[str, Any]) -> PackageMeta:
    """What a PackageRevision's spec asks for (or shows)."""
    metadata = spec.get("packageMetadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return PackageMeta(
        gates_of(spec), _strings(metadata.get("labels")), _strings(metadata.get("annotations"))
    )


def spec_fields(meta: PackageMeta) -> dict[str, Any]:
    """The spec fields that show ``meta`` (none for what is empty)."""
    spec: dict[str, Any] = {}
    if meta.gates:
        spec["readinessGates"] = [{"conditionType": gate} for gate in meta.gates]
    shown = {k: dict(v) for k, v in (("labels", meta.labels), ("annotations", meta.annotations))}
    if any(shown.values()):
        spec["packageMetadata"] = {k: v for k, v in shown.items() if v}
    return spec


def gates_may_change(current_lifecycle: str) -> bool:
    """The CRD freezes spec.readinessGates once a revision is Published."""
    return current_lifecycle not in lifecycle.PUBLISHED_STATES


def _map_patch(shown: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, Any] | None:
    if dict(shown) == dict(wanted):
        return None
    change: dict[str, Any] = {k: None for k in shown if k not in wanted}
    change.update({k: v for k, v in wanted.items() if shown.get(k) != v})
    return change


def follow_patch(shown: PackageMeta, wanted: PackageMeta, *, gates: bool = True) -> dict[str, Any]:
    """A merge patch of ``spec`` that makes a spec showing ``shown`` show ``wanted``
    (empty when it already does). ``gates=False``: leave the gates (frozen)."""
    patch: dict[str, Any] = {}
    if gates and shown.gates != wanted.gates:
        patch["readinessGates"] = (
            [{"conditionType": gate} for gate in wanted.gates] if wanted.gates else None
        )
    if not (wanted.labels or wanted.annotations):
        if shown.labels or shown.annotations:
            patch["packageMetadata"] = None
        return patch
    metadata: dict[str, Any] = {}
    for name, before, after in (
        ("labels", shown.labels, wanted.labels),
        ("annotations", shown.annotations, wanted.annotations),
    ):
        if not after:
            if before:
                metadata[name] = None
            continue
        change = _map_patch(before, after)
        if change is not None:
            metadata[name] = change
    if metadata:
        patch["packageMetadata"] = metadata
    return patch


def follow_operations(
    spec: Mapping[str, Any], wanted: PackageMeta, *, gates: bool = True
) -> list[dict[str, Any]]:
    """JSON patch operations (RFC 6902) that make ``spec`` show ``wanted``, for a patch
    made conditional by a ``test`` of the generation ``spec`` was read at (a merge
    patch cannot be, except on resourceVersion, which status writes move too)."""
    shown = of_spec(spec)
    fields = spec_fields(wanted)
    operations: list[dict[str, Any]] = []
    changes = []
    if gates and shown.gates != wanted.gates:
        changes.append("readinessGates")
    if dict(shown.labels) != dict(wanted.labels) or dict(shown.annotations) != dict(
        wanted.annotations
    ):
        changes.append("packageMetadata")
    for name in changes:
        if name in fields:
            operations.append({"op": "add", "path": f"/spec/{name}", "value": fields[name]})
        elif name in spec:
            operations.append({"op": "remove", "path": f"/spec/{name}"})
    return operations


def kptfile_wanted(
    requested: PackageMeta, in_kptfile: PackageMeta, *, whole: bool
) -> PackageMeta | None:
    """What a Draft's Kptfile should hold to carry the spec's request; None: it does.

    ``whole``: the request is the whole truth (keys it lacks are removed); otherwise it
    only adds and changes, keeping what the Kptfile has beyond it.
    """
    if whole:
        wanted = requested
    else:
        extra = tuple(g for g in requested.gates if g not in in_kptfile.gates)
        wanted = PackageMeta(
            in_kptfile.gates + extra,
            {**in_kptfile.labels, **requested.labels},
            {**in_kptfile.annotations, **requested.annotations},
        )
    return None if wanted.same(in_kptfile) else wanted


def spec_is_whole(status: Mapping[str, Any], record: PackageRevisionRecord) -> bool:
    """Whether a spec change is the user's whole word on the Kptfile's metadata.

    True when the object had shown the Kptfile Git holds now: Lanai had acted on it
    (``observedGeneration``) at the commit its ``selfLock`` names, so whatever differs is
    what the user changed. Otherwise the Kptfile moved since (an edit, a push) and the
    spec may not show that yet.
    """
    lock = status.get("selfLock")
    git = lock.get("git") if isinstance(lock, Mapping) else None
    commit = git.get("commit") if isinstance(git, Mapping) else None
    return status.get("observedGeneration") is not None and commit == record.commit
