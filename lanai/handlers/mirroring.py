"""Apply a mirror plan: make PackageRevision objects match what Git holds.

The planner (``lanai.engine.mirror``) decides; this module only writes, and reads the
existing objects from a kopf index kept current by the watch, never from an API list.
A sync of an unchanged repository therefore costs no API call at all.

Writes go out WRITERS at a time: one at a time, each round trip to the API server
(~20 ms) made a first sync of 10,000 revisions take minutes; objects are independent,
so order within a phase does not matter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from lanai.api import constants
from lanai.engine import mirror, packagemeta, packages
from lanai.handlers import kube

logger = logging.getLogger(__name__)

WRITERS = 16
"""API writes in flight at once during a sync (the client's pool allows 100)."""

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
    )


async def index_revision(body: kopf.Body, **_: Any) -> dict[tuple[str, str], mirror.ObservedObject]:
    """Async on purpose: kopf runs sync handlers in its thread pool, a hop per watch
    event (two per object written), which showed in a 10,000-revision first sync."""
    repository = (body.get("spec") or {}).get("repository", "")
    return {(body.metadata.namespace or "default", repository): observe(body)}


def existing(index: kopf.Index[Any, Any], namespace: str, repository: str) -> dict[str, Any]:
    store: Any = index.get((namespace, repository), [])
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


@dataclass
class Applied:
    created: int = 0
    patched: int = 0
    deleted: int = 0

    @property
    def writes(self) -> int:
        return self.created + self.patched + self.deleted


_API = (constants.PORCH_GROUP, constants.PORCH_VERSION)


async def _each(items: Iterable[Any], write: Callable[[Any], Awaitable[bool]]) -> int:
    """Run ``write`` over ``items`` with at most WRITERS in flight; how many returned True."""
    pending = iter(items)
    done = 0

    async def worker() -> None:
        nonlocal done
        for item in pending:  # shared iterator: each item is taken by one worker
            if await write(item):
                done += 1

    workers = [asyncio.ensure_future(worker()) for _ in range(WRITERS)]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:  # one failed write ends the sync; the next one retries
            task.cancel()
        raise
    return done


async def apply(api: kube.Api, namespace: str, plan: mirror.MirrorPlan) -> Applied:
    """Carry out ``plan``; objects that appeared or vanished meanwhile are skipped."""
    applied = Applied()

    async def create(entry: mirror.Creation) -> bool:
        body = entry.body()
        try:
            await kube.create(
                api, *_API, namespace, constants.PACKAGE_REVISIONS, body, decode=False
            )
        except kube.ApiError as error:
            if error.status != 409:
                raise
            logger.debug("%s exists already", body["metadata"]["name"])
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

    async def delete(name: str) -> bool:
        return await _delete(api, namespace, constants.PACKAGE_REVISIONS, name)

    applied.created = await _each(plan.create, create)
    applied.patched = await _each(plan.patch, patch)
    applied.patched += await _each(plan.status, patch_status)
    applied.deleted = await _each(plan.delete, delete)
    return applied


async def apply_packages(api: kube.Api, namespace: str, plan: packages.PackagePlan) -> int:
    """Carry out a Package plan (no status subresource: one write each); writes made."""

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

    return (
        await _each(plan.create, create)
        + await _each(plan.patch, patch)
        + await _each(plan.delete, delete)
    )


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
