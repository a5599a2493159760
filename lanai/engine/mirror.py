"""Plan how PackageRevision objects should change to mirror what Git holds.

A Repository sync reads every revision from the cache and compares it with the objects
that exist (from an in-memory index, not an API list). The plan is the minimum: create
what is missing, patch only fields that differ, delete what vanished from Git. When
nothing changed the plan is empty and the sync makes no API write.

Two kinds of object are never touched: ones being deleted, and ones users created that
are not in Git yet (a Draft whose creation is still running or failed). An object is
"in Git" once its status carries a ``selfLock``.

The plan never asks for a write Lanai's own admission rules refuse: a lifecycle change
only along an allowed move (a spec that is ahead of Git is a request the PackageRevision
handler has not carried out, or refused; it is not moved back), and a Published revision
that vanished is moved to DeletionProposed before it is deleted, as anyone's must be.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import InitVar, dataclass, field
from typing import Any

from lanai.api import conditions, constants, values
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import edits, lifecycle, packagemeta, rules

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


def fingerprint(value: Any) -> int:
    """A stand-in for a status value, equal exactly when the values are (for planning)."""
    if isinstance(value, dict | list | tuple):
        return hash(
            json.dumps(value, sort_keys=True, separators=(",", ":"), default=values.json_default)
        )
    return hash((type(value).__name__, value))


def _compact(condition: Any) -> Any:
    """A condition with its short strings shared (they repeat across 10,000 objects)."""
    if not isinstance(condition, dict):
        return condition
    return {
        sys.intern(k): sys.intern(v) if isinstance(v, str) and len(v) <= 32 else v
        for k, v in condition.items()
    }


@dataclass(frozen=True, slots=True)
class ObservedObject:
    """The parts of an existing PackageRevision object the planner compares.

    One per object, kept in the operator's index for as long as the object exists, so
    it keeps fingerprints of the managed status fields rather than the fields (a
    ``selfLock`` alone is two dicts and five strings), and the conditions (needed to
    merge a new Ready into them) with their common strings shared.
    """

    name: str
    lifecycle: str
    latest_label: str | None
    status: InitVar[Mapping[str, Any]]
    generation: int = 1
    observed_generation: int | None = None
    deleting: bool = False
    meta: packagemeta.PackageMeta | None = None
    """The gates and package metadata the spec shows (None: none)."""
    package: str = ""
    """spec.packageName."""
    in_git: bool = field(init=False)
    sync_failed: bool = field(init=False)
    """It carries a ``Synced`` condition: a write of an earlier sync failed."""
    managed: tuple[int, ...] = field(init=False)
    """:func:`fingerprint` of each :data:`MANAGED_STATUS` field, in that order."""
    conditions: tuple[Any, ...] | None = field(init=False)

    def __post_init__(self, status: Mapping[str, Any]) -> None:
        found = status.get("conditions")
        set_ = object.__setattr__
        set_(self, "lifecycle", sys.intern(self.lifecycle))
        set_(self, "package", sys.intern(self.package))
        set_(self, "in_git", bool(status.get("selfLock")))
        set_(self, "sync_failed", conditions.find(found, constants.SYNCED) is not None)
        set_(self, "managed", tuple(fingerprint(status.get(k)) for k in MANAGED_STATUS))
        set_(self, "conditions", tuple(map(_compact, found)) if isinstance(found, list) else None)

    @property
    def settled(self) -> bool:
        """The engine has acted on the current spec (no user change pending)."""
        return self.observed_generation is not None and self.observed_generation >= self.generation

    @property
    def placeholder(self) -> bool:
        """The branch placeholder (revision -1), which may be deleted while Published."""
        return self.managed[0] == _PLACEHOLDER_REVISION

    @property
    def ready(self) -> bool:
        found = list(self.conditions) if self.conditions is not None else None
        return conditions.is_true(found, constants.READY)


_PLACEHOLDER_REVISION = fingerprint(-1)
assert MANAGED_STATUS[0] == "revision"


@dataclass(frozen=True, slots=True)
class Creation:
    """An object to create, built only when it is written (a cold sync of 10,000
    revisions would otherwise hold every body and status at once)."""

    record: PackageRevisionRecord
    latest: bool
    deployment: bool

    @property
    def name(self) -> str:
        return self.record.key.name

    def body(self) -> dict[str, Any]:
        return desired_object(self.record, self.latest)

    def status(self) -> dict[str, Any]:
        """The status to write once the object exists."""
        status = desired_status(self.record, self.deployment)
        status["conditions"] = conditions.upsert(None, ready_condition(self.record))
        if self.record.lifecycle in lifecycle.PUBLISHED_STATES:
            # Settled on arrival: nothing for the PackageRevision handler to do.
            # Drafts and proposals are left to it, to get their resources object.
            status["observedGeneration"] = 1
        return status


VANISHED = "the revision is no longer in Git"
REPOSITORY_DELETED = "the Repository is being deleted"


@dataclass
class MirrorPlan:
    create: list[Creation] = field(default_factory=list)
    patch: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(name, merge patch of metadata/spec)."""
    status: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(name, merge patch of status)."""
    delete: list[str] = field(default_factory=list)
    propose_deletion: list[str] = field(default_factory=list)
    """Of ``delete``: Published objects moved to DeletionProposed (:func:`removal_patch`)
    first, since the admission policy refuses deleting a Published revision."""
    removal_reason: str = VANISHED
    """Why the objects in ``delete`` go: :data:`VANISHED` or :data:`REPOSITORY_DELETED`."""

    @property
    def empty(self) -> bool:
        return not (self.create or self.patch or self.status or self.delete)

    @property
    def size(self) -> int:
        """How many writes the plan holds (each kind counted)."""
        return len(self.create) + len(self.patch) + len(self.status) + len(self.delete)

    def names(self) -> set[str]:
        """Every object the plan writes."""
        return (
            {c.name for c in self.create}
            | {name for name, _ in self.patch}
            | {name for name, _ in self.status}
            | set(self.delete)
        )


def removal_patch(reason: str) -> dict[str, Any]:
    """Move a Published object out of Published before the operator deletes it, marked so
    that nothing is done in Git for it (``reason``: :data:`VANISHED`, ...)."""
    return {
        "metadata": {"annotations": {constants.REMOVAL_ANNOTATION: reason}},
        "spec": {"lifecycle": str(lifecycle.DELETION_PROPOSED)},
    }


def _needs_proposal(observed: ObservedObject) -> bool:
    return observed.lifecycle == lifecycle.PUBLISHED and not observed.placeholder


def removal_plan(existing: Mapping[str, ObservedObject]) -> MirrorPlan:
    """Delete every object (a Repository being deleted), Published ones proposed first."""
    result = MirrorPlan(delete=list(existing), removal_reason=REPOSITORY_DELETED)
    result.propose_deletion = [
        name for name, o in existing.items() if not o.deleting and _needs_proposal(o)
    ]
    return result


def desired_status(record: PackageRevisionRecord, deployment: bool) -> dict[str, Any]:
    status: dict[str, Any] = {
        # As Porch's v1alpha2 controllers: no number until published (-1: the branch).
        "revision": record.revision if record.revision != 0 else None,
        "selfLock": record.self_lock,
        "upstreamLock": record.upstream_lock,
        "publishedBy": record.published_by or None,
        "publishedAt": record.published_at or None,
        "creationSource": record.creation_source or None,
        "packageConditions": list(record.package_conditions) or None,
        "deployment": deployment,
    }
    return status


def latest_label(latest: bool) -> str:
    """``porch.kpt.dev/latest-revision`` as Porch's controllers set it: "true" on the
    package's latest published revision, "false" on every other (Drafts included)."""
    return "true" if latest else "false"


