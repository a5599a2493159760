"""Committing edits of a Draft's files (PackageRevisionResources ``spec.resources``).

People edit the object with merge patches, ``kubectl edit`` or ``apply``, several at
once; Lanai commits to the draft branch and renders. What makes concurrent edits
converge to the last write, with one commit at most per edit:

- The handler runs while ``metadata.generation`` is ahead of
  ``status.observedGeneration`` and acts on the object as the API server holds it now,
  not as kopf's (possibly older) event showed it.
- An edit is what the object changed since it last showed Git (annotation
  ``base-commit``; :mod:`lanai.engine.edits`). Files equal to Git's are no edit, so
  Lanai's own write-back, or a retry after a crash, commits nothing.
- A commit is attributed to the user the API server recorded for the generation it
  carries (annotation ``actor``), never to the operator.
- Git's (rendered) files are written back only while the object still holds the
  generation committed (resourceVersion precondition): a newer edit is never
  overwritten, it is the next to commit. Then the object is marked as acted on, last,
  so that a crash at any point leaves the edit pending and its handler runs again.
- Until the edit is in Git the PackageRevision says ``Ready=False``, reason ``Pending``,
  with the cause, and so does the object; both clear when the commit lands. A render
  failure is reported as ``Rendered=False`` (nothing pushed); an edit that can never be
  committed (the revision left Draft) as a ``Rejected`` event, with Git's files shown
  again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from lanai import faults
from lanai.api import conditions, constants
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import edits, errors, mirror, packagemeta
from lanai.handlers import fields, kube, metrics, packagerevision, resources, runtime
from lanai.tasks.requests import Rendered

logger = logging.getLogger(__name__)

REVISIONS = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISIONS)


async def reconcile(body: kopf.Body, memo: kopf.Memo, retry: int = 0, **_: Any) -> None:
    rt = runtime.of(memo)
    with metrics.reconciling("PackageRevisionResources") as outcome:
        try:
            await _reconcile(body, rt)
        except errors.EngineError as error:
            if not error.retry:
                raise
            # The same growing backoff as a revision's: an edit made while a restarted
            # operator's first sync runs goes in half a second later, not five.
            delay = error.delay or packagerevision.retry_delay(retry, rt.retry_cap)
            raise kopf.TemporaryError(str(error), delay=delay) from None
        outcome["outcome"] = "ok"


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


async def _reconcile(event: kopf.Body, rt: runtime.Runtime) -> None:
    namespace = event.metadata.namespace or "default"
    obj = await resources.find(rt, namespace, event.metadata.name or "")
    if obj is None or not resources.has_pending_edit(obj):
        return  # gone, or acted on already: the event showed an older state
    spec = obj.get("spec") or {}
    if not fields.names_the_revision(spec):
        # Updated without its names (the admission policy that keeps them is not
        # installed): the PackageRevision of the same name says whose files these are.
        owner = await _revision(rt, namespace, event.metadata.name or "")
        if owner is None:
            return
        spec = {**(owner.get("spec") or {}), "resources": spec.get("resources")}
    key = fields.key_of(namespace, spec)
    try:
        record = await rt.engine.get(key)
        # An unreadable revision (a name or size the rules refuse) is never read.
        readable = record is not None and not record.unreadable
        in_git = resources.textual(await rt.engine.read_files(key)) if readable else {}
    except errors.Unavailable as error:
        await _report_pending(rt, obj, str(error))
        raise
    if record is None:
        return  # not in Git (yet): the PackageRevision's reconciliation writes this object
    if record.unreadable and record.lifecycle != Lifecycle.DRAFT:
        await _unreadable(rt, obj, record)  # never read: say why (``rpkg pull`` stops on it)
        return
    if record.unreadable:  # a Draft whose files the rules refuse: never read, never edited
        await _refuse_unreadable(rt, obj, record)
        return
    if record.lifecycle != Lifecycle.DRAFT:
        # Not editable: show what Git holds (for a published revision, this is how its
        # object is made on request); an edit that raced the lifecycle change is refused.
        await _refuse_if_edited(rt, obj, record, in_git, "only a Draft's resources can change")
        await _finish(rt, obj, record, None)
        return
    submitted: Mapping[str, Any] = (obj.get("spec") or {}).get("resources") or {}
    status = obj.get("status") or {}
    omitted = set(status.get("omittedFiles") or ())
    if submitted == {path: text for path, text in in_git.items() if path not in omitted}:
        await _finish(rt, obj, record, None)  # no edit: Lanai's own write, or a retry
        return
    owner = await _revision(rt, key.namespace, key.name)
    await _revision_status(rt, key, ready=edits.pending_condition(), keep_cause=True)
    faults.point(faults.EDIT_PENDING, key.name)
    annotations = _metadata(obj).get("annotations") or {}
    try:
        result = await rt.engine.commit_edit(
            key,
            {path: str(text).encode() for path, text in submitted.items()},
            fields.author_of(obj),
            base=annotations.get(constants.BASE_COMMIT_ANNOTATION),
            omitted=tuple(omitted),
            push_on_render_failure=fields.push_on_render_failure(
                _metadata(owner or {}).get("annotations"), annotations
            ),
        )
    except errors.RenderFailed as error:
        await _render_failed(rt, obj, record, str(error))
        return
    except errors.EngineError as error:
        if error.retry:
            await _report_pending(rt, obj, str(error))
            raise
        # Refused for good (the revision left Draft meanwhile): show Git's files again.
        now = await rt.engine.get(key) or record
        await _refuse_if_edited(rt, obj, now, in_git, str(error))
        await _finish(rt, obj, now, None)
        return
    if result.committed:
        faults.point(faults.EDIT_COMMITTED, key.name)
    await _finish(rt, obj, result.record, result.rendered, owner, committed=result.committed)


async def _unreadable(
    rt: runtime.Runtime, obj: Mapping[str, Any], record: PackageRevisionRecord
) -> None:
    """The object of a revision whose files are never read says why (Ready=False)."""
    ready = mirror.ready_condition(record)

    def status_for(current: Mapping[str, Any]) -> dict[str, Any] | None:
        found = (current.get("status") or {}).get("conditions")
        return {
            "lifecycle": str(record.lifecycle),
            "conditions": conditions.upsert(found, ready),
            "observedGeneration": _metadata(current).get("generation"),
        }

    await resources.patch_status_while(rt, obj, status_for)


async def _refuse_unreadable(
    rt: runtime.Runtime, obj: Mapping[str, Any], record: PackageRevisionRecord
) -> None:
    """An edit of a Draft Git holds with files the rules refuse: Git stays as it is; the
    object says why (Ready=False, Rejected), with one Event on it and its revision."""
    message = f"{record.key.name} cannot be edited: {record.unreadable}"
    generation = _metadata(obj).get("generation")
    refused = conditions.Condition(
        constants.READY,
        "False",
        constants.REASON_REJECTED,
        message,
        resources.generation_of(generation),
    )

    def status_for(current: Mapping[str, Any]) -> dict[str, Any] | None:
        if not _still_pending_at(current, generation):
            return None
        found = (current.get("status") or {}).get("conditions")
        return {"conditions": conditions.upsert(found, refused), "observedGeneration": generation}

    if await resources.patch_status_while(rt, obj, status_for) is None:
        return
    await rt.events.post(obj, "Warning", constants.REASON_REJECTED, message)
    owner = await _revision(rt, record.key.namespace, record.key.name)
    if owner is not None:
        refusal = f"an edit of its resources was refused, Git is unchanged: {message}"
        await rt.events.post(owner, "Warning", constants.REASON_REJECTED, refusal)
    logger.warning("%s", message)


@dataclass(frozen=True)
class _Shown:
    """The object after Git's files were written into it."""

    obj: Mapping[str, Any]
    shown: resources.Shown | None
    """None when a newer edit arrived first: its files were left alone."""


