"""PackageRevisionResources: the files of a Draft or Proposed revision, as an object.

One object per Draft/Proposed revision, named like its PackageRevision. Editing
``spec.resources`` of a Draft (kubectl edit/apply) commits to the draft branch and
renders; what render changed is written back, so the object always shows what Git
holds. The CRD refuses edits once ``status.lifecycle`` is not Draft; a published
revision has no such object (its content is frozen in a tag).

Files that are not UTF-8 text cannot be shown in the string map; they are kept in Git
untouched by edits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from lanai.api import conditions, constants
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import errors, lifecycle, mirror
from lanai.handlers import fields, kube, metrics, runtime
from lanai.tasks.requests import Rendered

logger = logging.getLogger(__name__)

RESOURCE = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISION_RESOURCES)
REVISIONS = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISIONS)


def textual(files: Mapping[str, bytes]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for path, content in files.items():
        try:
            shown[path] = content.decode()
        except UnicodeDecodeError:
            continue
    return shown


async def publish(
    rt: runtime.Runtime,
    owner: Mapping[str, Any],
    record: PackageRevisionRecord,
    rendered: Rendered | None = None,
) -> None:
    """Make the object match ``record``: written for Draft/Proposed, removed otherwise."""
    key = record.key
    if record.lifecycle in lifecycle.PUBLISHED_STATES:
        await remove(rt, key.namespace, key.name)
        return
    files = textual(await rt.engine.read_files(key))
    body = {
        "apiVersion": f"{constants.PORCH_GROUP}/{constants.PORCH_VERSION}",
        "kind": "PackageRevisionResources",
        "metadata": {
            "name": key.name,
            "namespace": key.namespace,
            "labels": {constants.REPOSITORY_LABEL: key.repository},
            "ownerReferences": [_owner_reference(owner)],
        },
        "spec": {
            "packageName": key.package,
            "repository": key.repository,
            "workspaceName": key.workspace,
            "revision": record.revision,
            "resources": files,
        },
    }
    try:
        written = await kube.create(rt.api, *RESOURCE[:2], key.namespace, RESOURCE[2], body)
        current_status: dict[str, Any] = {}
    except kube.ApiError as error:
        if error.status != 409:
            raise
        existing = await kube.get(rt.api, *RESOURCE[:2], key.namespace, RESOURCE[2], key.name)
        written = await _replace_resources(rt, existing, files)
        current_status = existing.get("status") or {}
    status = _shown(record, files, written)
    if rendered is not None:
        status["renderStatus"] = fields.render_status(rendered)
        status["conditions"] = conditions.upsert(
            current_status.get("conditions"), fields.rendered_condition(rendered)
        )
    await kube.patch_status(rt.api, *RESOURCE[:2], RESOURCE[2], key.namespace, key.name, status)


def _owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    metadata = owner.get("metadata") or {}
    return {
        "apiVersion": f"{constants.PORCH_GROUP}/{constants.PORCH_VERSION}",
        "kind": "PackageRevision",
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
        "controller": True,
    }


async def _replace_resources(
    rt: runtime.Runtime, existing: Mapping[str, Any], files: Mapping[str, str]
) -> Any:
    """Merge-patch spec.resources to exactly ``files`` (removed files as nulls)."""
    shown = (existing.get("spec") or {}).get("resources") or {}
    if shown == files:
        return existing
    patch: dict[str, str | None] = {path: None for path in shown if path not in files}
    patch.update({path: text for path, text in files.items() if shown.get(path) != text})
    metadata = existing.get("metadata") or {}
    return await kube.merge_patch(
        rt.api,
        *RESOURCE[:2],
        metadata.get("namespace") or "default",
        RESOURCE[2],
        metadata.get("name") or "",
        {"spec": {"resources": patch}},
    )


async def refresh(rt: runtime.Runtime, record: PackageRevisionRecord) -> None:
    """Show Git's files in an existing resources object (none is created here)."""
    key = record.key
    try:
        existing = await kube.get(rt.api, *RESOURCE[:2], key.namespace, RESOURCE[2], key.name)
    except kube.ApiError as error:
        if error.status == 404:
            return
        raise
    files = textual(await rt.engine.read_files(key))
    written = await _replace_resources(rt, existing, files)
    status = _shown(record, files, written)
    await kube.patch_status(rt.api, *RESOURCE[:2], RESOURCE[2], key.namespace, key.name, status)


def _shown(
    record: PackageRevisionRecord, files: Mapping[str, str], written: Mapping[str, Any]
) -> dict[str, Any]:
    """The status of a resources object just written from ``record``."""
    return {
        "lifecycle": str(record.lifecycle),
        "fileCount": len(files),
        "observedGeneration": (written.get("metadata") or {}).get("generation"),
    }


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
        await _observed(rt, body, {"lifecycle": str(record.lifecycle)})
        return
    submitted = {
        path: str(text).encode() for path, text in (body.spec.get("resources") or {}).items()
    }
    owner = await _revision(rt, key.namespace, key.name)
    try:
        in_git = await rt.engine.read_files(key)
        kept = {p: c for p, c in in_git.items() if p not in textual(in_git)}
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
    await publish(rt, owner or {"metadata": {"name": key.name}}, result.record, result.rendered)
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
    try:
        found = await kube.get(rt.api, *REVISIONS[:2], namespace, REVISIONS[2], name)
    except kube.ApiError as error:
        if error.status == 404:
            return None
        raise
    return found


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
    if record is not None:
        await _follow_kptfile_metadata(rt, revision, record)


async def _follow_kptfile_metadata(
    rt: runtime.Runtime, revision: Mapping[str, Any], record: PackageRevisionRecord
) -> None:
    """Kptfile labels/annotations edited through the resources show in spec.packageMetadata."""
    shown = (revision.get("spec") or {}).get("packageMetadata") or {}
    patch: dict[str, Any] = {}
    for field, wanted in (("labels", record.labels), ("annotations", record.annotations)):
        current = shown.get(field) or {}
        if current != wanted:
            change: dict[str, Any] = {k: None for k in current if k not in wanted}
            change.update(wanted)
            patch[field] = change
    if not patch:
        return
    metadata = revision.get("metadata") or {}
    await kube.merge_patch(
        rt.api,
        *REVISIONS[:2],
        metadata.get("namespace") or "default",
        REVISIONS[2],
        metadata.get("name") or "",
        {"spec": {"packageMetadata": patch}},
    )


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.on.create(*RESOURCE, registry=registry, id="commit-edits", when=fields.pending)(reconcile)