def desired_object(record: PackageRevisionRecord, latest: bool) -> dict[str, Any]:
    key = record.key
    labels = {constants.LATEST_REVISION_LABEL: latest_label(latest)}
    spec: dict[str, Any] = {
        "packageName": key.package,
        "repository": key.repository,
        "workspaceName": key.workspace,
        "lifecycle": str(record.lifecycle),
    }
    spec.update(packagemeta.spec_fields(packagemeta.of_record(record)))
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


def ready_condition(record: PackageRevisionRecord) -> conditions.Condition:
    """Ready as far as Git tells: False (reason Error) when the revision cannot be read."""
    if record.problem:
        return conditions.Condition(
            constants.READY, "False", constants.REASON_ERROR, record.problem
        )
    return conditions.Condition(constants.READY, "True", constants.REASON_READY, "")


def _status_patch(
    record: PackageRevisionRecord,
    observed: ObservedObject,
    deployment: bool,
    *,
    owns_ready: bool = True,
    heal: bool = False,
) -> dict[str, Any]:
    wanted = desired_status(record, deployment)
    patch = {
        k: wanted.get(k)
        for k, seen in zip(MANAGED_STATUS, observed.managed, strict=True)
        if fingerprint(wanted.get(k)) != seen
    }
    ready = ready_condition(record)
    found = list(observed.conditions) if observed.conditions is not None else None
    if heal:  # the write that failed has succeeded since (or is no longer planned)
        found = conditions.without(found, constants.SYNCED)
        patch["conditions"] = found
    current = conditions.find(found, constants.READY)
    differs = current is None or (current.get("status"), current.get("message", "")) != (
        ready.status,
        ready.message,
    )
    # Only a sync-visible fact flips Ready; the engine owns Ready during its operations,
    # and while the spec asks for a lifecycle Git does not hold.
    # (and the resources handler while an edit is on its way to Git).
    if (
        differs
        and ((observed.settled and owns_ready) or current is None)
        and not edits.is_pending(current)
    ):
        patch["conditions"] = conditions.upsert(found, ready)
    return patch


