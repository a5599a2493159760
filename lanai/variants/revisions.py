"""The PackageRevision facts a PackageVariant decides on, and its decisions over them.

One :class:`Revision` per PackageRevision object, kept in the operator's index; from
those, without I/O: which revision is the upstream to follow, which revisions are this
variant's downstreams (or are to be adopted, or let go), whether a downstream is behind
its upstream, and the next ``packagevariant-N`` workspace. Porch's rules, with Lanai's
names: a published revision has ``revision > 0``; ``-1`` is the package on its branch
(a placeholder, never a clone source, never a downstream).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lanai.variants import spec

DRAFT = "Draft"
PROPOSED = "Proposed"
PUBLISHED = "Published"
DELETION_PROPOSED = "DeletionProposed"
PUBLISHED_STATES = (PUBLISHED, DELETION_PROPOSED)
WORKSPACE_PREFIX = "packagevariant-"
"""Workspaces of the revisions a PackageVariant creates: packagevariant-1, -2, ..."""
PLACEHOLDER = -1

_WORKSPACE_NUMBER = re.compile(r"^packagevariant-([0-9]+)$")
_REVISION_TAIL = re.compile(r"^v([0-9]+)$")


@dataclass(frozen=True, slots=True)
class Revision:
    """What a PackageVariant needs to know of one PackageRevision object."""

    name: str
    repository: str
    package: str
    workspace: str
    lifecycle: str = DRAFT
    revision: int = 0
    uid: str = ""
    owners: tuple[str, ...] = ()
    """UIDs of the PackageVariants in its ownerReferences."""
    controlled_by_other: bool = False
    """Another object is its controller (ownerReference with controller: true)."""
    self_lock: tuple[str, str, str] = ("", "", "")
    """(repo, directory, ref) of status.selfLock.git: where Git holds it."""
    upstream_lock: tuple[str, str, str] = ("", "", "")
    """(repo, directory, ref) of status.upstreamLock.git: what it was cloned from."""
    commit: str = ""
    """status.selfLock.git.commit: its content, for "already checked" bookkeeping."""
    settled: bool = False
    """Lanai acted on its latest spec (observedGeneration == generation)."""
    ready: bool = False
    message: str = ""
    """The Ready condition's message when not ready."""
    render_status: dict[str, object] | None = field(default=None, compare=False)
    deleting: bool = False

    @property
    def is_placeholder(self) -> bool:
        return self.revision == PLACEHOLDER

    @property
    def is_published(self) -> bool:
        return self.lifecycle in PUBLISHED_STATES and self.revision > 0

    @property
    def in_git(self) -> bool:
        return bool(self.self_lock[2])


def find_upstream(upstream: spec.Upstream, revisions: Iterable[Revision]) -> Revision | None:
    """The revision of the upstream package to follow: the given workspace, else the
    given revision number, else the highest Published revision."""
    candidates = [
        r
        for r in revisions
        if r.repository == upstream.repo
        and r.package == upstream.package
        and not r.deleting
        and not r.is_placeholder
    ]
    if upstream.workspace:
        return next((r for r in candidates if r.workspace == upstream.workspace), None)
    if upstream.revision is not None:
        return next(
            (r for r in candidates if r.is_published and r.revision == upstream.revision), None
        )
    published = [r for r in candidates if r.lifecycle == PUBLISHED and r.revision > 0]
    return max(published, key=lambda r: r.revision, default=None)


def new_workspace(revisions: Iterable[Revision], repository: str, package: str) -> str:
    """``packagevariant-N``, N one more than any such workspace of the package."""
    highest = 0
    for r in revisions:
        if r.repository != repository or r.package != package:
            continue
        found = _WORKSPACE_NUMBER.match(r.workspace)
        if found:
            highest = max(highest, int(found.group(1)))
    return f"{WORKSPACE_PREFIX}{highest + 1}"


@dataclass(frozen=True)
class Selection:
    """A PackageVariant's revisions, sorted into what it does with them."""

    targets: tuple[Revision, ...] = ()
    """Its downstreams: every Draft/Proposed one, else the latest published one."""
    adopt: tuple[Revision, ...] = ()
    """Revisions of the downstream package it takes over (adoptExisting)."""
    strays: tuple[Revision, ...] = ()
    """Revisions it owns that are not of its downstream package (any more)."""
    skipped: tuple[Revision, ...] = ()
    """Revisions it would adopt that another object controls."""


def select(uid: str, variant: spec.VariantSpec, revisions: Iterable[Revision]) -> Selection:
    """Porch's choice of downstreams: owned (or, with adoptExisting, adoptable)
    revisions of the downstream package; Drafts and Proposed ones if there are any,
    else the highest published one. Owned revisions of another package are strays."""
    target = variant.downstream
    drafts: list[Revision] = []
    published: Revision | None = None
    adopt: list[Revision] = []
    strays: list[Revision] = []
    skipped: list[Revision] = []
    for r in revisions:
        if r.deleting or r.is_placeholder:
            continue
        owned = uid in r.owners
        matches = r.repository == target.repo and r.package == target.package
        if not matches:
            if owned:
                strays.append(r)
            continue
        if not owned:
            if not variant.adopts:
                continue
            if r.controlled_by_other:
                skipped.append(r)
                continue
            adopt.append(r)
        if r.lifecycle in PUBLISHED_STATES:
            if published is None or r.revision > published.revision:
                published = r
        else:
            drafts.append(r)
    targets = tuple(sorted(drafts, key=lambda r: r.name)) or ((published,) if published else ())
    return Selection(targets, tuple(adopt), tuple(strays), tuple(skipped))


def revision_of_ref(ref: str) -> int | None:
    """N from a published revision's ref ``<package path>/vN`` (None for a branch)."""
    found = _REVISION_TAIL.match(ref.rpartition("/")[2])
    return int(found.group(1)) if found else None


def up_to_date(downstream: Revision, upstream: Revision) -> bool:
    """Whether ``downstream`` was cloned from (or upgraded to) ``upstream``.

    As in Porch, a downstream with no recorded upstream counts as up to date (an adopted
    package made by hand), and one cloned from a draft branch never does.
    """
    _repo, directory, ref = downstream.upstream_lock
    if not ref:
        return True
    if ref.startswith("drafts/"):
        return False
    wanted_directory, wanted_ref = upstream.self_lock[1], upstream.self_lock[2]
    return ref == wanted_ref and (not wanted_directory or directory == wanted_directory)


def old_upstream(
    downstream: Revision, upstream: spec.Upstream, revisions: Iterable[Revision]
) -> Revision | None:
    """The published upstream revision ``downstream`` is based on (for an upgrade's
    oldUpstream): the revision number at the end of its upstream lock's ref."""
    number = revision_of_ref(downstream.upstream_lock[2])
    if number is None:
        return None
    return next(
        (
            r
            for r in revisions
            if r.repository == upstream.repo
            and r.package == upstream.package
            and r.is_published
            and r.revision == number
        ),
        None,
    )
