"""Repository reconciliation: a daemon per Repository keeps its status current.

Each Repository gets one long-lived task (a kopf daemon) that checks the Git remote on
its schedule, when its spec changes, and — after a failure — again with a capped
backoff. Every check re-reads the Secret, so fixed or rotated credentials are picked
up without the operator watching every Secret in the cluster (least privilege: it only
needs ``get`` on Secrets).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
import time
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import kopf
from croniter import croniter
from pydantic import ValidationError

from lanai.api import conditions, constants, models, names, values
from lanai.api.models import Lifecycle
from lanai.cache import gitcache, interface
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import mirror, overlap, packages
from lanai.git import probe, storage
from lanai.handlers import (
    credentials,
    identity,
    kube,
    memory,
    metrics,
    mirroring,
    packagerevision,
    resources,
    runtime,
    syncfailures,
)
from lanai.trust import urls

logger = logging.getLogger(__name__)

RESOURCE = (constants.CONFIG_GROUP, constants.CONFIG_VERSION, constants.REPOSITORIES)


@dataclass
class Outcome:
    ready: conditions.Condition
    head: str = ""
    packages: int | None = None
    auth: probe.RemoteAuth | None = None
    written: int = 0
    """PackageRevision writes the sync made."""
    unwritten: list[mirroring.WriteFailure] = field(default_factory=list)
    """Objects the sync could not write (the API server refused), still failing."""


_PackagePlan = packages.PackagePlan  # Settled has a field named packages


@dataclass(frozen=True)
class Settled:
    """The inputs of a sync whose plan was empty, kept by identity.

    The cache hands out the same record objects until Git changes, and kopf's index
    replaces an object's entry only when a watch event arrives, so when every input is
    the very same object as last time the plan is empty again without computing it:
    a no-op sync of 10,000 revisions skips ~11,000 comparisons.
    """

    repository: object
    version: str
    deployment: bool
    records: tuple[Any, ...]
    existing: dict[str, Any]
    packages: dict[str, Any] = field(default_factory=dict)
    """The Package objects (from their index), compared the same way."""
    plan: mirror.MirrorPlan = field(default_factory=mirror.MirrorPlan)
    package_plan: _PackagePlan = field(default_factory=_PackagePlan)
    """What those inputs planned: nothing, or only writes that were refused (and are
    retried when their backoff ends, without planning again)."""

    def same(
        self,
        repository: object,
        version: str,
        deployment: bool,
        records: list[Any],
        existing: dict[str, Any],
        packages: dict[str, Any] | None = None,
    ) -> bool:
        if (repository, version, deployment) != (self.repository, self.version, self.deployment):
            return False
        if len(records) != len(self.records):
            return False
        if any(a is not b for a, b in zip(records, self.records, strict=True)):
            return False
        return _same_objects(existing, self.existing) and _same_objects(
            packages or {}, self.packages
        )


def _same_objects(now: dict[str, Any], before: dict[str, Any]) -> bool:
    """The same names, each the very same index entry (no watch event since)."""
    return len(now) == len(before) and all(before.get(k) is v for k, v in now.items())


MIN_RETRY_WAKE = 1.0
"""Seconds a sync waits at least before retrying refused objects early."""


@dataclass
class Schedule:
    """When the next check is due: spec.sync.schedule (cron) or the default period;
    after failures, a capped exponential backoff."""

    default_period: float
    retry_cap: float
    failures: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="probe")
    )
    """The Repository's own thread for probing its remote."""
    settled: Settled | None = None
    """What the last sync with nothing to write saw (see :class:`Settled`)."""
    quiet: mirror.Quiet = field(default_factory=dict)
    """Objects the last plans found nothing to change for (see :func:`mirror.plan`)."""
    calm: mirror.Calm = field(default_factory=dict)
    """Packages the last plans found nothing to change for (see :func:`mirror.plan`)."""
    failed_writes: syncfailures.FailedWrites = field(default_factory=syncfailures.FailedWrites)
    """Objects whose write the API server refused, retried with a backoff."""
    last_error: str = ""
    """The last unexpected error of the sync loop (logged in full once)."""
    listed: bool = False
    """This process has listed the Repository's revisions (its first sync got that far)."""
    dirty: set[str] = field(default_factory=set)
    """Packages Lanai itself wrote to since the last sync (see :func:`_sync_local`)."""
    fetch_due: bool = True
    """The next sync asks the remote (a period passed, the spec changed, a sync failed).
    Lanai's own writes wake a sync without it: the mirror holds what they pushed."""
    fetched_at: float = -math.inf
    """When (monotonic) a sync last asked the remote and succeeded."""
    full: tuple[Any, Outcome] | None = None
    """(generation, outcome) of that sync: what a local sync reports as the remote's."""

    def local(self, generation: Any) -> Outcome | None:
        """The last full sync's outcome when this sync need not ask the remote: it was
        woken by Lanai's own write, the spec is the one that sync checked, and it is
        less than a period old. None: a full sync."""
        if self.fetch_due or self.failures or self.full is None or self.full[0] != generation:
            return None
        if len(self.failed_writes):
            return None  # a full plan retries them (and knows when they recovered)
        if time.monotonic() - self.fetched_at >= self.default_period:
            return None
        return self.full[1]

    def next_delay(self, spec: models.RepositorySpec | None, now: datetime.datetime) -> float:
        """Seconds to the next sync: the schedule's, sooner after a failed sync, and no
        later than when an object the API server refused is due again (a 503 while a
        restarted API server loads its CRDs must not leave a revision out of the API
        until the next period)."""
        delay = self._scheduled(spec, now)
        retry = self.failed_writes.next_retry_in()
        return delay if retry is None else min(delay, max(retry, MIN_RETRY_WAKE))

    def _scheduled(self, spec: models.RepositorySpec | None, now: datetime.datetime) -> float:
        if self.failures:
            return float(min(2 ** (self.failures - 1), self.retry_cap))
        if spec and spec.sync.schedule:
            try:
                following = croniter(spec.sync.schedule, now).get_next(datetime.datetime)
            except (ValueError, KeyError):
                return self.default_period
            return max((following - now).total_seconds(), 1.0)
        return self.default_period


