"""PackageRevision reconciliation: the object's spec is the request, Git the result.

Level-triggered: whenever ``metadata.generation`` is ahead of
``status.observedGeneration`` (a new object, a lifecycle change, a restart in the middle
of one), :func:`reconcile` compares the spec with what Git holds and asks the Engine for
the difference: create the draft, propose, approve, propose deletion. Every step is
idempotent in the Engine, so an operator killed at any point converges when it comes
back. Objects the Repository sync creates from Git arrive settled and are skipped.

Results land in ``status`` (conditions ``Ready``/``Rendered``, revision, locks,
publishedBy, ...) and as Events; a Draft or Proposed revision also gets a
PackageRevisionResources object with its files (:mod:`lanai.handlers.resources`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from lanai.api import conditions, constants
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import errors, lifecycle, mirror
from lanai.engine.engine import Outcome
from lanai.handlers import credentials, events, faults, fields, kube, metrics, resources, runtime
from lanai.tasks.requests import CreateRequest, Rendered, Source
from lanai.trust import urls

logger = logging.getLogger(__name__)

RESOURCE = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISIONS)
REPOSITORIES = (constants.CONFIG_GROUP, constants.CONFIG_VERSION, constants.REPOSITORIES)
RETRY_DELAY = 5.0


async def _revision_key(api: kube.Api, namespace: str, name: str) -> PackageRevisionKey:
    other = await kube.find(api, *RESOURCE[:2], namespace, RESOURCE[2], name)
    if other is None:
        raise errors.Rejected(
            f'the source PackageRevision "{name}" does not exist in namespace {namespace}'
        )
    return fields.key_of(namespace, other.get("spec") or {})


async def source_of(api: kube.Api, namespace: str, spec: Mapping[str, Any]) -> Source:
    """spec.source with every referenced PackageRevision resolved to its key."""
    source = spec.get("source") or {}
    if source.get("cloneFrom"):
        clone = source["cloneFrom"]
        ref = (clone.get("upstreamRef") or {}).get("name")
        if ref:
            return Source("clone", upstream=await _revision_key(api, namespace, ref))
        git = clone.get("git") or {}
        try:  # before any Secret is read or any connection made
            urls.git_url(str(git.get("repo") or ""), "spec.source.cloneFrom.git.repo")
        except urls.URLRefused as error:
            raise errors.Rejected(str(error)) from None
        secret = (git.get("secretRef") or {}).get("name")
        try:
            auth = await credentials.resolve(api, namespace, secret)
        except credentials.CredentialsError as error:
            raise errors.Unavailable(f"cloneFrom.git.secretRef: {error}") from None
        return Source("clone", git=git, git_auth=auth)
    if source.get("copyFrom"):
        name = source["copyFrom"].get("name", "")
        return Source("copy", upstream=await _revision_key(api, namespace, name))
    if source.get("upgrade"):
        upgrade = source["upgrade"]

        async def ref(field: str) -> PackageRevisionKey:
            return await _revision_key(api, namespace, (upgrade.get(field) or {}).get("name", ""))

        return Source(
            "upgrade",
            upstream=await ref("newUpstream"),
            old_upstream=await ref("oldUpstream"),
            current=await ref("currentPackage"),
            strategy=upgrade.get("strategy") or "resource-merge",
        )
    return Source("init", init=source.get("init") or {})


async def create_request(api: kube.Api, body: kopf.Body) -> CreateRequest:
    namespace = body.metadata.namespace or "default"
    spec = body.spec
    metadata = spec.get("packageMetadata") or {}
    annotations = body.metadata.annotations or {}
    return CreateRequest(
        key=fields.key_of(namespace, spec),
        source=await source_of(api, namespace, spec),
        lifecycle=Lifecycle(spec.get("lifecycle") or "Draft"),
        labels=dict(metadata.get("labels") or {}),
        annotations=dict(metadata.get("annotations") or {}),
        readiness_gates=fields.gates(spec),
        push_on_render_failure=fields.push_on_render_failure(annotations),
    )


def status_of(
    body: kopf.Body,
    record: PackageRevisionRecord | None,
    ready: conditions.Condition,
    *,
    deployment: bool = False,
    rendered: Rendered | None = None,
    observed: bool = True,
) -> dict[str, Any]:
    """The status to merge-patch: record facts, conditions and observedGeneration."""
    current = body.get("status") or {}
    status: dict[str, Any] = mirror.desired_status(record, deployment) if record else {}
    found = current.get("conditions")
    found = conditions.upsert(found, ready)
    if rendered is not None:
        found = conditions.upsert(found, fields.rendered_condition(rendered))
        status["renderStatus"] = fields.render_status(rendered)
    status["conditions"] = found
    if observed:
        status["observedGeneration"] = body.metadata.get("generation")
    return status


def _not_ready(reason: str, message: str) -> conditions.Condition:
    return conditions.Condition(constants.READY, "False", reason, message)


async def _patch_status(rt: runtime.Runtime, body: kopf.Body, status: dict[str, Any]) -> None:
    await kube.patch_object_status(rt.api, RESOURCE, body, status)


CREATED_SYNC_DELAY = 2.0
"""Seconds after a create before the sync that makes its Package object: a burst of
creates (a team cloning a blueprint for every site) costs one sync, not one each, and
none competes with the creates themselves for the Repository's Git worker."""