def lifecycle_to_mirror(observed: ObservedObject, git: Lifecycle) -> Lifecycle | None:
    """The spec.lifecycle the sync should write so the object shows what Git holds, or None.

    Only for a settled object (no user change pending), and only along a move the CRD and
    the engine allow (lifecycle.move): Published never goes back to Draft, say, so an
    object whose approval was refused keeps asking for Published (the PackageRevision
    handler reports why) instead of the sync's write being refused. A move back from what
    the spec asks (Proposed → Draft, DeletionProposed → Published) follows Git only when
    the engine had carried the spec out (Ready=True): otherwise Git never held it, and the
    request stays for the PackageRevision handler to carry out or refuse.
    """
    if not observed.settled or observed.lifecycle == git:
        return None
    try:
        move = lifecycle.move(Lifecycle(observed.lifecycle), git)
    except (lifecycle.TransitionError, ValueError):
        return None
    if move in (lifecycle.Move.REJECT, lifecycle.Move.UNDO_PROPOSE_DELETE) and not observed.ready:
        return None
    return git


_SELF_LOCK = MANAGED_STATUS.index("selfLock")


def _moved_in_git(record: PackageRevisionRecord, observed: ObservedObject) -> bool:
    """The revision's commit is not the one the object last showed."""
    return fingerprint(record.self_lock) != observed.managed[_SELF_LOCK]


def _follow_kptfile(record: PackageRevisionRecord, observed: ObservedObject) -> dict[str, Any]:
    """spec.readinessGates/packageMetadata to show a Kptfile that changed in Git, within
    what the CRD allows: gates are frozen once the object is Published."""
    shown = observed.meta or packagemeta.PackageMeta()
    gates = packagemeta.gates_may_change(observed.lifecycle)
    return packagemeta.follow_patch(shown, packagemeta.of_record(record), gates=gates)


def _handler_due(observed: ObservedObject) -> bool:
    """A user's object the PackageRevision handler has not acted on yet (a new Draft
    whose creation is under way, or waits): the handler writes its whole status. A
    sync's status write meanwhile only races it, and shows the object to the handler
    once more (a second reconciliation and three more writes per new revision).
    Objects the sync itself created (Published at generation 1) are the sync's."""
    return (
        observed.observed_generation is None
        and not observed.deleting
        and not (observed.generation == 1 and observed.lifecycle in lifecycle.PUBLISHED_STATES)
    )


Quiet = dict[str, tuple[PackageRevisionRecord, ObservedObject, bool, bool, bool]]
"""Per object name, the inputs of the last plan that had nothing to change for it: the
record and observed object themselves (both immutable; a change brings new ones), and
its latest, deployment and failing flags."""

Calm = dict[str, tuple[tuple[PackageRevisionRecord, ...], tuple[ObservedObject, ...], bool]]
"""Per package, the inputs of the last plan that had nothing to change for any of its
revisions: its records and objects themselves, and the deployment flag."""