def _error(message: str, reason: str = constants.REASON_ERROR) -> Outcome:
    return Outcome(conditions.Condition(constants.READY, "False", reason, message))


SECRET_FIELD = "spec.git.secretRef"  # noqa: S105 (a field name)


async def check(
    spec: models.RepositorySpec,
    namespace: str,
    rt: runtime.Runtime,
    worker: Executor | None = None,
    annotations: Mapping[str, Any] | None = None,
) -> Outcome:
    """The Ready condition for ``spec`` and the branch head commit.

    Its Secrets are read on behalf of the user who last wrote ``spec.git`` (recorded
    in ``annotations`` by the API server). The probe runs on ``worker``, the
    Repository's own thread, so a server that hangs holds up no other Repository."""
    if spec.type is models.RepositoryType.OCI or spec.git is None:
        return _error("OCI repositories are not supported by Lanai yet; use type: git")
    git = spec.git
    try:
        urls.git_url(git.repo, "spec.git.repo")
    except urls.URLRefused as error:  # before any Secret is read or any connection made
        return _error(str(error))
    loop = asyncio.get_running_loop()
    behalf = credentials.OnBehalfOf.of(rt.secret_access, annotations, SECRET_FIELD)
    try:
        auth = await credentials.resolve(
            rt.api,
            namespace,
            git.secret_ref.name if git.secret_ref else None,
            git.repo,
            behalf=behalf,
        )
        listing = loop.run_in_executor(worker, probe.list_branches, rt.cache.guard, git.repo, auth)
        branches = await asyncio.wait_for(listing, rt.git_timeout)
    except credentials.SecretForbidden as error:
        return _error(str(error), constants.REASON_FORBIDDEN)
    except (credentials.CredentialsError, probe.ProbeError) as error:
        return _error(str(error))
    except TimeoutError:
        return _error(f"the Git server did not answer within {rt.git_timeout:g}s")
    head = branches.get(f"refs/heads/{git.branch}")
    if head is None and not git.create_branch:
        return _error(
            f'branch "{git.branch}" does not exist in the repository; '
            "create it or set spec.git.createBranch: true"
        )
    ready = conditions.Condition(
        constants.READY, "True", constants.REASON_READY, "Repository is ready"
    )
    return Outcome(ready, head or "", auth=auth)


