"""PackageRevisionResources: the files of a revision, as an object.

One object per Draft/Proposed revision, named like its PackageRevision, written by
Lanai to show what Git holds. Editing a Draft's ``spec.resources`` commits the edit
(:mod:`lanai.handlers.editing`); the CRD refuses edits once ``status.lifecycle`` is not
Draft.

Edits and Lanai's writes meet on one object, so Lanai writes files only
(:func:`show`, :func:`write`) when no edit is waiting: while ``metadata.generation`` is
ahead of ``status.observedGeneration`` the object holds an edit not yet committed, and
only the edit handler touches it. Every write of files is conditional on the
``resourceVersion`` read, so a write computed from an older state never replaces a
newer edit, and carries the commit its files come from (annotation ``base-commit``),
from which an edit is told apart from what Git changed meanwhile.

A Published revision keeps the object it had as a proposal; for any other published
revision (there may be 10,000 in a repository, so none is made up front) one is made on
request: create it with just the spec's names (``lanai rpkg pull`` does) and Lanai fills
in the files from the tag.

What cannot be shown is kept in Git untouched by edits: files that are not UTF-8 text,
symlinks and submodules (never read as files), and, when the API server refuses an
object holding all the files for its size (etcd takes ~1.5 MiB per request; the CRD
refuses more than ``lanai.trust.sizes.RESOURCES_CHARACTERS`` with Lanai's own message),
the largest ones, listed in ``status.omittedFiles``. A revision whose files the rules
refuse (a bad name or size in Git) is not shown at all: its PackageRevision says why.

An edit the engine refuses leaves Git as it was: the object's ``Ready`` condition turns
False with the reason, and an Event says so on the object and its PackageRevision.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lanai.api import conditions, constants
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import edits, errors
from lanai.handlers import fields, identity, kube, runtime
from lanai.tasks.requests import Rendered

logger = logging.getLogger(__name__)

RESOURCE = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISION_RESOURCES)

BUDGET = 1024 * 1024
"""Bytes of file content to show when the API server refused an object with all of them
(etcd's default request limit is 1.5 MiB; JSON escaping, metadata and status come on
top). Below that, a quarter of it; below that, the object cannot be written."""
COMPLETE = "Complete"
"""Condition: every text file of the revision is in ``spec.resources``."""
ATTEMPTS = 5
"""Tries of a conditional write that keeps meeting a changed object before giving up
(for this round: the caller is retried)."""


def textual(files: Mapping[str, bytes]) -> dict[str, str]:
    return edits.text_of(files)


@dataclass(frozen=True)
class Shown:
    """What an object shows of a revision's files, and what it leaves out."""

    files: dict[str, str]
    omitted: tuple[str, ...] = ()


def fit(files: Mapping[str, str], budget: int = BUDGET) -> Shown:
    """``files`` within ``budget`` bytes: the largest are left out first (a huge
    generated file is rarely the one someone edits)."""
    sizes = {path: len(text.encode()) for path, text in files.items()}
    total = sum(sizes.values())
    omitted: list[str] = []
    for path in sorted(files, key=lambda p: (-sizes[p], p)):
        if total <= budget:
            break
        omitted.append(path)
        total -= sizes[path]
    left_out = set(omitted)
    return Shown({p: t for p, t in files.items() if p not in left_out}, tuple(sorted(omitted)))


def _refused_for_size(error: kube.ApiError) -> bool:
    """The API server (413) or etcd behind it refused a request for its size."""
    text = error.message.lower()
    return error.status == 413 or (
        error.status in (500, 422) and ("too large" in text or "larger than max" in text)
    )


def has_pending_edit(obj: Mapping[str, Any]) -> bool:
    """The object's spec changed after Lanai last acted on it: an edit not yet committed.

    An object Lanai has just created (generation 1, the commit its files come from
    named, no status yet) holds no edit: its status is on its way, and the edit handler
    would only race that write. If Lanai stops before the write, the PackageRevision's
    reconciliation runs again and makes it."""
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return False
    status = obj.get("status") or {}
    if status.get("observedGeneration") == metadata.get("generation"):
        return False
    return not (_just_created(metadata) and not status)


