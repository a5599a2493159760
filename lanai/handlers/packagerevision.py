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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import kopf

from lanai import faults
from lanai.api import conditions, constants
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import errors, lifecycle, mirror, packagemeta
from lanai.engine.engine import Outcome
from lanai.handlers import (
    credentials,
    events,
    fields,
    kube,
    metrics,
    mirroring,
    resources,
    runtime,
    settings,
    variantindex,
)
from lanai.tasks.requests import CreateRequest, Rendered, Source
from lanai.trust import urls

logger = logging.getLogger(__name__)

RESOURCE = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISIONS)
REPOSITORIES = (constants.CONFIG_GROUP, constants.CONFIG_VERSION, constants.REPOSITORIES)
RETRY_DELAY = 5.0


async def _revision_key(
    api: kube.Api, namespace: str, name: str, index: Any = None
) -> PackageRevisionKey:
    """The key of the PackageRevision ``name``: from the operator's index of revisions
    (no request on the way to a copy's or clone's Ready), else read from the API."""
    for known in variantindex.lookup(index, ("name", namespace, name)):
        if not known.deleting:
            return PackageRevisionKey(namespace, known.repository, known.package, known.workspace)
    other = await kube.find(api, *RESOURCE[:2], namespace, RESOURCE[2], name)
    if other is None:
        # It may be on its way (applied together with this one, as Argo CD does).
        raise errors.Waiting(
            f'the source PackageRevision "{name}" does not exist in namespace {namespace}; '
            "waiting until it is created"
        )
    return fields.key_of(namespace, other.get("spec") or {})


async def source_of(
    api: kube.Api,
    namespace: str,
    spec: Mapping[str, Any],
    behalf: credentials.OnBehalfOf,
    index: Any = None,
) -> Source:
    """spec.source with every referenced PackageRevision resolved to its key, and the
    Secret of a Git URL read on behalf of whoever wrote the source."""
    source = spec.get("source") or {}
    if source.get("cloneFrom"):
        clone = source["cloneFrom"]
        ref = (clone.get("upstreamRef") or {}).get("name")
        if ref:
            return Source("clone", upstream=await _revision_key(api, namespace, ref, index))
        git = clone.get("git") or {}
        try:  # before any Secret is read or any connection made
            urls.git_url(str(git.get("repo") or ""), "spec.source.cloneFrom.git.repo")
        except urls.URLRefused as error:
            raise errors.Rejected(str(error)) from None
        secret = (git.get("secretRef") or {}).get("name")
        try:
            auth = await credentials.resolve(api, namespace, secret, behalf=behalf)
        except credentials.SecretForbidden as error:
            raise errors.Forbidden(str(error)) from None
        except credentials.CredentialsError as error:
            raise errors.Unavailable(f"cloneFrom.git.secretRef: {error}") from None
        return Source("clone", git=git, git_auth=auth)
    if source.get("copyFrom"):
        name = source["copyFrom"].get("name", "")
        return Source("copy", upstream=await _revision_key(api, namespace, name, index))
    if source.get("upgrade"):
        upgrade = source["upgrade"]

        async def ref(field: str) -> PackageRevisionKey:
            name = (upgrade.get(field) or {}).get("name", "")
            return await _revision_key(api, namespace, name, index)

        return Source(
            "upgrade",
            upstream=await ref("newUpstream"),
            old_upstream=await ref("oldUpstream"),
            current=await ref("currentPackage"),
            strategy=upgrade.get("strategy") or "resource-merge",
        )
    return Source("init", init=source.get("init") or {})


SOURCE_SECRET_FIELD = "spec.source.cloneFrom.git.secretRef"  # noqa: S105 (a field name)