def _registration(body: kopf.Body, spec: models.RepositorySpec) -> overlap.Registration:
    git = spec.git
    return overlap.Registration(
        name=body.metadata.name or "",
        url=git.repo if git else "",
        branch=git.branch if git else "",
        directory=git.package_root if git else "",
        created=str(body.metadata.get("creationTimestamp") or ""),
    )


REGISTRATIONS = "repositories_by_namespace"
"""kopf index: namespace → where each Repository points (filled before daemons start)."""


def index_registration(body: kopf.Body, **_: Any) -> dict[str, overlap.Registration] | None:
    try:
        spec = models.RepositorySpec.model_validate(dict(body.spec))
    except ValidationError:
        return None
    return {body.metadata.namespace or "default": _registration(body, spec)}


def _conflict(
    body: kopf.Body, spec: models.RepositorySpec, registrations: Any
) -> overlap.Registration | None:
    if registrations is None:
        return None
    others = list(registrations.get(body.metadata.namespace or "default", []))
    return overlap.conflict(_registration(body, spec), others)


async def sync(
    name: str,
    namespace: str,
    spec: models.RepositorySpec,
    outcome: Outcome,
    rt: runtime.Runtime,
    index: mirroring.Indexes,
    schedule: Schedule | None = None,
    *,
    fetch: bool = True,
) -> Outcome:
    """Mirror what Git holds into PackageRevision objects (no API write if nothing changed).
    ``fetch=False``: from the mirror as it is (it holds Lanai's own writes)."""
    started = time.perf_counter()
    result = "failed"
    try:
        synced = await _sync(name, namespace, spec, outcome, rt, index, schedule, fetch=fetch)
        if synced.ready.status == "True":
            result = "applied" if synced.written else "unchanged"
        return synced
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        # No answer from the API server: no object is to blame, the whole sync retries.
        return _error(f"sync failed: the API server did not answer ({error or type(error)})")
    finally:
        metrics.SYNC_SECONDS.labels(namespace, name, result).observe(time.perf_counter() - started)