def plan(
    records: Iterable[PackageRevisionRecord],
    existing: Mapping[str, ObservedObject],
    *,
    deployment: bool = False,
    failing: AbstractSet[str] = frozenset(),
    quiet: Quiet | None = None,
    calm: Calm | None = None,
) -> MirrorPlan:
    """What to change so the objects of one Repository match ``records``.

    ``failing``: objects whose last planned write failed; the others lose the ``Synced``
    condition such a failure left on them. ``quiet`` (kept by the caller from plan to
    plan): objects whose inputs are the very ones a plan found nothing to change for are
    not planned again. (A sync after each approval otherwise re-planned every object of
    the Repository on the event loop: the lifecycle steps slowed as a Repository grew.)
    ``calm`` (kept by the caller too) does the same for whole packages: a sync after one
    approval in a Repository of 1,000 packages plans that package, and the others cost
    a comparison of their records and objects. Nothing a plan decides for one package
    depends on another's revisions.
    """
    records = list(records)
    result = MirrorPlan()
    if calm is None:
        _plan_package(records, existing.values(), existing, deployment, failing, quiet, result)
        if quiet is not None:
            for gone in quiet.keys() - {record.key.name for record in records}:
                del quiet[gone]
        return result
    groups: dict[str, list[PackageRevisionRecord]] = {}
    package_of: dict[str, str] = {}
    for record in records:
        groups.setdefault(record.key.package, []).append(record)
        package_of[record.key.name] = record.key.package
    objects: dict[str, list[ObservedObject]] = {}
    # Objects of no revision in Git (deleted in Git, or not created there yet) are
    # looked at every time: there are few, and their deletion is what a sync is for.
    orphans: list[ObservedObject] = []
    for name, observed in existing.items():
        package = package_of.get(name)
        if package is None:
            orphans.append(observed)
        else:
            objects.setdefault(package, []).append(observed)
    troubled = {package_of.get(name) for name in failing}
    packages = groups.keys() | objects.keys()
    for package in packages:
        inputs = (tuple(groups.get(package, ())), tuple(objects.get(package, ())), deployment)
        if package not in troubled and calm.get(package) == inputs:
            continue
        before = result.size
        _plan_package(inputs[0], inputs[1], existing, deployment, failing, quiet, result)
        if result.size == before and package not in troubled:
            calm[package] = inputs
        else:
            calm.pop(package, None)
    for gone in calm.keys() - packages:
        del calm[gone]
    _plan_package((), orphans, existing, deployment, failing, quiet, result)
    if quiet is not None:
        for gone in quiet.keys() - package_of.keys():
            del quiet[gone]
    return result


def _plan_package(
    records: Iterable[PackageRevisionRecord],
    observed_objects: Iterable[ObservedObject],
    existing: Mapping[str, ObservedObject],
    deployment: bool,
    failing: AbstractSet[str],
    quiet: Quiet | None,
    result: MirrorPlan,
) -> None:
    """:func:`plan` for ``records`` and the objects ``observed_objects`` (one package's,
    or all of them), into ``result``."""
    records = list(records)
    facts = [rules.RevisionFacts(r.key, r.lifecycle, r.revision, r.upstream_names) for r in records]
    latest_keys: set[PackageRevisionKey] = set(rules.latest_revisions(facts).values())
    wanted_names = set()
    for record in records:
        name = record.key.name
        wanted_names.add(name)
        latest = record.key in latest_keys
        observed = existing.get(name)
        if observed is None:
            result.create.append(Creation(record, latest, deployment))
            continue
        inputs = (record, observed, latest, deployment, name in failing)
        if quiet is not None:
            last = quiet.get(name)
            if last is not None and all(a is b for a, b in zip(last, inputs, strict=True)):
                continue
            quiet.pop(name, None)
        if observed.deleting or _handler_due(observed):
            continue  # its handler writes it first (label included at the next sync)
        metadata_patch: dict[str, Any] = {}
        wanted_label = latest_label(latest)
        if observed.latest_label != wanted_label:
            metadata_patch["metadata"] = {"labels": {constants.LATEST_REVISION_LABEL: wanted_label}}
        follows = True
        spec_patch: dict[str, Any] = {}
        if observed.lifecycle != record.lifecycle:
            # Git changed under a settled object (someone pushed or deleted a ref), or the
            # spec asks for a move the PackageRevision handler has yet to make or refused.
            mirrored = lifecycle_to_mirror(observed, record.lifecycle)
            if mirrored is not None:
                spec_patch["lifecycle"] = str(mirrored)
            else:
                follows = False
        if follows and observed.settled and _moved_in_git(record, observed):
            # A new commit (an edit, a push): the spec shows its Kptfile's gates and metadata.
            spec_patch.update(_follow_kptfile(record, observed))
        if spec_patch:
            metadata_patch["spec"] = spec_patch
        if metadata_patch:
            result.patch.append((name, metadata_patch))
        status_patch = _status_patch(
            record,
            observed,
            deployment,
            owns_ready=follows,
            heal=observed.sync_failed and name not in failing,
        )
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
        elif quiet is not None and not metadata_patch:
            quiet[name] = inputs
    for observed in observed_objects:
        name = observed.name
        if name not in wanted_names and observed.in_git and not observed.deleting:
            result.delete.append(name)
            if _needs_proposal(observed):
                result.propose_deletion.append(name)