async def _show(
    rt: runtime.Runtime,
    obj: Mapping[str, Any],
    record: PackageRevisionRecord,
    owner: Mapping[str, Any] | None,
) -> _Shown | None:
    """Write Git's files into the object, only while it holds the generation acted on
    (None: the object is gone)."""
    key = record.key
    generation = _metadata(obj).get("generation")
    files = resources.textual(await rt.engine.read_files(key))
    current: Mapping[str, Any] | None = obj
    for _attempt in range(resources.ATTEMPTS):
        if current is None:
            return None
        if _metadata(current).get("generation") != generation:
            return _Shown(current, None)
        try:
            written, shown = await resources.write(rt, record, owner, current, files)
        except resources.Moved:
            current = await resources.find(rt, key.namespace, key.name)
            continue
        return _Shown(written, shown)
    raise errors.Unavailable(f"{key.name}: the resources object kept changing while written")


async def _finish(
    rt: runtime.Runtime,
    obj: Mapping[str, Any],
    record: PackageRevisionRecord,
    rendered: Rendered | None,
    owner: Mapping[str, Any] | None = None,
    *,
    committed: bool = False,
) -> None:
    """The edit in ``obj`` is committed (or was no edit, or is refused): the object shows
    Git's files, the PackageRevision its new state, and last the object is marked as
    acted on, so that a crash anywhere before leaves the edit pending for a rerun."""
    key = record.key
    if owner is None and (committed or not _metadata(obj).get("ownerReferences")):
        owner = await _revision(rt, key.namespace, key.name)
    outcome = await _show(rt, obj, record, owner)
    if outcome is None:
        return
    if committed:
        faults.point(faults.EDIT_SHOWN, key.name)
    shown = outcome.shown
    ready = mirror.ready_condition(record) if shown else edits.pending_condition()
    if committed and owner is not None:
        # The spec before the status that names the new commit: such a status says the
        # spec shows that commit's Kptfile (packagemeta.spec_is_whole).
        await _follow_kptfile_metadata(rt, owner, record)
    # Nothing committed or rendered: the revision's own reconciliation, if one is under
    # way (a new Draft), writes its status; else this clears what a crash left.
    await _revision_status(
        rt,
        key,
        record=record,
        rendered=rendered,
        ready=ready,
        only_if_settled=not committed and rendered is None,
    )
    if committed:
        faults.point(faults.EDIT_REVISION_READY, key.name)
    if shown is not None:
        generation = _metadata(outcome.obj).get("generation")

        def status_for(current: Mapping[str, Any]) -> dict[str, Any] | None:
            if not _still_pending_at(current, generation):
                return None
            status = current.get("status") or {}
            return resources.status_of(record, shown, generation, status, rendered)

        marked = await resources.patch_status_while(rt, outcome.obj, status_for)
        before = (outcome.obj.get("status") or {}).get("omittedFiles")
        if marked and shown.omitted and before != list(shown.omitted):
            await rt.events.post(obj, "Warning", "ResourcesTooLarge", resources.too_large(shown))
    if committed and owner is not None:
        message = (
            f"committed an edit of {key.package} (workspace {key.workspace}) by "
            f"{fields.author_of(obj).name} to {record.ref.removeprefix('refs/heads/')} "
            f"({record.commit[:12]})"
        )
        await rt.events.post(owner, "Normal", constants.REASON_MODIFIED, message)
    if rendered is not None and not rendered.ok:
        await rt.events.post(obj, "Warning", constants.REASON_RENDER_FAILED, rendered.message)