async def _sync(
    name: str,
    namespace: str,
    spec: models.RepositorySpec,
    outcome: Outcome,
    rt: runtime.Runtime,
    index: mirroring.Indexes,
    schedule: Schedule | None,
    *,
    fetch: bool = True,
) -> Outcome:
    git = spec.git
    assert git is not None
    author = values.Author(git.author, git.email or f"{git.author}@lanai") if git.author else None
    cached = rt.cache.open(
        namespace,
        name,
        url=git.repo,
        branch=git.branch,
        directory=git.package_root,
        auth=outcome.auth,
        deployment=spec.deployment,
        author=author,
    )
    started = time.perf_counter()
    try:
        if git.create_branch and not outcome.head and fetch:
            await cached.ensure_branch()
        await cached.refresh(fetch=fetch)
    except (interface.CacheError, storage.GitError) as error:
        return _error(f"sync failed: {error}")
    if not fetch and schedule is not None:
        return await _sync_local(namespace, name, outcome, rt, index, schedule, cached)
    read = time.perf_counter() - started
    records = await cached.list_package_revisions()
    assert index.revisions is not None  # checked by the caller
    existing = mirroring.existing(index.revisions, namespace, name)
    listed = mirroring.existing(index.packages, namespace, name) if index.packages else {}
    version = await cached.version()
    settled = schedule.settled if schedule else None
    failed = schedule.failed_writes if schedule else syncfailures.FailedWrites()
    reused = bool(
        settled and settled.same(cached, version, spec.deployment, records, existing, listed)
    )
    if settled and reused:
        plan, package_plan = settled.plan, settled.package_plan
    else:
        plan = mirror.plan(
            records,
            existing,
            deployment=spec.deployment,
            failing=failed.revisions(),
            quiet=schedule.quiet if schedule else None,
            calm=schedule.calm if schedule else None,
        )
        package_plan = packages.PackagePlan()
        if index.packages is not None:
            package_plan = packages.plan(namespace, name, records, listed)
        metrics.count_revisions(namespace, name, cached.lifecycle_counts())
    if schedule and not schedule.listed:
        # Deletions that waited for the Repository (an operator restart) go on now.
        schedule.listed = True
        await packagerevision.wake_deletions(rt, namespace, existing.values())
    applied = mirroring.Applied()
    if not plan.empty:
        planned = time.perf_counter() - started
        applied = await mirroring.apply(
            rt.api, namespace, plan, failed.due, identity.recorded(rt.identity)
        )
        if applied.attempted:
            logger.info(
                "synced %s/%s: %d created, %d patched, %d deleted, %d not written "
                "(%.1f s reading Git, %.1f s planning, %.1f s writing)",
                namespace,
                name,
                applied.created,
                applied.patched,
                applied.deleted,
                len(applied.failed),
                read,
                planned - read,
                time.perf_counter() - started - planned,
            )
        if applied.writes:
            await _refresh_resources(rt, plan, records, applied, cached)
            await _report_problems(rt, namespace, plan, records)
    # After the revisions: people look for those first; the read model follows.
    if not package_plan.empty:
        applied += await mirroring.apply_packages(rt.api, namespace, package_plan, failed.due)
    written = applied.writes
    recovered = 0
    if not plan.empty or not package_plan.empty or len(failed):
        fresh, recovered = failed.update(syncfailures.planned_keys(plan, package_plan), applied)
        await syncfailures.report(rt, namespace, name, fresh)
    if schedule and not (reused and written == 0 and not recovered):
        # Nothing written: the same inputs plan the same again (refused writes included,
        # retried when due). A recovered object loses its Synced condition next sync.
        keep = written == 0 and not recovered
        schedule.settled = (
            Settled(
                cached, version, spec.deployment, tuple(records), existing, listed,
                plan, package_plan,
            )
            if keep
            else None
        )  # fmt: skip
    if schedule and recovered:
        schedule.fetch_due = True  # a full plan heals their Synced conditions
        schedule.wake.set()
    if memory.trim_due(written):
        await asyncio.to_thread(memory.trim)
    head = cached.git.head() or outcome.head
    count = len({r.key.package for r in records})
    return Outcome(outcome.ready, head, count, outcome.auth, written, failed.failures())


async def _sync_local(
    namespace: str,
    name: str,
    outcome: Outcome,
    rt: runtime.Runtime,
    index: mirroring.Indexes,
    schedule: Schedule,
    cached: gitcache.GitRepository,
) -> Outcome:
    """The sync after Lanai's own writes: only the packages they touched are planned
    (their latest-revision labels, their Package objects), not the Repository's 1,000.
    Anything else waits for the next full sync, as a change in Git does. A write the API
    server refuses here is left to a full sync at once, which records and retries it."""
    dirty, schedule.dirty = schedule.dirty, set()
    assert index.revisions is not None  # checked by the caller
    records = [r for r in await cached.list_package_revisions() if r.key.package in dirty]
    existing = mirroring.existing(index.revisions, namespace, name, packages=dirty)
    plan = mirror.plan(records, existing, deployment=cached.deployment)
    package_plan = packages.PackagePlan()
    if index.packages is not None:
        listed = mirroring.existing(index.packages, namespace, name)
        mine = {n for n in (names.package_name(name, p) for p in dirty) if n in listed}
        package_plan = packages.plan(namespace, name, records, {n: listed[n] for n in mine})
    applied = mirroring.Applied()
    if not plan.empty:
        applied = await mirroring.apply(
            rt.api, namespace, plan, annotations=identity.recorded(rt.identity)
        )
    if not package_plan.empty:
        applied += await mirroring.apply_packages(rt.api, namespace, package_plan)
    if applied.failed:
        schedule.dirty |= dirty
        schedule.fetch_due = True
        schedule.wake.set()
    metrics.count_revisions(namespace, name, cached.lifecycle_counts())
    head = cached.git.head() or outcome.head
    return Outcome(outcome.ready, head, cached.package_count(), outcome.auth, applied.writes)