def _wake_sync(rt: runtime.Runtime, key: PackageRevisionKey, delay: float = 0.0) -> None:
    """Let the Repository sync follow a change now (latest-revision labels after a publish
    or delete, the Package object of a new package), not at its next period."""
    schedule = rt.schedules.get((key.namespace, key.repository))
    if schedule and delay:
        asyncio.get_running_loop().call_later(delay, schedule.wake.set)
    elif schedule:
        schedule.wake.set()


async def reconcile(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = runtime.of(memo)
    with metrics.reconciling("PackageRevision") as outcome:
        await _reconcile(body, rt)
        outcome["outcome"] = "ok"


async def _reconcile(body: kopf.Body, rt: runtime.Runtime) -> None:
    namespace = body.metadata.namespace or "default"
    key = fields.key_of(namespace, body.spec)
    engine = rt.engine
    # Events and the Repository sync wait until Ready is written: both would otherwise
    # sit on the path from the user's change to Ready (an API request, a Git fetch).
    notes: list[tuple[str, str]] = []
    wake: float | None = None
    """Seconds until the Repository sync should run (None: no need)."""
    try:
        target = Lifecycle(body.spec.get("lifecycle") or "Draft")
        record = await engine.get(key)
        created: Outcome | None = None
        if record is None:
            if (body.get("status") or {}).get("selfLock"):
                return  # it was in Git and vanished: the Repository sync removes the object
            request = await create_request(rt.api, body)
            created = await engine.create(request, fields.author_of(body))
            record = created.record
            notes.append(
                (
                    constants.REASON_ADDED,
                    f"created {record.lifecycle} {key.package} (workspace {key.workspace}) "
                    f"in Git ({record.ref.removeprefix('refs/heads/')})",
                )
            )
            wake = CREATED_SYNC_DELAY  # the package's Package object follows soon
        if record.lifecycle != target:
            before = record.lifecycle
            approving = target == Lifecycle.PUBLISHED and before in (
                Lifecycle.DRAFT,
                Lifecycle.PROPOSED,
            )
            record = await engine.move(
                key, target, fields.author_of(body, approving=approving), fields.gates(body.spec)
            )
            if approving:
                faults.point(faults.PUBLISHED_BEFORE_STATUS)
            reason = events.reason_for_move(lifecycle.move(before, record.lifecycle))
            notes.append((reason, _moved(record, before)))
            if target in (Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED):
                wake = 0.0  # the latest-revision label moves at once
        if record.lifecycle == Lifecycle.DRAFT:
            metadata = body.spec.get("packageMetadata") or {}
            before_commit = record.commit
            record = (
                await engine.update_metadata(
                    key,
                    dict(metadata.get("labels") or {}),
                    dict(metadata.get("annotations") or {}),
                    fields.author_of(body),
                )
                or record
            )
            if record.commit != before_commit and created is None:
                notes.append(
                    (
                        constants.REASON_MODIFIED,
                        f"wrote spec.packageMetadata into the Kptfile of {key.package} "
                        f"(workspace {key.workspace})",
                    )
                )
    except errors.EngineError as error:
        await _follow_up(rt, body, key, notes, wake)
        await _report(rt, body, error)
        if error.retry:
            raise kopf.TemporaryError(str(error), delay=RETRY_DELAY) from None
        return
    repository = rt.cache.get(namespace, key.repository)
    deployment = bool(repository and repository.deployment)
    rendered = created.rendered if created else None
    # Draft/Proposed: always an object with the files; published: kept up if one exists.
    made = record.lifecycle not in lifecycle.PUBLISHED_STATES
    await resources.show(rt, record, body, rendered, create=made, fresh=created is not None)
    ready = mirror.ready_condition(record)  # a revision Git holds may still be unreadable
    await _patch_status(
        rt, body, status_of(body, record, ready, deployment=deployment, rendered=rendered)
    )
    await _follow_up(rt, body, key, notes, wake)


async def _follow_up(
    rt: runtime.Runtime,
    body: kopf.Body,
    key: PackageRevisionKey,
    notes: list[tuple[str, str]],
    wake: float | None,
) -> None:
    """What waits for Ready: the Events of what was done, and the Repository sync."""
    for reason, message in notes:
        await rt.events.post(body, "Normal", reason, message)
    if wake is not None:
        _wake_sync(rt, key, wake)


def _moved(record: PackageRevisionRecord, before: Lifecycle) -> str:
    key = record.key
    if record.lifecycle == Lifecycle.PUBLISHED and before != Lifecycle.DELETION_PROPOSED:
        return f"published {key.package} as revision {record.revision} (by {record.published_by})"
    return f"{key.package} (workspace {key.workspace}) moved from {before} to {record.lifecycle}"


async def _report(rt: runtime.Runtime, body: kopf.Body, error: errors.EngineError) -> None:
    """One place turns an engine error into a condition and an event."""
    message = str(error)
    reason = constants.REASON_REJECTED if isinstance(error, errors.Rejected) else error.reason
    rendered = None
    if isinstance(error, errors.RenderFailed):
        rendered = Rendered({}, ok=False, message=message)
    status = status_of(
        body, None, _not_ready(reason, message), rendered=rendered, observed=not error.retry
    )
    await _patch_status(rt, body, status)
    previous = conditions.find((body.get("status") or {}).get("conditions"), constants.READY)
    if previous is None or previous.get("message") != message:
        await rt.events.post(body, "Warning", reason, message)
    logger.warning("%s: %s", body.metadata.name, message)


async def _repository_going(rt: runtime.Runtime, namespace: str, name: str) -> bool:
    """The Repository is gone or being deleted: its objects go, its Git content stays."""
    repository = await kube.find(rt.api, *REPOSITORIES[:2], namespace, REPOSITORIES[2], name)
    return repository is None or bool((repository.get("metadata") or {}).get("deletionTimestamp"))


async def delete(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Delete the revision from Git by the rules; other finalizers hold it first."""
    rt = runtime.of(memo)
    namespace = body.metadata.namespace or "default"
    key = fields.key_of(namespace, body.spec)
    others = [f for f in body.metadata.get("finalizers") or [] if f != constants.FINALIZER]
    if others:
        raise kopf.TemporaryError(
            f"waiting for finalizers {', '.join(others)} before deleting from Git",
            delay=RETRY_DELAY,
        )
    if await _repository_going(rt, namespace, key.repository):
        await resources.remove(rt, namespace, key.name)
        return
    try:
        deleted = await rt.engine.delete(key, fields.author_of(body))
    except errors.EngineError as error:
        message = f"cannot delete {key.name} from Git: {error}"
        await rt.events.post(body, "Warning", "DeletionBlocked", message)
        raise kopf.TemporaryError(message, delay=30 if not error.retry else RETRY_DELAY) from None
    await resources.remove(rt, namespace, key.name)
    if deleted:
        message = f"deleted {key.package} (workspace {key.workspace}) from Git"
        await rt.events.post(body, "Normal", constants.REASON_DELETED, message)
    elif (body.get("status") or {}).get("selfLock"):
        message = f"{key.package} (workspace {key.workspace}) is no longer in Git"
        await rt.events.post(body, "Normal", constants.REASON_DELETED, message)
    _wake_sync(rt, key)


def pending(body: kopf.Body, **kwargs: Any) -> bool:
    """:func:`fields.pending`, except for objects the Repository sync made from Git.

    Those arrive as Published (or DeletionProposed) at generation 1, which only the
    sync may create (admission policy ``approval``), and the same sync writes their
    status right after; before that status lands there is nothing for the engine to
    do. (Without this, a watch event that beat the status write ran a reconciliation
    and two API writes per object: 8,700 of 11,000 in a cold sync of 10,000 revisions.
    If the sync dies in between, its next run writes the status.)
    """
    status = body.get("status") or {}
    wanted = body.spec.get("lifecycle") or "Draft"
    if (
        status.get("observedGeneration") is None
        and body.metadata.get("generation") == 1
        and wanted in lifecycle.PUBLISHED_STATES
    ):
        return False
    return fields.pending(body, **kwargs)


def register(registry: kopf.OperatorRegistry) -> None:
    # With no diff base kept for this kind (settings.SelectiveDiffBaseStorage), kopf
    # sees every event, on startup too, as a creation; ``pending`` decides.
    kopf.on.create(*RESOURCE, registry=registry, id="reconcile", when=pending)(reconcile)
    kopf.on.delete(*RESOURCE, registry=registry, id="delete-from-git")(delete)
