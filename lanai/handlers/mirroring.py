"""Apply a mirror plan: make PackageRevision objects match what Git holds.

The planner (``lanai.engine.mirror``) decides; this module only writes, and reads the
existing objects from a kopf index kept current by the watch, never from an API list.
A sync of an unchanged repository therefore costs no API call at all.

Writes go out WRITERS at a time: one at a time, each round trip to the API server
(~20 ms) made a first sync of 10,000 revisions take minutes; objects are independent,
so order within a phase does not matter. For the same reason a write the API server
refuses is one object's failure, returned for reporting on that object, never the
sync's: the rest of the Repository goes on syncing.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import kopf

from lanai import faults
from lanai.api import constants
from lanai.engine import mirror, packagemeta, packages
from lanai.handlers import kube

logger = logging.getLogger(__name__)

WRITERS = 16
"""API writes in flight at once during a sync (the client's pool allows 100)."""

IN_FLIGHT = 2 * WRITERS
"""API writes in flight at once across every Repository's sync. 100 Repositories synced
at once (an operator start, a namespace of sites) would otherwise send 1,600 writes at
a time: more than an API server on two cores answers any sooner, each holding its body
and its coroutine in memory meanwhile (measured: 320 MiB RSS at 11,000 objects)."""

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slot() -> asyncio.Semaphore:
    """The process's write slots (one set per event loop: tests run several)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(IN_FLIGHT)
    return slots


INDEX = "revisions_by_repository"
"""kopf index: (namespace, repository) → ObservedObject of each PackageRevision."""


def observe(body: kopf.Body) -> mirror.ObservedObject:
    metadata = body.get("metadata", {})
    status = body.get("status") or {}
    spec = body.get("spec") or {}
    meta = packagemeta.of_spec(spec)
    return mirror.ObservedObject(
        name=metadata.get("name", ""),
        lifecycle=spec.get("lifecycle", "Draft"),
        latest_label=(metadata.get("labels") or {}).get(constants.LATEST_REVISION_LABEL),
        status={k: v for k, v in status.items() if k != constants.KOPF_STATUS_FIELD},
        generation=metadata.get("generation", 1),
        observed_generation=status.get("observedGeneration"),
        deleting=bool(metadata.get("deletionTimestamp")),
        meta=None if meta.empty else meta,
        package=str(spec.get("packageName") or ""),
    )


async def index_revision(body: kopf.Body, **_: Any) -> dict[tuple[str, str], mirror.ObservedObject]:
    """Async on purpose: kopf runs sync handlers in its thread pool, a hop per watch
    event (two per object written), which showed in a 10,000-revision first sync."""
    repository = (body.get("spec") or {}).get("repository", "")
    return {(body.metadata.namespace or "default", repository): observe(body)}


def existing(
    index: kopf.Index[Any, Any],
    namespace: str,
    repository: str,
    packages: AbstractSet[str] | None = None,
) -> dict[str, Any]:
    """The indexed objects of ``repository`` by name (``packages``: only theirs)."""
    store: Any = index.get((namespace, repository), [])
    if packages is not None:
        return {observed.name: observed for observed in store if observed.package in packages}
    return {observed.name: observed for observed in store}


@dataclass(frozen=True)
class Indexes:
    """The kopf indices a Repository sync reads (None before kopf filled them)."""

    revisions: kopf.Index[Any, Any] | None
    packages: kopf.Index[Any, Any] | None = None


PACKAGE_INDEX = "packages_by_repository"
"""kopf index: (namespace, repository) → ObservedPackage of each Package object."""


async def index_package(
    body: kopf.Body, **_: Any
) -> dict[tuple[str, str], packages.ObservedPackage]:
    status = body.get("status") or {}
    observed = packages.ObservedPackage(
        name=body.metadata.name or "",
        latest=status.get("latestRevision"),
        count=status.get("revisionCount"),
        deleting=bool(body.metadata.get("deletionTimestamp")),
    )
    repository = (body.get("spec") or {}).get("repository", "")
    return {(body.metadata.namespace or "default", repository): observed}


@dataclass(frozen=True)
class WriteFailure:
    """The API server refused one write of a sync (it answered; it was not unreachable)."""

    kind: str
    """``PackageRevision`` or ``Package``."""
    name: str
    action: str
    """What was tried, as a verb phrase: ``create``, ``update``, ``delete``, ..."""
    status: int
    message: str
    """The API server's answer (never the request: it can carry data)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def describe(self) -> str:
        return f"could not {self.action} {self.kind} {self.name}: {self.message}"


Key = tuple[str, str]
"""(kind, name) of an object a sync writes."""


def _always(_key: Key) -> bool:
    return True


@dataclass
class Applied:
    created: int = 0
    patched: int = 0
    deleted: int = 0
    attempted: set[Key] = field(default_factory=set)
    """Objects a write was tried for (not skipped as backing off)."""
    failed: dict[Key, WriteFailure] = field(default_factory=dict)
    """Objects with a refused write: the first refusal of each."""

    @property
    def writes(self) -> int:
        return self.created + self.patched + self.deleted

    def __iadd__(self, other: Applied) -> Applied:
        self.created += other.created
        self.patched += other.patched
        self.deleted += other.deleted
        self.attempted |= other.attempted
        for key, failure in other.failed.items():
            self.failed.setdefault(key, failure)
        return self


_API = (constants.PORCH_GROUP, constants.PORCH_VERSION)


class _Writer:
    """Runs one phase of writes, WRITERS at a time, each object on its own: a write the
    API server refuses (422 from a CEL rule, 409, 403 from a policy, 5xx, ...) is noted
    against that object and the others go on. Only an unreachable API server (no answer
    at all) ends the sync, since then every write would fail alike."""

    def __init__(self, applied: Applied, kind: str, due: Callable[[Key], bool]) -> None:
        self.applied = applied
        self.kind = kind
        self.due = due

    async def each(
        self,
        items: Iterable[Any],
        name_of: Callable[[Any], str],
        action: str,
        write: Callable[[Any], Awaitable[bool]],
    ) -> int:
        """Run ``write`` over ``items``; how many returned True (wrote something)."""
        pending = iter(items)
        done = 0
        applied = self.applied

        async def worker() -> None:
            nonlocal done
            for item in pending:  # shared iterator: each item is taken by one worker
                key = (self.kind, name_of(item))
                if not self.due(key):
                    continue  # refused before: backing off
                applied.attempted.add(key)
                try:
                    async with _slot():
                        wrote = await write(item)
                    if wrote:
                        done += 1
                except kube.ApiError as error:
                    failure = WriteFailure(self.kind, key[1], action, error.status, str(error))
                    applied.failed.setdefault(key, failure)

        workers = [asyncio.ensure_future(worker()) for _ in range(WRITERS)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:  # the API server is unreachable: the next sync retries
                task.cancel()
            raise
        return done


def _first(entry: tuple[str, Any]) -> str:
    return entry[0]


def _itself(name: str) -> str:
    return name


async def apply(
    api: kube.Api,
    namespace: str,
    plan: mirror.MirrorPlan,
    due: Callable[[Key], bool] = _always,
    annotations: Mapping[str, str] | None = None,
) -> Applied:
    """Carry out ``plan``; objects that appeared or vanished meanwhile are skipped, objects
    for which ``due`` is False (backing off after a refusal) are left for later.
    ``annotations`` go on every object created (the operator's recorded identity)."""
    applied = Applied()
    writer = _Writer(applied, "PackageRevision", due)

    async def create(entry: mirror.Creation) -> bool:
        body = entry.body()
        if annotations:
            body["metadata"].setdefault("annotations", {}).update(annotations)
        try:
            await kube.create(
                api, *_API, namespace, constants.PACKAGE_REVISIONS, body, decode=False
            )
        except kube.ApiError as error:
            if error.status != 409:
                raise
            logger.debug("%s exists already", body["metadata"]["name"])
        faults.point(faults.SYNC_CREATED, entry.name)
        await kube.patch_status(
            api, *_API, constants.PACKAGE_REVISIONS, namespace, entry.name, entry.status()
        )
        return True

    async def patch(entry: tuple[str, dict[str, Any]]) -> bool:
        return await _merge_patch(api, namespace, *entry)

    async def patch_status(entry: tuple[str, dict[str, Any]]) -> bool:
        name, status = entry
        return await kube.patch_status(
            api, *_API, constants.PACKAGE_REVISIONS, namespace, name, status
        )

    proposing = set(plan.propose_deletion)
    removal = mirror.removal_patch(plan.removal_reason)

    async def delete(name: str) -> bool:
        if name in proposing and not await _merge_patch(api, namespace, name, removal):
            return False  # gone already
        return await _delete(api, namespace, constants.PACKAGE_REVISIONS, name)

    def name_of(entry: mirror.Creation) -> str:
        return entry.name

    applied.created = await writer.each(plan.create, name_of, "create", create)
    applied.patched = await writer.each(plan.patch, _first, "update", patch)
    applied.patched += await writer.each(plan.status, _first, "update the status of", patch_status)
    applied.deleted = await writer.each(plan.delete, _itself, "delete", delete)
    return applied


async def apply_packages(
    api: kube.Api,
    namespace: str,
    plan: packages.PackagePlan,
    due: Callable[[Key], bool] = _always,
) -> Applied:
    """Carry out a Package plan (no status subresource: one write each)."""
    applied = Applied()
    writer = _Writer(applied, "Package", due)

    async def create(body: dict[str, Any]) -> bool:
        try:
            await kube.create(api, *_API, namespace, constants.PACKAGES, body, decode=False)
        except kube.ApiError as error:
            if error.status != 409:
                raise
            return False
        return True

    async def patch(entry: tuple[str, dict[str, Any]]) -> bool:
        return await _merge_patch(api, namespace, *entry, plural=constants.PACKAGES)

    async def delete(name: str) -> bool:
        return await _delete(api, namespace, constants.PACKAGES, name)

    def name_of(body: dict[str, Any]) -> str:
        return str(body["metadata"]["name"])

    applied.created = await writer.each(plan.create, name_of, "create", create)
    applied.patched = await writer.each(plan.patch, _first, "update", patch)
    applied.deleted = await writer.each(plan.delete, _itself, "delete", delete)
    return applied


async def _delete(api: kube.Api, namespace: str, plural: str, name: str) -> bool:
    """Delete the object; False when it was gone already."""
    try:
        await kube.delete(api, *_API, namespace, plural, name)
    except kube.ApiError as error:
        if error.status != 404:
            raise
        return False
    return True


async def _merge_patch(
    api: kube.Api,
    namespace: str,
    name: str,
    patch: Mapping[str, Any],
    plural: str = constants.PACKAGE_REVISIONS,
) -> bool:
    try:
        await kube.merge_patch(api, *_API, namespace, plural, name, patch, decode=False)
    except kube.ApiError as error:
        if error.status == 404:
            return False
        raise
    return True