async def _refresh_resources(
    rt: runtime.Runtime,
    plan: mirror.MirrorPlan,
    records: list[PackageRevisionRecord],
    applied: mirroring.Applied,
    cached: interface.Repository,
) -> None:
    """A draft someone pushed to outside Lanai: its resources object shows the new files.

    Only if the draft is still at the commit this sync read: an edit committed since
    shows its own files, and showing the older ones now would have the resources
    handler commit them back as if a user had reverted the edit.
    """
    moved = {
        name
        for name, patch in plan.status
        if "selfLock" in patch
        and ("PackageRevision", name) in applied.attempted
        and ("PackageRevision", name) not in applied.failed
    }
    for record in records:
        if record.key.name in moved and record.lifecycle == Lifecycle.DRAFT:
            current = await cached.get_package_revision(record.key)
            if current is None or current.commit != record.commit:
                continue
            await resources.show(rt, current, create=False)


async def _report_problems(
    rt: runtime.Runtime,
    namespace: str,
    plan: mirror.MirrorPlan,
    records: list[PackageRevisionRecord],
) -> None:
    """An Event on each revision this sync made not Ready (e.g. someone pushed a file name
    the rules refuse): its Ready condition says why, the Event says when."""
    flipped = {c.name for c in plan.create} | {n for n, s in plan.status if "conditions" in s}
    for record in records:
        if not record.problem or record.key.name not in flipped:
            continue
        body = await kube.find(
            rt.api,
            constants.PORCH_GROUP,
            constants.PORCH_VERSION,
            namespace,
            constants.PACKAGE_REVISIONS,
            record.key.name,
        )
        if body is not None:
            ready = mirror.ready_condition(record)
            await rt.events.post(body, "Warning", ready.reason, ready.message)


async def reconcile_once(
    body: kopf.Body,
    rt: runtime.Runtime,
    schedule: Schedule,
    index: mirroring.Indexes | None = None,
    registrations: Any = None,
) -> None:
    with metrics.reconciling("Repository") as outcome:
        await _reconcile_once(body, rt, schedule, index, registrations)
        outcome["outcome"] = "ok" if schedule.failures == 0 else "failed"