async def create_request(rt: runtime.Runtime, body: kopf.Body, index: Any = None) -> CreateRequest:
    namespace = body.metadata.namespace or "default"
    spec = body.spec
    metadata = spec.get("packageMetadata") or {}
    annotations = body.metadata.annotations or {}
    behalf = credentials.OnBehalfOf.of(rt.secret_access, annotations, SOURCE_SECRET_FIELD)
    return CreateRequest(
        key=fields.key_of(namespace, spec),
        source=await source_of(rt.api, namespace, spec, behalf, index),
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
    if schedule:
        schedule.dirty.add(key.package)
    if schedule and delay:
        asyncio.get_running_loop().call_later(delay, schedule.wake.set)
    elif schedule:
        schedule.wake.set()


async def reconcile(body: kopf.Body, memo: kopf.Memo, retry: int = 0, **kwargs: Any) -> None:
    rt = runtime.of(memo)
    with metrics.reconciling("PackageRevision") as outcome:
        await _reconcile(body, rt, retry, kwargs.get(variantindex.REVISIONS))
        outcome["outcome"] = "ok"


FIRST_RETRY = 0.5
"""Seconds before the first retry of a request that waits or cannot reach Git: most
waits (a source's approval in flight, a conflicting write) are over within one."""


def retry_delay(retry: int, cap: float) -> float:
    """Exponential backoff: FIRST_RETRY, doubling with each retry, at most ``cap``."""
    return min(cap, FIRST_RETRY * (1 << min(max(retry, 0), 16)))


async def _reconcile(
    body: kopf.Body, rt: runtime.Runtime, retry: int = 0, index: Any = None
) -> None:
    uid = str(body.metadata.uid or "")
    if rt.followed.already_observed(uid, body.metadata.get("generation")):
        return  # the event of Lanai's own spec patch, already acted on and observed
    namespace = body.metadata.namespace or "default"
    key = fields.key_of(namespace, body.spec)
    engine = rt.engine
    # Events and the Repository sync wait until Ready is written: both would otherwise
    # sit on the path from the user's change to Ready (an API request, a Git fetch).
    notes: list[tuple[str, str]] = []
    warnings: list[str] = []
    wake: float | None = None
    """Seconds until the Repository sync should run (None: no need)."""
    slow = SlowNote(rt, body)
    try:
        target = Lifecycle(body.spec.get("lifecycle") or "Draft")
        record = await engine.get(key)
        created: Outcome | None = None
        if record is None:
            if (body.get("status") or {}).get("selfLock"):
                return  # it was in Git and vanished: the Repository sync removes the object
            request = await create_request(rt, body, index)
            created = await engine.create(request, fields.author_of(body))
            if created.committed:
                faults.point(faults.CREATE_PUSHED, key.name)
            record = created.record
            notes.append(
                (
                    constants.REASON_ADDED,
                    f"created {record.lifecycle} {key.package} (workspace {key.workspace}) "
                    f"in Git ({record.ref.removeprefix('refs/heads/')})",
                )
            )
            wake = CREATED_SYNC_DELAY  # the package's Package object follows soon
            warnings.extend(created.warnings)
        # The spec's gates and metadata go into a Draft's Kptfile before it moves on, so
        # that what is proposed or published carries them.
        unmoved = record.commit
        record = await _write_metadata(rt, body, record, notes, quiet=created is not None)
        files_kept = False
        if record.lifecycle != target:
            # A move keeps the files, which the files object shows already unless this
            # reconciliation committed something else. (A retried create or move finds
            # nothing to move: its files object is brought level before Ready.)
            files_kept = created is None and record.commit == unmoved
            before = record.lifecycle
            approving = target == Lifecycle.PUBLISHED and before in (
                Lifecycle.DRAFT,
                Lifecycle.PROPOSED,
            )
            record = await engine.move(
                key, target, fields.author_of(body, approving=approving), fields.gates(body.spec)
            )
            if approving:
                faults.point(faults.PUBLISHED_BEFORE_STATUS, key.name)
            elif record.lifecycle == Lifecycle.PROPOSED and before == Lifecycle.DRAFT:
                faults.point(faults.PROPOSED_BEFORE_STATUS, key.name)
            reason = events.reason_for_move(lifecycle.move(before, record.lifecycle))
            notes.append((reason, _moved(record, before)))
            if target in (Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED):
                wake = 0.0  # the latest-revision label moves at once
            if record.lifecycle == Lifecycle.DRAFT:  # rejected: a Draft again
                moved = record.commit
                record = await _write_metadata(rt, body, record, notes)
                files_kept = files_kept and record.commit == moved
        generation = await _follow_kptfile(rt, body, record, created is not None)
    except (errors.EngineError, kube.ApiError) as error:
        await slow.stop()
        await _follow_up(rt, body, key, notes, wake)
        failure = error if isinstance(error, errors.EngineError) else _api_failure(error)
        await _report(rt, body, failure)
        if failure.retry:
            delay = failure.delay or retry_delay(retry, rt.retry_cap)
            raise kopf.TemporaryError(str(failure), delay=delay) from None
        return
    finally:
        await slow.stop()  # before any status is written: it never lands after one
    repository = rt.cache.get(namespace, key.repository)
    deployment = bool(repository and repository.deployment)
    rendered = created.rendered if created else None
    # Draft/Proposed: always an object with the files; published: kept up if one exists.
    made = record.lifecycle not in lifecycle.PUBLISHED_STATES
    # A revision Git holds may still be unreadable.
    ready = _ready(mirror.ready_condition(record), generation)
    try:
        status = status_of(body, record, ready, deployment=deployment, rendered=rendered)
        status["observedGeneration"] = generation
        if created is None and not (body.get("status") or {}).get("conditions"):
            # Nothing was created now, yet the event shows no conditions: it was sent before
            # an earlier reconciliation's status (one that made this generation itself, by
            # following the Kptfile). Conditions are one list, written whole: build on the
            # object as it is, not on the event, or that status's Rendered is lost.
            found = await kube.find(
                rt.api, *RESOURCE[:2], namespace, RESOURCE[2], body.metadata.name or ""
            )
            shown = (found or {}).get("status") or {}
            if not notes and shown.get("observedGeneration") == generation:
                return  # that reconciliation carried this generation out already
            status["conditions"] = conditions.upsert(shown.get("conditions"), ready)

        async def write_status() -> None:
            if created is not None and created.committed:
                faults.point(faults.CREATE_SHOWN, key.name)  # files shown, Ready not yet
            await _patch_status(rt, body, status)
            if isinstance(generation, int) and generation != body.metadata.get("generation"):
                rt.followed.remember(str(body.metadata.uid or ""), generation)

        pushed = None
        if created and created.committed and rendered and created.record.commit == record.commit:
            pushed = rendered.files  # what Git holds now: no need to read it back
        if files_kept:
            # A move that keeps the files (propose, approve, ...): the files object shows
            # them already, so Ready need not wait for its update (the revision number,
            # the commit the files are from).
            await _together(
                write_status(),
                resources.show(rt, record, body, rendered, create=made),
                undo=lambda: _patch_status(rt, body, {"observedGeneration": None}),
            )
        else:
            # Ready is written once the files object exists, beside that object's status.
            await resources.show(
                rt,
                record,
                body,
                rendered,
                create=made,
                fresh=created is not None,
                pushed=pushed,
                alongside=write_status,
            )
    except kube.ApiError as error:
        # Git holds the change; the API server refused to show it (a conflict, or 503
        # while a restarted API server loads the CRDs again). Everything above is
        # idempotent: the whole reconciliation runs again, with backoff, no traceback.
        failure = _api_failure(error)
        raise kopf.TemporaryError(str(failure), delay=retry_delay(retry, rt.retry_cap)) from None
    await _follow_up(rt, body, key, notes, wake)
    for warning in warnings:
        await rt.events.post(body, "Warning", constants.REASON_SKIPPED, warning)
    await _report_problem(rt, body, ready)


async def _together(
    status: Awaitable[None], files: Awaitable[Any], undo: Callable[[], Awaitable[None]]
) -> None:
    """The status write and the files object's update at the same time; both finish
    before an error is raised. If only the files object failed, ``undo`` takes back the
    status's observedGeneration: kopf retries only a spec not yet observed, and the
    retry brings the files object level before Ready."""
    outcomes = list(await asyncio.gather(status, files, return_exceptions=True))
    wrote, shown = outcomes
    if isinstance(shown, BaseException) and not isinstance(wrote, BaseException):
        try:
            await undo()
        except kube.ApiError as error:
            logger.warning("could not take back observedGeneration after %s: %s", shown, error)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


SLOW_AFTER = 1.0
"""Seconds a create or lifecycle move may take before Ready says it is not done yet."""


class SlowNote:
    """Ready=False, reason Pending, while a change takes longer than SLOW_AFTER.

    Most changes reach Git within milliseconds and write their outcome straight away; a
    Git server that hangs holds one for up to the Git timeout, and meanwhile the Ready of
    the previous spec (True, say) would still show. So after SLOW_AFTER seconds this
    writes that the change is not in Git yet. It never replaces the first cause a retry
    keeps, and :meth:`stop` (before any other status write) makes sure it lands first
    if at all.
    """

    def __init__(self, rt: runtime.Runtime, body: kopf.Body, after: float = SLOW_AFTER) -> None:
        self._rt = rt
        self._body = body
        self._writing = False
        generation = body.metadata.get("generation")
        current = conditions.find((body.get("status") or {}).get("conditions"), constants.READY)
        self._task: asyncio.Task[None] | None = None
        if not reporting_first_cause(current, generation, True):
            self._task = asyncio.create_task(self._note(after, generation))

    async def _note(self, after: float, generation: int | None) -> None:
        await asyncio.sleep(after)
        self._writing = True
        message = (
            f"not in Git yet: Lanai has been carrying out this change for {after:g} s "
            "(the Git server may be slow or unreachable)"
        )
        ready = conditions.Condition(
            constants.READY, "False", constants.REASON_PENDING, message, generation
        )
        found = (self._body.get("status") or {}).get("conditions")
        await _patch_status(self._rt, self._body, {"conditions": conditions.upsert(found, ready)})

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if not self._writing:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # we ourselves are being cancelled
        except Exception as error:  # best effort: the outcome is written anyway
            logger.info("%s: could not note a slow change: %s", self._body.metadata.name, error)


def _ready(ready: conditions.Condition, generation: int | None) -> conditions.Condition:
    """Ready for the spec of ``generation``: a reader can tell it is not a stale one."""
    return conditions.Condition(ready.type, ready.status, ready.reason, ready.message, generation)


def _api_failure(error: kube.ApiError) -> errors.EngineError:
    """An API write that failed (a conflict with another writer, an API server busy or
    restarting): nothing is lost, the whole reconciliation is retried."""
    what = "conflict" if error.status == 409 else f"HTTP {error.status}"
    return errors.Unavailable(
        f"the API server refused a write ({what}: {error.message or error.reason}); retrying"
    )


async def _write_metadata(
    rt: runtime.Runtime,
    body: kopf.Body,
    record: PackageRevisionRecord,
    notes: list[tuple[str, str]],
    *,
    quiet: bool = False,
) -> PackageRevisionRecord:
    """A Draft's Kptfile takes the spec's gates, labels and annotations (a commit only
    when they differ). ``quiet``: no Event (just created: the Added one says it)."""
    if record.lifecycle != Lifecycle.DRAFT:
        return record
    requested = packagemeta.of_spec(body.spec)
    whole = packagemeta.spec_is_whole(body.get("status") or {}, record)
    key = record.key
    before = record.commit
    written = await rt.engine.update_metadata(key, requested, fields.author_of(body), whole=whole)
    record = written or record
    if record.commit != before and not quiet:
        notes.append(
            (
                constants.REASON_MODIFIED,
                f"wrote spec.readinessGates and spec.packageMetadata into the Kptfile of "
                f"{key.package} (workspace {key.workspace})",
            )
        )
    return record


async def _follow_kptfile(
    rt: runtime.Runtime, body: kopf.Body, record: PackageRevisionRecord, created: bool
) -> int | None:
    """The spec shows the Kptfile's gates, labels and annotations (a Draft's, or what a
    new revision got from its source); the generation Lanai has now acted on.

    The patch holds only if the spec is still the one read (a ``test`` of its
    generation), so a user's concurrent change is never overwritten; otherwise it is
    retried. Its new generation is Lanai's own, so it is observed at once.
    """
    generation: int | None = body.metadata.get("generation")
    if record.lifecycle != Lifecycle.DRAFT and not created:
        return generation  # only a Draft's Kptfile moves; a published spec is the user's
    gates = packagemeta.gates_may_change(str(body.spec.get("lifecycle") or "Draft"))
    operations = packagemeta.follow_operations(
        body.spec, packagemeta.of_record(record), gates=gates
    )
    if not operations or generation is None:
        return generation
    try:
        written = await kube.json_patch(
            rt.api,
            *RESOURCE[:2],
            body.metadata.namespace or "default",
            RESOURCE[2],
            body.metadata.name or "",
            [{"op": "test", "path": "/metadata/generation", "value": generation}, *operations],
        )
    except kube.ApiError as error:
        if error.status not in (409, 422):
            raise
        # A failed test is a 422 with no more detail: the spec changed since it was read.
        raise errors.Unavailable(
            "the spec changed while Lanai made it show the Kptfile's gates and metadata "
            f"(HTTP {error.status}); retrying"
        ) from None
    found = (written.get("metadata") or {}).get("generation")
    return found if isinstance(found, int) else generation


async def _report_problem(
    rt: runtime.Runtime, body: kopf.Body, ready: conditions.Condition
) -> None:
    """An Event when a revision Git holds is not Ready (e.g. a file name the rules refuse),
    once per message."""
    if ready.status == "True":
        return
    previous = conditions.find((body.get("status") or {}).get("conditions"), constants.READY)
    if previous is None or previous.get("message") != ready.message:
        await rt.events.post(body, "Warning", ready.reason, ready.message)


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


RETRIED_REASONS = frozenset({constants.REASON_PENDING, errors.Forbidden.reason})
"""Ready reasons of a request Lanai is still retrying."""


def reporting_first_cause(
    current: Mapping[str, Any] | None, generation: int | None, retry: bool
) -> bool:
    """Whether the Ready condition ``current`` already reports why this spec (of
    ``generation``) is not carried out yet, so a retry's failure changes nothing.

    A retried request keeps the first cause's message (the original error) and posts
    no more Events; a final outcome, or a new spec, is always written.
    """
    return bool(
        retry
        and current is not None
        and current.get("status") == "False"
        and current.get("reason") in RETRIED_REASONS
        and generation is not None
        and current.get("observedGeneration") == generation
    )


async def _report(rt: runtime.Runtime, body: kopf.Body, error: errors.EngineError) -> None:
    """One place turns an engine error into a condition and an event."""
    message = str(error)
    reason = constants.REASON_REJECTED if isinstance(error, errors.Rejected) else error.reason
    generation = body.metadata.get("generation")
    previous = conditions.find((body.get("status") or {}).get("conditions"), constants.READY)
    if reporting_first_cause(previous, generation, error.retry):
        logger.info("%s: still waiting (%s)", body.metadata.name, message)
        return
    rendered = None
    if isinstance(error, errors.RenderFailed):
        rendered = Rendered({}, ok=False, message=message)
    ready = conditions.Condition(constants.READY, "False", reason, message, generation)
    status = status_of(body, None, ready, rendered=rendered, observed=not error.retry)
    await _patch_status(rt, body, status)
    if previous is None or previous.get("message") != message:
        await rt.events.post(body, "Warning" if error.warning else "Normal", reason, message)
    log = logger.warning if error.warning else logger.info
    log("%s: %s", body.metadata.name, message)


async def _repository_going(rt: runtime.Runtime, namespace: str, name: str) -> bool:
    """The Repository is gone or being deleted: its objects go, its Git content stays."""
    repository = await kube.find(rt.api, *REPOSITORIES[:2], namespace, REPOSITORIES[2], name)
    return repository is None or bool((repository.get("metadata") or {}).get("deletionTimestamp"))


BLOCKED_RETRY = 300.0
"""Seconds before a held or blocked deletion is tried again if nothing happens. Anything
that may let it through tries it at once: a change to the object (a finalizer removed, its
deletion proposed), the deletion of another revision of its Repository, an operator
restart (settings.WakingProgressStorage)."""
PENDING_RETRY_CAP = 60.0


async def delete(body: kopf.Body, memo: kopf.Memo, retry: int = 0, **kwargs: Any) -> None:
    """Delete the revision from Git by the rules; other finalizers hold it first.

    Never silent: while the deletion cannot finish, Ready=False says why and what to do
    (reason DeletionHeld, DeletionBlocked or Pending), with one Event per new cause.
    """
    rt = runtime.of(memo)
    namespace = body.metadata.namespace or "default"
    key = fields.key_of(namespace, body.spec)
    others = [f for f in body.metadata.get("finalizers") or [] if f != constants.FINALIZER]
    if others:
        message = (
            f"waiting for finalizers {', '.join(others)} to be removed before deleting "
            f"{key.name} from Git; whoever added them removes them, and the deletion then "
            "finishes at once"
        )
        await _hold(rt, body, constants.REASON_DELETION_HELD, message)
        raise kopf.TemporaryError(message, delay=BLOCKED_RETRY)
    removal = (body.metadata.annotations or {}).get(constants.REMOVAL_ANNOTATION)
    if removal or await _repository_going(rt, namespace, key.repository):
        # The operator removes the object (its revision left Git, or its Repository is
        # being deleted): Git is not touched.
        await resources.remove(rt, namespace, key.name)
        if removal == mirror.VANISHED:
            message = f"{key.package} (workspace {key.workspace}) is no longer in Git"
            await rt.events.post(body, "Normal", constants.REASON_DELETED, message)
        return
    try:
        deleted = await _delete_from_git(rt, body, key)
    except errors.EngineError as error:
        if error.retry:
            message = f"deleting {key.name} from Git: {error}; retrying"
            await _hold(rt, body, constants.REASON_PENDING, message)
            delay = min(RETRY_DELAY * 2**retry, PENDING_RETRY_CAP)
            raise kopf.TemporaryError(message, delay=delay) from None
        message = (
            f"cannot delete {key.name} from Git: {error}. It stays marked for deletion and "
            "is deleted as soon as that is done"
        )
        await _hold(rt, body, constants.REASON_DELETION_BLOCKED, message)
        raise kopf.TemporaryError(message, delay=BLOCKED_RETRY) from None
    await resources.remove(rt, namespace, key.name)
    if deleted:
        message = f"deleted {key.package} (workspace {key.workspace}) from Git"
        await rt.events.post(body, "Normal", constants.REASON_DELETED, message)
    elif (body.get("status") or {}).get("selfLock"):
        message = f"{key.package} (workspace {key.workspace}) is no longer in Git"
        await rt.events.post(body, "Normal", constants.REASON_DELETED, message)
    await _wake_blocked(rt, key, kwargs.get(mirroring.INDEX))
    _wake_sync(rt, key)


async def _delete_from_git(rt: runtime.Runtime, body: kopf.Body, key: PackageRevisionKey) -> bool:
    """engine.delete; a deletion an approver proposed (spec.lifecycle DeletionProposed, so
    the API server let the delete through) that Git does not show yet is carried out first:
    the object was deleted before its reconciliation moved Git, and no reconciliation runs
    for an object being deleted."""
    author = fields.author_of(body)
    if body.spec.get("lifecycle") == Lifecycle.DELETION_PROPOSED:
        record = await rt.engine.get(key)
        if record is not None and record.lifecycle == Lifecycle.PUBLISHED and record.revision > 0:
            await rt.engine.move(key, Lifecycle.DELETION_PROPOSED, author)
    return await rt.engine.delete(key, author)


async def _hold(rt: runtime.Runtime, body: kopf.Body, reason: str, message: str) -> None:
    """Say on the object why its deletion waits: Ready=False and an Event, once per cause."""
    current = conditions.find((body.get("status") or {}).get("conditions"), constants.READY)
    if current and (current.get("reason"), current.get("message")) == (reason, message):
        return
    logger.warning("%s: %s", body.metadata.name, message)
    await _patch_status(
        rt, body, status_of(body, None, _not_ready(reason, message), observed=False)
    )
    kind: events.EventType = "Normal" if reason == constants.REASON_DELETION_HELD else "Warning"
    await rt.events.post(body, kind, reason, message)


WAITING = frozenset({constants.REASON_DELETION_BLOCKED, constants.REASON_PENDING})


async def wake_deletions(
    rt: runtime.Runtime,
    namespace: str,
    objects: Iterable[mirror.ObservedObject],
    reasons: frozenset[str] = WAITING,
) -> None:
    """Try again now the deletions among ``objects`` that wait for one of ``reasons``:
    something they waited for may have happened (another revision left Git, the
    Repository was listed after a restart)."""
    for observed in objects:
        if not observed.deleting or observed.conditions is None:
            continue
        ready = conditions.find(list(observed.conditions), constants.READY)
        if ready is None or ready.get("reason") not in reasons:
            continue
        try:
            await kube.patch_status(
                rt.api, *RESOURCE[:2], RESOURCE[2], namespace, observed.name,
                settings.wake_patch(settings.DELETE_FROM_GIT),
            )  # fmt: skip
        except kube.ApiError as error:
            logger.debug("could not wake the deletion of %s: %s", observed.name, error)


async def _wake_blocked(rt: runtime.Runtime, key: PackageRevisionKey, index: Any) -> None:
    """A revision left Git: deletions of its Repository blocked by a rule (an upstream
    still in use) are tried again now rather than at their next retry."""
    if index is None:
        return
    found = mirroring.existing(index, key.namespace, key.repository)
    others = (o for name, o in found.items() if name != key.name)
    await wake_deletions(rt, key.namespace, others, frozenset({constants.REASON_DELETION_BLOCKED}))


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
    if constants.REMOVAL_ANNOTATION in (body.metadata.annotations or {}):
        return False  # the operator is removing it (its revision left Git, or its Repository)
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
    kopf.on.delete(*RESOURCE, registry=registry, id=settings.DELETE_FROM_GIT)(delete)