def _just_created(metadata: Mapping[str, Any]) -> bool:
    annotations = metadata.get("annotations") or {}
    return metadata.get("generation") == 1 and constants.BASE_COMMIT_ANNOTATION in annotations


def pending_edit(body: Mapping[str, Any], **_: Any) -> bool:
    """kopf's filter for the edit handler: :func:`has_pending_edit`."""
    return has_pending_edit(body)


class Moved(Exception):
    """The object changed since it was read (409 on a conditional write): read it again."""


class Exists(Exception):
    """The object to create exists already."""


async def show(
    rt: runtime.Runtime,
    record: PackageRevisionRecord,
    owner: Mapping[str, Any] | None = None,
    rendered: Rendered | None = None,
    *,
    create: bool = True,
    fresh: bool = False,
    pushed: Mapping[str, bytes] | None = None,
    alongside: Callable[[], Awaitable[None]] | None = None,
) -> bool:
    """Make the object of ``record`` show what Git holds (``create=False``: only if one
    exists). ``owner`` is the PackageRevision, for the owner reference. ``fresh``: the
    revision was just made, so no object is looked for before creating one; ``pushed``:
    the files just pushed as ``record``'s commit, so Git is not read again (requests
    less between a new Draft and its Ready).

    ``alongside`` (the PackageRevision's status write) runs once the object exists and
    shows the files, at the same time as the object's own status write: a client that
    sees the revision Ready finds its files, and waits for one write less.

    An object holding an edit not yet committed is left alone (False): its handler
    commits the edit and shows the outcome, with whatever Git got meanwhile."""

    async def done(result: bool, settle: Awaitable[None] | None = None) -> bool:
        if settle is not None and alongside is not None:
            await asyncio.gather(settle, alongside())
        elif settle is not None:
            await settle
        elif alongside is not None:
            await alongside()
        return result

    key = record.key
    if record.unreadable:
        return await done(True)  # its files are never read; the revision's Ready says why
    files = textual(pushed if pushed is not None else await rt.engine.read_files(key))
    existing = None
    if not (fresh and create):
        existing = await find(rt, key.namespace, key.name)
    for _attempt in range(ATTEMPTS):
        try:
            if existing is None:
                if not create:
                    return await done(True)
                written, shown = await _create(rt, record, owner, files)
            elif has_pending_edit(existing):
                return await done(False)
            else:
                written, shown = await write(rt, record, owner, existing, files)
        except (Moved, Exists):
            existing = await find(rt, key.namespace, key.name)
            continue
        return await done(True, _settled(rt, record, written, shown, rendered))
    raise errors.Unavailable(f"{key.name}: its resources object kept changing while written")


