"""kopf indices the variant controllers read instead of listing from the API.

A PackageVariant decides from the revisions of two packages (its upstream's and its
downstream's) and the revisions it owns; a PackageVariantSet from the Repositories of
its namespace and the PackageVariants it owns. kopf keeps these indices current from
the watches it holds anyway, so a reconciliation that changes nothing reads nothing.
Each entry is small (names, a few refs): 10,000 revisions cost a few MiB.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from lanai.api import conditions, constants
from lanai.handlers import variantstate
from lanai.variants import revisions, targets

REVISIONS = "variant_revisions"
"""("package", ns, repo, package), ("owner", ns, variant uid) and ("name", ns, name) →
:class:`Revision`."""
REPOSITORIES = "variant_repositories"
"""namespace → :class:`targets.ObjectView` of each Repository."""
SET_VARIANTS = "variant_set_members"
"""(ns, set uid) → :class:`Member` of each PackageVariant a set made."""

VARIANT_KIND = "PackageVariant"
SET_KIND = "PackageVariantSet"
SET_OWNER_LABEL = "config.porch.kpt.dev/packagevariantset"
"""Label Porch puts on the PackageVariants a PackageVariantSet makes (value: its uid)."""


def _lock(found: Any) -> tuple[str, str, str]:
    git = (found or {}).get("git") or {} if isinstance(found, Mapping) else {}
    return (
        sys.intern(str(git.get("repo") or "")),
        sys.intern(str(git.get("directory") or "")),
        str(git.get("ref") or ""),
    )


def revision_of(body: Mapping[str, Any]) -> revisions.Revision:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    owners = tuple(
        str(ref.get("uid"))
        for ref in metadata.get("ownerReferences") or ()
        if ref.get("kind") == VARIANT_KIND and ref.get("uid")
    )
    controller = next(
        (ref for ref in metadata.get("ownerReferences") or () if ref.get("controller")), None
    )
    ready = conditions.find(status.get("conditions"), constants.READY) or {}
    self_lock = status.get("selfLock") or {}
    return revisions.Revision(
        name=str(metadata.get("name") or ""),
        repository=sys.intern(str(spec.get("repository") or "")),
        package=sys.intern(str(spec.get("packageName") or "")),
        workspace=str(spec.get("workspaceName") or ""),
        lifecycle=sys.intern(str(spec.get("lifecycle") or revisions.DRAFT)),
        revision=int(status.get("revision") or 0),
        uid=str(metadata.get("uid") or ""),
        owners=owners,
        controlled_by_other=bool(
            controller is not None and str(controller.get("uid")) not in owners
        ),
        self_lock=_lock(self_lock),
        upstream_lock=_lock(status.get("upstreamLock")),
        commit=str(((self_lock or {}).get("git") or {}).get("commit") or ""),
        settled=status.get("observedGeneration") == metadata.get("generation"),
        ready=ready.get("status") == "True",
        message=str(ready.get("message") or ""),
        render_status=status.get("renderStatus"),
        deleting=bool(metadata.get("deletionTimestamp")),
    )


async def index_revision(
    body: kopf.Body, memo: kopf.Memo, **_: Any
) -> dict[tuple[str, ...], revisions.Revision]:
    """Index the revision, and wake the variants and sets that care about it.

    Waking from here rather than from an ``on.event`` handler: kopf logs every handler
    it runs, and a cold sync of 10,000 revisions would log 20,000 lines for nothing.
    (A revision that is deleted wakes its variants when its deletion starts.)
    """
    namespace = body.metadata.namespace or "default"
    found = revision_of(body)
    keys: dict[tuple[str, ...], revisions.Revision] = {
        ("package", namespace, found.repository, found.package): found,
        ("name", namespace, found.name): found,
    }
    for uid in found.owners:
        keys[("owner", namespace, uid)] = found
    state = memo.get("variants")
    if isinstance(state, variantstate.State):
        state.revision_changed((namespace, found.repository, found.package), found.owners)
    return keys


async def index_repository(
    body: kopf.Body, memo: kopf.Memo, **_: Any
) -> dict[str, targets.ObjectView] | None:
    """Index a Repository's name and labels (a Repository being deleted is no target),
    and wake the namespace's sets when that changes. From here rather than from an
    ``on.event`` handler, which kopf would log at every status write of every sync."""
    namespace = body.metadata.namespace or "default"
    key = (namespace, body.metadata.name or "")
    deleting = bool(body.metadata.get("deletionTimestamp"))
    labels = None if deleting else dict(body.metadata.labels or {})
    state = memo.get("variants")
    if isinstance(state, variantstate.State) and state.repository_labels.get(key) != labels:
        if labels is None:
            state.repository_labels.pop(key, None)
        else:
            state.repository_labels[key] = labels
        state.namespace_changed(namespace)
    if deleting:
        return None
    return {namespace: targets.ObjectView.of(body)}


@dataclass(frozen=True)
class Member:
    """A PackageVariant as its set sees it."""

    name: str
    spec: Mapping[str, Any]
    annotations: Mapping[str, str]
    deleting: bool


async def index_set_member(body: kopf.Body, **_: Any) -> dict[tuple[str, str], Member] | None:
    owner = (body.metadata.labels or {}).get(SET_OWNER_LABEL)
    if not owner:
        return None
    member = Member(
        name=body.metadata.name or "",
        spec=dict(body.spec),
        annotations=dict(body.metadata.annotations or {}),
        deleting=bool(body.metadata.get("deletionTimestamp")),
    )
    return {(body.metadata.namespace or "default", owner): member}


def lookup(index: Any, key: Any) -> list[Any]:
    """The entries under ``key`` (none before kopf filled the index)."""
    if index is None:
        return []
    return list(index.get(key, []))
