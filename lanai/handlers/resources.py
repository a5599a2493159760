"""PackageRevisionResources: the files of a revision, as an object.

One object per Draft/Proposed revision, named like its PackageRevision, written by
Lanai. Editing ``spec.resources`` of a Draft (kubectl edit/apply) commits to the draft
branch and renders; what render changed is written back, so the object always shows
what Git holds. The CRD refuses edits once ``status.lifecycle`` is not Draft.

A Published revision keeps the object it had as a proposal; for any other published
revision (there may be 10,000 in a repository, so none is made up front) one is made on
request: create it with just the spec's names (``lanai rpkg pull`` does) and Lanai fills
in the files from the tag.

What cannot be shown is kept in Git untouched by edits: files that are not UTF-8 text,
and, when the API server refuses an object holding all the files for its size (etcd
takes ~1.5 MiB per request), the largest ones, listed in ``status.omittedFiles``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from lanai.api import conditions, constants
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import errors, mirror, packagemeta
from lanai.handlers import fields, kube, metrics, runtime
from lanai.tasks.requests import Rendered

logger = logging.getLogger(__name__)

RESOURCE = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISION_RESOURCES)
REVISIONS = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISIONS)

BUDGET = 1024 * 1024
"""Bytes of file content to show when the API server refused an object with all of them
(etcd's default request limit is 1.5 MiB; JSON escaping, metadata and status come on
top). Below that, a quarter of it; below that, the object cannot be written."""
COMPLETE = "Complete"
"""Condition: every text file of the revision is in ``spec.resources``."""


def textual(files: Mapping[str, bytes]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for path, content in files.items():
        try:
            shown[path] = content.decode()
        except UnicodeDecodeError:
            continue
    return shown


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


def hidden(in_git: Mapping[str, bytes], omitted: Any) -> dict[str, bytes]:
    """The files of a revision its object does not show (not text, or ``omitted`` as its
    status says): an edit keeps them as they are."""
    text = textual(in_git)
    left_out = set(omitted) if isinstance(omitted, list) else set()
    return {p: c for p, c in in_git.items() if p not in text or p in left_out}


def _refused_for_size(error: kube.ApiError) -> bool:
    """The API server (413) or etcd behind it refused a request for its size."""
    text = error.message.lower()
    return error.status == 413 or (
        error.status in (500, 422) and ("too large" in text or "larger than max" in text)
    )


async def show(
    rt: runtime.Runtime,
    record: PackageRevisionRecord,
    owner: Mapping[str, Any] | None = None,
    rendered: Rendered | None = None,
    *,
    create: bool = True,
    fresh: bool = False,
) -> None:
    """Make the object of ``record`` show what Git holds (``create=False``: only if one
    exists). ``owner`` is the PackageRevision, for the owner reference. ``fresh``: the
    revision was just made, so no object is looked for before creating one (a request
    less between a new Draft and its Ready)."""
    key = record.key
    files = textual(await rt.engine.read_files(key))
    existing = None
    if not (fresh and create):
        existing = await kube.find(rt.api, *RESOURCE[:2], key.namespace, RESOURCE[2], key.name)
    if existing is None and not create:
        return
    current_status: Mapping[str, Any] = (existing or {}).get("status") or {}
    for budget in (None, BUDGET, BUDGET // 4):
        shown = Shown(dict(files)) if budget is None else fit(files, budget)
        try:
            if existing is None:
                written = await _create(rt, record, owner, shown)
            else:
                written = await _replace(rt, record, owner, existing, shown)
            break
        except kube.ApiError as error:
            if budget == BUDGET // 4 or not _refused_for_size(error):
                raise
            logger.info("%s: the API server refused its files for size; showing fewer", key.name)
    status = _status(record, shown, written, current_status)
    if rendered is not None:
        status["renderStatus"] = fields.render_status(rendered)
        status["conditions"] = conditions.upsert(
            status.get("conditions"), fields.rendered_condition(rendered)
        )
    await kube.patch_status(rt.api, *RESOURCE[:2], RESOURCE[2], key.namespace, key.name, status)
    if shown.omitted and current_status.get("omittedFiles") != list(shown.omitted):
        await rt.events.post(written, "Warning", "ResourcesTooLarge", _too_large(shown))


def _owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    metadata = owner.get("metadata") or {}
    return {
        "apiVersion": f"{constants.PORCH_GROUP}/{constants.PORCH_VERSION}",
        "kind": "PackageRevision",
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
        "controller": True,
    }


async def _create(
    rt: runtime.Runtime,
    record: PackageRevisionRecord,
    owner: Mapping[str, Any] | None,
    shown: Shown,
) -> dict[str, Any]:
    key = record.key
    metadata: dict[str, Any] = {
        "name": key.name,
        "namespace": key.namespace,
        "labels": {constants.REPOSITORY_LABEL: key.repository},
    }
    if owner and (owner.get("metadata") or {}).get("uid"):
        metadata["ownerReferences"] = [_owner_reference(owner)]
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
        return await kube.create(rt.api, *RESOURCE[:2], key.namespace, RESOURCE[2], body)
    except kube.ApiError as error:
        if error.status != 409:
            raise
    # Made meanwhile (a retry, a user).
    existing = await kube.find(rt.api, *RESOURCE[:2], key.namespace, RESOURCE[2], key.name)
    if existing is None:
        raise errors.Unavailable(f"{key.name}: its resources object vanished while written")
    return await _replace(rt, record, owner, existing, shown)


async def _replace(
    rt: runtime.Runtime,
    record: PackageRevisionRecord,
    owner: Mapping[str, Any] | None,
    existing: Mapping[str, Any],
    shown: Shown,
) -> dict[str, Any]:
    """Merge-patch the object to show exactly ``shown`` (removed files as nulls), the
    revision number and the owner reference."""
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
    if owner and (owner.get("metadata") or {}).get("uid") and not metadata.get("ownerReferences"):
        patch["metadata"] = {"ownerReferences": [_owner_reference(owner)]}
    if not patch:
        return dict(existing)
    namespace, name = metadata.get("namespace") or "default", metadata.get("name") or ""
    try:
        return await kube.merge_patch(rt.api, *RESOURCE[:2], namespace, RESOURCE[2], name, patch)
    except kube.ApiError as error:
        if error.status != 422 or "resources" not in patch.get("spec", {}):
            raise
    # The CRD froze the files of a non-Draft object, and Git now holds others (someone
    # rewrote a tag): the object goes and comes back showing what Git holds.
    await remove(rt, namespace, name)
    return await _create(rt, record, owner, shown)


def _status(
    record: PackageRevisionRecord,
    shown: Shown,
    written: Mapping[str, Any],
    current: Mapping[str, Any],
) -> dict[str, Any]:
    """The status of an object just written from ``record``."""
    complete = conditions.Condition(COMPLETE, "True", "Complete", "")
    if shown.omitted:
        complete = conditions.Condition(COMPLETE, "False", "TooLarge", _too_large(shown))
    return {
        "lifecycle": str(record.lifecycle),
        "fileCount": len(shown.files) + len(shown.omitted),
        "omittedFiles": list(shown.omitted) or None,
        "observedGeneration": (written.get("metadata") or {}).get("generation"),
        "conditions": conditions.upsert(current.get("conditions"), complete),
    }


def _too_large(shown: Shown) -> str:
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


async def reconcile(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = runtime.of(memo)
    with metrics.reconciling("PackageRevisionResources") as outcome:
        await _reconcile(body, rt)
        outcome["outcome"] = "ok"


async def _reconcile(body: kopf.Body, rt: runtime.Runtime) -> None:
    namespace = body.metadata.namespace or "default"
    key = fields.key_of(namespace, body.spec)
    generation = body.metadata.get("generation")
    try:
        record = await rt.engine.get(key)
    except errors.Unavailable as error:
        raise kopf.TemporaryError(str(error), delay=5) from None
    if record is None:
        return  # not in Git (yet): the PackageRevision's reconciliation writes this object
    if record.lifecycle != Lifecycle.DRAFT:
        # Not editable: show what Git holds (for a published revision, this is how its
        # object is made on request).
        await show(rt, record, await _revision(rt, key.namespace, key.name))
        return
    submitted = {
        path: str(text).encode() for path, text in (body.spec.get("resources") or {}).items()
    }
    owner = await _revision(rt, key.namespace, key.name)
    try:
        omitted = (body.get("status") or {}).get("omittedFiles")
        kept = hidden(await rt.engine.read_files(key), omitted)
        result = await rt.engine.update_resources(
            key,
            {**kept, **submitted},
            fields.author_of(body),
            push_on_render_failure=fields.push_on_render_failure(
                (owner or {}).get("metadata", {}).get("annotations"), body.metadata.annotations
            ),
        )
    except errors.RenderFailed as error:
        failed = Rendered({}, ok=False, message=str(error))
        await _observed(
            rt,
            body,
            {
                "renderStatus": fields.render_status(failed),
                "conditions": conditions.upsert(
                    (body.get("status") or {}).get("conditions"), fields.rendered_condition(failed)
                ),
                "observedGeneration": generation,
            },
        )
        await rt.events.post(body, "Warning", constants.REASON_RENDER_FAILED, str(error))
        await _revision_rendered(rt, key.namespace, key.name, None, failed)
        return
    except errors.EngineError as error:
        await rt.events.post(body, "Warning", error.reason, str(error))
        if error.retry:
            raise kopf.TemporaryError(str(error), delay=5) from None
        await _observed(rt, body, {"observedGeneration": generation})
        return
    await show(rt, result.record, owner, result.rendered)
    await _revision_rendered(rt, key.namespace, key.name, result.record, result.rendered)
    if result.committed and owner is not None:
        message = (
            f"committed an edit of {key.package} (workspace {key.workspace}) to "
            f"{result.record.ref.removeprefix('refs/heads/')} ({result.record.commit[:12]})"
        )
        await rt.events.post(owner, "Normal", constants.REASON_MODIFIED, message)
    if result.rendered is not None and not result.rendered.ok:
        await rt.events.post(
            body, "Warning", constants.REASON_RENDER_FAILED, result.rendered.message
        )


async def _observed(rt: runtime.Runtime, body: kopf.Body, status: dict[str, Any]) -> None:
    status.setdefault("observedGeneration", body.metadata.get("generation"))
    await kube.patch_object_status(rt.api, RESOURCE, body, status)


async def _revision(rt: runtime.Runtime, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.find(rt.api, *REVISIONS[:2], namespace, REVISIONS[2], name)


async def _revision_rendered(
    rt: runtime.Runtime,
    namespace: str,
    name: str,
    record: PackageRevisionRecord | None,
    rendered: Rendered | None,
) -> None:
    """Carry the edit's outcome to the PackageRevision: new lock, Rendered condition."""
    revision = await _revision(rt, namespace, name)
    if revision is None:
        return
    if record is not None:
        # The spec first: a status naming the new commit says the spec shows its Kptfile
        # (packagemeta.spec_is_whole).
        await _follow_kptfile_metadata(rt, revision, record)
    current = revision.get("status") or {}
    status: dict[str, Any] = {}
    if record is not None:
        status.update(mirror.desired_status(record, bool(current.get("deployment"))))
    if rendered is not None:
        status["renderStatus"] = fields.render_status(rendered)
        status["conditions"] = conditions.upsert(
            current.get("conditions"), fields.rendered_condition(rendered)
        )
    if status:
        await kube.patch_status(rt.api, *REVISIONS[:2], REVISIONS[2], namespace, name, status)


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
    metadata = revision.get("metadata") or {}
    await kube.merge_patch(
        rt.api,
        *REVISIONS[:2],
        metadata.get("namespace") or "default",
        REVISIONS[2],
        metadata.get("name") or "",
        {"spec": patch},
    )


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.on.create(*RESOURCE, registry=registry, id="commit-edits", when=fields.pending)(reconcile)