def _still_pending_at(current: Mapping[str, Any], generation: Any) -> bool:
    """``current`` still holds ``generation`` and nobody marked it acted on meanwhile."""
    observed = (current.get("status") or {}).get("observedGeneration")
    return bool(_metadata(current).get("generation") == generation and observed != generation)


async def _render_failed(
    rt: runtime.Runtime, obj: Mapping[str, Any], record: PackageRevisionRecord, message: str
) -> None:
    """Nothing was pushed: the object keeps the edit and says why it is not in Git."""
    failed = Rendered({}, ok=False, message=message)
    await _revision_status(rt, record.key, rendered=failed, ready=mirror.ready_condition(record))
    generation = _metadata(obj).get("generation")
    not_committed = conditions.Condition(
        constants.READY,
        "False",
        constants.REASON_RENDER_FAILED,
        f"the edit is not committed: {message}"[:1024],
        resources.generation_of(generation),
    )

    def status_for(current: Mapping[str, Any]) -> dict[str, Any] | None:
        if not _still_pending_at(current, generation):
            return None
        found = (current.get("status") or {}).get("conditions")
        found = conditions.upsert(found, fields.rendered_condition(failed))
        return {
            "renderStatus": fields.render_status(failed),
            "conditions": conditions.upsert(found, not_committed),
            "observedGeneration": generation,
        }

    if await resources.patch_status_while(rt, obj, status_for):
        await rt.events.post(obj, "Warning", constants.REASON_RENDER_FAILED, message)


async def _report_pending(rt: runtime.Runtime, obj: Mapping[str, Any], cause: str) -> None:
    """The edit could not be committed yet (Git unreachable, the Repository not synced):
    both objects say so, with the cause, until a retry lands it."""
    namespace = _metadata(obj).get("namespace") or "default"
    key = fields.key_of(namespace, obj.get("spec") or {})
    pending = edits.pending_condition(cause)
    previous = conditions.find((obj.get("status") or {}).get("conditions"), constants.READY)

    def status_for(current: Mapping[str, Any]) -> dict[str, Any] | None:
        if not resources.has_pending_edit(current):
            return None  # committed meanwhile
        found = (current.get("status") or {}).get("conditions")
        generation = resources.generation_of(_metadata(current).get("generation"))
        here = conditions.Condition(
            pending.type, pending.status, pending.reason, pending.message, generation
        )
        return {"conditions": conditions.upsert(found, here)}

    await resources.patch_status_while(rt, obj, status_for)
    await _revision_status(rt, key, ready=pending)
    if previous is None or previous.get("message") != pending.message:
        await rt.events.post(obj, "Warning", constants.REASON_PENDING, pending.message)
        logger.warning("%s: %s", key.name, pending.message)