async def _reconcile_once(
    body: kopf.Body,
    rt: runtime.Runtime,
    schedule: Schedule,
    index: mirroring.Indexes | None,
    registrations: Any,
) -> None:
    namespace = body.metadata.namespace or "default"
    name = body.metadata.name or ""
    generation = body.metadata.get("generation")
    spec: models.RepositorySpec | None = None
    try:
        spec = models.RepositorySpec.model_validate(dict(body.spec))
    except ValidationError as error:
        outcome = _error(f"invalid spec: {error}")
    else:
        indexed = index is not None and index.revisions is not None
        local = schedule.local(generation) if indexed else None
        if local is not None and index is not None:
            # Woken by Lanai's own write: the mirror holds it, so no Secret, probe or
            # fetch; the labels and Package objects follow it, and the remote's new
            # commits wait for the period (or a spec change) as they always do.
            outcome = await sync(name, namespace, spec, local, rt, index, schedule, fetch=False)
            if outcome.ready.status == "True" and not outcome.unwritten:
                await _show_local(rt, body, outcome)
                return
            schedule.fetch_due = True
        else:
            outcome = await check(spec, namespace, rt, schedule.worker, body.metadata.annotations)
            clash = _conflict(body, spec, registrations)
            if clash is not None:
                outcome = _error(
                    f"conflicts with Repository {clash.name}, registered earlier for the same "
                    f"repository and branch with an overlapping directory "
                    f"({clash.directory or '/'}); use another directory or delete one of them"
                )
            if outcome.ready.status == "True" and index is not None and indexed:
                outcome = await sync(name, namespace, spec, outcome, rt, index, schedule)
            if outcome.ready.status == "True" and indexed:
                schedule.fetch_due = False
                schedule.fetched_at = time.monotonic()
                schedule.full = (generation, outcome)
            else:
                schedule.full = None
    schedule.failures = 0 if outcome.ready.status == "True" else schedule.failures + 1
    metrics.REPOSITORIES_READY.labels(namespace, name).set(1 if schedule.failures == 0 else 0)

    now = datetime.datetime.now(datetime.UTC)
    status = body.get("status", {})
    previous = conditions.find(status.get("conditions"), constants.READY)
    ready = conditions.Condition(
        outcome.ready.type,
        outcome.ready.status,
        outcome.ready.reason,
        outcome.ready.message,
        generation,
    )
    if ready.status == "True" and outcome.unwritten:
        ready = conditions.Condition(
            constants.READY,
            "True",
            constants.REASON_SYNC_INCOMPLETE,
            f"{ready.message}; synced, but {syncfailures.summary(outcome.unwritten)}",
            generation,
        )
    new_status: dict[str, Any] = {
        "conditions": conditions.upsert(status.get("conditions"), ready),
        "observedGeneration": generation,
        "nextFullSyncTime": (
            now + datetime.timedelta(seconds=schedule.next_delay(spec, now))
        ).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if outcome.head:
        new_status["gitCommitHash"] = outcome.head
    if outcome.packages is not None:
        new_status["packageCount"] = outcome.packages
        new_status["syncFailures"] = len(outcome.unwritten)
    if ready.status == "True":
        new_status["lastFullSyncTime"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if spec and spec.sync.run_once_at:
        new_status["observedRunOnceAt"] = spec.sync.run_once_at
    if not await kube.patch_status(rt.api, *RESOURCE[:2], RESOURCE[2], namespace, name, new_status):
        return

    changed = (
        previous is None
        or previous.get("status") != ready.status
        or previous.get("message") != ready.message
    )
    if not changed:
        return
    if ready.reason == constants.REASON_SYNC_INCOMPLETE:
        await rt.events.post(body, "Warning", constants.REASON_SYNC_INCOMPLETE, ready.message)
    elif ready.status == "True":
        await rt.events.post(body, "Normal", "Ready", ready.message)
    else:
        reason = (
            constants.REASON_FORBIDDEN
            if ready.reason == constants.REASON_FORBIDDEN
            else "SyncFailed"
        )
        await rt.events.post(body, "Warning", reason, ready.message)
        logger.warning("repository %s/%s is not ready: %s", namespace, name, ready.message)


async def _show_local(rt: runtime.Runtime, body: kopf.Body, outcome: Outcome) -> None:
    """The status after a local sync: only what it changed (the head an approval moved,
    the package count), no sync times (it was not a full sync)."""
    status = body.get("status") or {}
    changes: dict[str, Any] = {}
    if outcome.head and status.get("gitCommitHash") != outcome.head:
        changes["gitCommitHash"] = outcome.head
    if outcome.packages is not None and status.get("packageCount") != outcome.packages:
        changes["packageCount"] = outcome.packages
    if changes:
        namespace, name = body.metadata.namespace or "default", body.metadata.name or ""
        await kube.patch_status(rt.api, *RESOURCE[:2], RESOURCE[2], namespace, name, changes)


async def _wait(schedule: Schedule, delay: float, stopped: kopf.DaemonStopped) -> None:
    waiter = asyncio.ensure_future(schedule.wake.wait())
    stopper = asyncio.ensure_future(stopped.wait())
    done: set[asyncio.Task[Any]] = set()
    try:
        done, _pending = await asyncio.wait(
            {waiter, stopper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        waiter.cancel()
        stopper.cancel()
    if not done:
        schedule.fetch_due = True  # the period is over: ask the remote
    schedule.wake.clear()


async def sync_daemon(
    body: kopf.Body, stopped: kopf.DaemonStopped, memo: Any, **kwargs: Any
) -> None:
    index = mirroring.Indexes(kwargs.get(mirroring.INDEX), kwargs.get(mirroring.PACKAGE_INDEX))
    rt = runtime.of(memo)
    key = (body.metadata.namespace or "default", body.metadata.name or "")
    schedule = Schedule(default_period=rt.sync_period, retry_cap=rt.retry_cap)
    rt.schedules[key] = schedule
    try:
        while not stopped:
            try:
                await reconcile_once(body, rt, schedule, index, kwargs.get(REGISTRATIONS))
            except Exception as error:  # nothing may end a Repository's syncs
                _unexpected(key, schedule, error)
            spec = None
            with contextlib.suppress(ValidationError):
                spec = models.RepositorySpec.model_validate(dict(body.spec))
            await _wait(schedule, _delay(schedule, spec), stopped)
    finally:
        schedule.worker.shutdown(wait=False, cancel_futures=True)
        if rt.schedules.get(key) is schedule:
            del rt.schedules[key]
            metrics.forget_repository(*key)


def _delay(schedule: Schedule, spec: models.RepositorySpec | None) -> float:
    """Seconds until the next sync: its schedule's, counted from the last full sync
    when syncs since were local ones (they do not put the next fetch off)."""
    delay = schedule.next_delay(spec, datetime.datetime.now(datetime.UTC))
    if schedule.failures or schedule.full is None or (spec and spec.sync.schedule):
        return delay
    since = time.monotonic() - schedule.fetched_at
    return max(0.0, min(delay, schedule.default_period - since))


def _unexpected(key: tuple[str, str], schedule: Schedule, error: Exception) -> None:
    """An error no part of the sync expected (the API server gone mid-sync, a bug): the
    loop goes on with the backoff of a failed sync; the traceback is logged once."""
    schedule.failures += 1
    schedule.settled = None
    text = f"{type(error).__name__}: {error}"
    if text != schedule.last_error:
        logger.exception("sync of repository %s/%s failed; retrying", *key)
    else:
        logger.warning("sync of repository %s/%s failed again: %s", *key, text)
    schedule.last_error = text


async def spec_changed(name: str | None, namespace: str | None, memo: Any, **_: Any) -> None:
    """A spec change (new URL, secret, schedule, runOnceAt) checks again at once."""
    schedule = runtime.of(memo).schedules.get((namespace or "default", name or ""))
    if schedule:
        schedule.failures = 0
        schedule.failed_writes.retry_now()
        schedule.fetch_due = True
        schedule.wake.set()


async def removed(name: str | None, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    """A deleted Repository takes its PackageRevision and Package objects along; Git keeps
    everything."""
    rt = runtime.of(memo)
    ns, repo = namespace or "default", name or ""
    # Published objects are moved to DeletionProposed first, marked as removed: the
    # admission policy refuses deleting a Published revision, to the operator too.
    doomed = mirror.removal_plan(mirroring.existing(kwargs[mirroring.INDEX], ns, repo))
    applied = await mirroring.apply(rt.api, ns, doomed)
    listed = mirroring.existing(kwargs[mirroring.PACKAGE_INDEX], ns, repo)
    applied += await mirroring.apply_packages(rt.api, ns, packages.PackagePlan(delete=list(listed)))
    if applied.failed:
        failures = list(applied.failed.values())
        await syncfailures.report(rt, ns, repo, failures)
        raise kopf.TemporaryError(
            f"removing the objects of Repository {repo}: {syncfailures.summary(failures)}",
            delay=syncfailures.FIRST_RETRY,
        )
    cached = rt.cache.get(ns, repo)
    if cached:
        await cached.close()
    rt.cache.forget(ns, repo)


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.index(*RESOURCE, registry=registry, id=REGISTRATIONS)(index_registration)
    kopf.on.delete(*RESOURCE, registry=registry, id="remove-revisions")(removed)
    kopf.daemon(*RESOURCE, registry=registry, id="sync", cancellation_timeout=10)(sync_daemon)
    kopf.on.update(*RESOURCE, registry=registry, id="spec-changed", field="spec")(spec_changed)