async def find(rt: runtime.Runtime, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.find(rt.api, *RESOURCE[:2], namespace, RESOURCE[2], name)


def _owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    metadata = owner.get("metadata") or {}
    return {
        "apiVersion": f"{constants.PORCH_GROUP}/{constants.PORCH_VERSION}",
        "kind": "PackageRevision",
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
        "controller": True,
    }


def _budgets(files: Mapping[str, str]) -> list[Shown]:
    """What to try to show: everything, then less when the API server refuses the size."""
    return [Shown(dict(files)), fit(files, BUDGET), fit(files, BUDGET // 4)]


async def _create(
    rt: runtime.Runtime,
    record: PackageRevisionRecord,
    owner: Mapping[str, Any] | None,
    files: Mapping[str, str],
) -> tuple[dict[str, Any], Shown]:
    key = record.key
    metadata: dict[str, Any] = {
        "name": key.name,
        "namespace": key.namespace,
        "labels": {constants.REPOSITORY_LABEL: key.repository},
        "annotations": {
            constants.BASE_COMMIT_ANNOTATION: record.commit,
            **identity.actor(rt.identity),
        },
    }
    if owner and (owner.get("metadata") or {}).get("uid"):
        metadata["ownerReferences"] = [_owner_reference(owner)]
    *larger, smallest = _budgets(files)
    for shown in (*larger, smallest):
        body = {
            "apiVersion": f"{constants.PORCH_GROUP}/{constants.PORCH_VERSION}",
            "kind": "PackageRevisionResources",
            "metadata": metadata,
            "spec": {
                "packageName": key.package,
                "repository": key.repository,
                "workspaceName": key.workspace,
                "revision": record.revision,
                "resources": shown.files,
            },
        }
        try:
            made = await kube.create(rt.api, *RESOURCE[:2], key.namespace, RESOURCE[2], body)
        except kube.ApiError as error:
            if error.status == 409:
                raise Exists from None
            if shown is smallest or not _refused_for_size(error):
                raise
            logger.info("%s: the API server refused its files for size; showing fewer", key.name)
            continue
        return made, shown
    raise AssertionError("unreachable")  # pragma: no cover


def _patch_for(
    existing: Mapping[str, Any],
    record: PackageRevisionRecord,
    owner: Mapping[str, Any] | None,
    shown: Shown,
) -> dict[str, Any]:
    """The merge patch that makes ``existing`` show exactly ``shown`` (removed files as
    nulls), the revision number, the owner reference and the commit the files are from;
    empty when it shows them already."""
    spec = existing.get("spec") or {}
    metadata = existing.get("metadata") or {}
    before = spec.get("resources") or {}
    patch: dict[str, Any] = {}
    if before != shown.files:
        change: dict[str, str | None] = {path: None for path in before if path not in shown.files}
        change.update({p: t for p, t in shown.files.items() if before.get(p) != t})
        patch["spec"] = {"resources": change}
    if spec.get("revision") != record.revision:
        patch.setdefault("spec", {})["revision"] = record.revision
    wanted: dict[str, Any] = {}
    annotations = metadata.get("annotations") or {}
    if record.commit and annotations.get(constants.BASE_COMMIT_ANNOTATION) != record.commit:
        wanted["annotations"] = {constants.BASE_COMMIT_ANNOTATION: record.commit}
    if owner and (owner.get("metadata") or {}).get("uid") and not metadata.get("ownerReferences"):
        wanted["ownerReferences"] = [_owner_reference(owner)]
    if wanted:
        patch["metadata"] = wanted
    return patch


async def write(
    rt: runtime.Runtime,
    record: PackageRevisionRecord,
    owner: Mapping[str, Any] | None,
    existing: Mapping[str, Any],
    files: Mapping[str, str],
) -> tuple[dict[str, Any], Shown]:
    """Make ``existing`` show ``files``, only while it is as read (its resourceVersion):
    :class:`Moved` when it changed meanwhile."""
    metadata = existing.get("metadata") or {}
    namespace, name = metadata.get("namespace") or "default", metadata.get("name") or ""
    *larger, smallest = _budgets(files)
    for shown in (*larger, smallest):
        patch = _patch_for(existing, record, owner, shown)
        if not patch:
            return dict(existing), shown
        patch.setdefault("metadata", {})["resourceVersion"] = metadata.get("resourceVersion")
        try:
            written = await kube.merge_patch(
                rt.api, *RESOURCE[:2], namespace, RESOURCE[2], name, patch
            )
        except kube.ApiError as error:
            if error.status == 409:
                raise Moved from None
            if error.status == 404:
                raise Moved from None
            if _refused_for_size(error) and shown is not smallest:
                logger.info("%s: the API server refused its files for size; showing fewer", name)
                continue
            if error.status != 422 or "resources" not in patch.get("spec", {}):
                raise
            # The CRD froze the files of a non-Draft object, and Git now holds others
            # (someone rewrote a tag): the object goes and comes back showing Git.
            await remove(rt, namespace, name)
            return await _create(rt, record, owner, files)
        return written, shown
    raise AssertionError("unreachable")  # pragma: no cover


def ready(generation: Any) -> conditions.Condition:
    """Ready of an object whose files of ``generation`` are what Git holds."""
    return conditions.Condition(
        constants.READY, "True", constants.REASON_READY, "", generation_of(generation)
    )


def generation_of(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def status_of(
    record: PackageRevisionRecord,
    shown: Shown,
    generation: Any,
    current: Mapping[str, Any],
    rendered: Rendered | None = None,
) -> dict[str, Any]:
    """The status of an object whose files of ``generation`` show ``record``."""
    complete = conditions.Condition(COMPLETE, "True", "Complete", "")
    if shown.omitted:
        complete = conditions.Condition(COMPLETE, "False", "TooLarge", too_large(shown))
    found = conditions.upsert(current.get("conditions"), complete)
    found = conditions.upsert(found, ready(generation))
    status: dict[str, Any] = {
        "lifecycle": str(record.lifecycle),
        "fileCount": len(shown.files) + len(shown.omitted),
        "omittedFiles": list(shown.omitted) or None,
        "observedGeneration": generation,
    }
    if rendered is not None:
        status["renderStatus"] = fields.render_status(rendered)
        found = conditions.upsert(found, fields.rendered_condition(rendered))
    status["conditions"] = found
    return status


StatusFor = Callable[[Mapping[str, Any]], "dict[str, Any] | None"]
"""The status to write onto the object as it now is; None: nothing to write."""


async def patch_status_while(
    rt: runtime.Runtime, obj: Mapping[str, Any], status_for: StatusFor
) -> Mapping[str, Any] | None:
    """Merge-patch the status ``status_for`` computes from ``obj``, only while ``obj`` is
    unchanged (its resourceVersion; conditions are one list, written whole). When it
    changed meanwhile it is read again and ``status_for`` asked again. Returns the object
    the written status was computed from, None when nothing was written."""
    current: Mapping[str, Any] | None = obj
    for _attempt in range(ATTEMPTS):
        if current is None:
            return None
        status = status_for(current)
        if status is None:
            return None
        metadata = current.get("metadata") or {}
        namespace, name = metadata.get("namespace") or "default", metadata.get("name") or ""
        patch = {"metadata": {"resourceVersion": metadata.get("resourceVersion")}, "status": status}
        try:
            await kube.merge_patch(
                rt.api, *RESOURCE[:2], namespace, RESOURCE[2], name, patch, "status", decode=False
            )
        except kube.ApiError as error:
            if error.status == 404:
                return None
            if error.status != 409:
                raise
            current = await find(rt, namespace, name)
            continue
        return current
    name = (obj.get("metadata") or {}).get("name")
    raise errors.Unavailable(f"{name}: the resources object kept changing while written")


async def _settled(
    rt: runtime.Runtime,
    record: PackageRevisionRecord,
    written: Mapping[str, Any],
    shown: Shown,
    rendered: Rendered | None,
) -> None:
    """Mark ``written`` (just made to show ``record``) as acted on, only while it holds
    the files written: an edit that arrived meanwhile stays pending for its handler."""
    target = (written.get("metadata") or {}).get("generation")

    def status_for(current: Mapping[str, Any]) -> dict[str, Any] | None:
        if (current.get("metadata") or {}).get("generation") != target:
            return None  # edited meanwhile: the edit handler takes over
        return status_of(record, shown, target, current.get("status") or {}, rendered)

    if await patch_status_while(rt, written, status_for) is None:
        return
    before = (written.get("status") or {}).get("omittedFiles")
    if shown.omitted and before != list(shown.omitted):
        await rt.events.post(written, "Warning", "ResourcesTooLarge", too_large(shown))


def too_large(shown: Shown) -> str:
    return (
        f"{len(shown.omitted)} file(s) are not shown ({', '.join(shown.omitted[:5])}"
        f"{', ...' if len(shown.omitted) > 5 else ''}): the API server refused an object "
        "holding all of them for its size. They are in Git, unchanged by edits here; "
        "change them with git (pull the branch, commit, push)."
    )


async def remove(rt: runtime.Runtime, namespace: str, name: str) -> None:
    try:
        await kube.delete(rt.api, *RESOURCE[:2], namespace, RESOURCE[2], name)
    except kube.ApiError as error:
        if error.status != 404:
            raise