async def _refuse_if_edited(
    rt: runtime.Runtime,
    obj: Mapping[str, Any],
    record: PackageRevisionRecord,
    in_git: Mapping[str, str],
    why: str,
) -> None:
    """An edit that can never be committed is refused, said once as an Event on both."""
    submitted = (obj.get("spec") or {}).get("resources") or {}
    omitted = set((obj.get("status") or {}).get("omittedFiles") or ())
    if not submitted or submitted == {p: t for p, t in in_git.items() if p not in omitted}:
        return
    message = (
        f"the edit of {record.key.name} was not committed ({why}); "
        f"the object shows the {record.lifecycle} revision's files again"
    )
    await rt.events.post(obj, "Warning", constants.REASON_REJECTED, message)
    owner = await _revision(rt, record.key.namespace, record.key.name)
    if owner is not None:
        await rt.events.post(owner, "Warning", constants.REASON_REJECTED, message)
    logger.warning("%s: %s", record.key.name, message)


async def _revision(rt: runtime.Runtime, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.find(rt.api, *REVISIONS[:2], namespace, REVISIONS[2], name)


def _owns_ready(revision: Mapping[str, Any]) -> bool:
    """An edit may set the PackageRevision's Ready only while the revision itself is
    settled and its Ready says nothing else (a refusal, a lifecycle move under way)."""
    if resources.has_pending_edit(revision):
        return False
    current = conditions.find((revision.get("status") or {}).get("conditions"), constants.READY)
    return (
        current is None
        or current.get("status") == "True"
        or current.get("reason") == constants.REASON_ERROR
        or edits.is_pending(current)
    )


async def _revision_status(
    rt: runtime.Runtime,
    key: PackageRevisionKey,
    *,
    record: PackageRevisionRecord | None = None,
    rendered: Rendered | None = None,
    ready: conditions.Condition | None = None,
    keep_cause: bool = False,
    only_if_settled: bool = False,
) -> None:
    """Carry an edit's state to the PackageRevision: new lock, Rendered, Ready
    (``keep_cause``: a Pending Ready that names a cause already stays as it is;
    ``only_if_settled``: nothing while the revision's own reconciliation is due).

    Conditional on the revision's resourceVersion (its conditions are one list, written
    whole by several handlers), redone when it changed meanwhile."""
    namespace, name = key.namespace, key.name
    for _attempt in range(resources.ATTEMPTS):
        revision = await _revision(rt, namespace, name)
        if revision is None or (only_if_settled and resources.has_pending_edit(revision)):
            return
        current = revision.get("status") or {}
        status: dict[str, Any] = {}
        if record is not None:
            wanted = mirror.desired_status(record, bool(current.get("deployment")))
            status.update({k: v for k, v in wanted.items() if current.get(k) != v})
        found = current.get("conditions")
        if rendered is not None:
            status["renderStatus"] = fields.render_status(rendered)
            found = conditions.upsert(found, fields.rendered_condition(rendered))
        kept = keep_cause and edits.is_pending(conditions.find(found, constants.READY))
        if ready is not None and _owns_ready(revision) and not kept:
            found = conditions.upsert(found, ready)
        if found != current.get("conditions"):
            status["conditions"] = found
        if not status:
            return
        metadata = _metadata(revision)
        patch = {"metadata": {"resourceVersion": metadata.get("resourceVersion")}, "status": status}
        try:
            await kube.merge_patch(
                rt.api, *REVISIONS[:2], namespace, REVISIONS[2], name, patch, "status", decode=False
            )
        except kube.ApiError as error:
            if error.status == 404:
                return
            if error.status != 409:
                raise
            continue
        return
    raise errors.Unavailable(f"{name}: the PackageRevision kept changing while written")


async def _follow_kptfile_metadata(
    rt: runtime.Runtime, revision: Mapping[str, Any], record: PackageRevisionRecord
) -> None:
    """Kptfile gates, labels and annotations edited through the resources show in
    spec.readinessGates and spec.packageMetadata (:mod:`lanai.engine.packagemeta`)."""
    spec = revision.get("spec") or {}
    gates = packagemeta.gates_may_change(str(spec.get("lifecycle") or "Draft"))
    patch = packagemeta.follow_patch(
        packagemeta.of_spec(spec), packagemeta.of_record(record), gates=gates
    )
    if not patch:
        return
    metadata = _metadata(revision)
    await kube.merge_patch(
        rt.api,
        *REVISIONS[:2],
        metadata.get("namespace") or "default",
        REVISIONS[2],
        metadata.get("name") or "",
        {"spec": patch},
    )


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.on.create(*resources.RESOURCE, registry=registry, id="commit-edits", when=fields.pending)(
        reconcile
    )
