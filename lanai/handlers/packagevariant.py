"""PackageVariant: one upstream package revision, one downstream package kept in step.

The controller acts as a client would, through the API: it creates PackageRevision
objects (a clone of the upstream, an upgrade when the upstream publishes a new
revision, a copy when a published downstream needs the variant's changes) and edits
their PackageRevisionResources; Lanai's own handlers then do the Git work, so every CRD
rule, admission policy and Event applies as for a person. It never publishes. Its
downstreams carry an ownerReference to it, which is how it finds them again after a
restart; on deletion it deletes them (proposes the deletion of published ones) or lets
them go, per ``deletionPolicy``.

It does for a PackageVariant only what the variant's author could do themselves
(:mod:`lanai.trust.onbehalf`): each create, edit, delete, approval move and read of an
in-cluster object is checked with a SubjectAccessReview for the recorded requester.

A daemon per PackageVariant reconciles level-triggered: at start, on a spec change, when
a revision of its upstream or downstream package changes (``State.revision_changed``),
and periodically. Reads come from kopf indices and Lanai's Git cache, so a
reconciliation with nothing to do makes no API request.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from lanai.api import conditions, constants, names
from lanai.api.keys import PackageRevisionKey
from lanai.engine import edits, errors
from lanai.handlers import kube, resources, runtime, variantindex, variantstate
from lanai.trust import onbehalf, secrets
from lanai.variants import injection, mutations, revisions, spec

logger = logging.getLogger(__name__)

GROUP = constants.CONFIG_GROUP
VERSION = "v1alpha1"
PLURAL = "packagevariants"
RESOURCE = (GROUP, VERSION, PLURAL)
REVISIONS = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISIONS)
RESOURCES = (constants.PORCH_GROUP, constants.PORCH_VERSION, constants.PACKAGE_REVISION_RESOURCES)
PORCH_FINALIZER = "config.porch.kpt.dev/packagevariants"
"""Porch's finalizer: objects carried over from Porch have it; Lanai removes it."""
STALLED = "Stalled"


@dataclass
class Outcome:
    """What one reconciliation found: conditions to write, targets, what to say."""

    stalled: tuple[str, str] | None = None
    """(reason, message) when the spec or its upstream stops all progress."""
    problems: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    targets: list[revisions.Revision] = field(default_factory=list)
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, reason, message) Events to post."""
    delay: float | None = None

    def note(self, reason: str, message: str, type_: str = "Normal") -> None:
        self.notes.append((type_, reason, message))


def requester_of(body: Mapping[str, Any]) -> secrets.Requester | None:
    return secrets.requester_of((body.get("metadata") or {}).get("annotations"))


def _owner_reference(body: Mapping[str, Any], controller: bool = True) -> dict[str, Any]:
    metadata = body.get("metadata") or {}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": variantindex.VARIANT_KIND,
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
        "controller": controller,
    }


def downstream_body(
    body: Mapping[str, Any],
    variant: spec.VariantSpec,
    workspace: str,
    source: Mapping[str, Any],
    package: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A new Draft of the downstream package, owned by the PackageVariant ``body``."""
    repo, name = package or (variant.downstream.repo, variant.downstream.package)
    metadata: dict[str, Any] = {
        "name": names.package_revision_name(repo, name, workspace),
        "namespace": (body.get("metadata") or {}).get("namespace"),
        "ownerReferences": [_owner_reference(body)],
    }
    if variant.labels:
        metadata["labels"] = dict(variant.labels)
    if variant.annotations:
        metadata["annotations"] = dict(variant.annotations)
    return {
        "apiVersion": f"{constants.PORCH_GROUP}/{constants.PORCH_VERSION}",
        "kind": "PackageRevision",
        "metadata": metadata,
        "spec": {
            "repository": repo,
            "packageName": name,
            "workspaceName": workspace,
            "lifecycle": revisions.DRAFT,
            "source": dict(source),
        },
    }


class Reconciler:
    """One reconciliation of one PackageVariant (a fresh instance each time)."""

    def __init__(
        self,
        rt: runtime.Runtime,
        state: variantstate.State,
        body: kopf.Body,
        index: Any,
    ) -> None:
        self.rt = rt
        self.state = state
        self.body = body
        self.index = index
        self.namespace = body.metadata.namespace or "default"
        self.name = body.metadata.name or ""
        self.uid = str(body.metadata.uid or "")
        self.generation = int(body.metadata.get("generation") or 0)
        self.requester = requester_of(body)
        self.outcome = Outcome()

    def revisions_of(self, repo: str, package: str) -> list[revisions.Revision]:
        return variantindex.lookup(self.index, ("package", self.namespace, repo, package))

    def owned(self) -> list[revisions.Revision]:
        return variantindex.lookup(self.index, ("owner", self.namespace, self.uid))

    async def allowed(self, act: onbehalf.Act) -> bool:
        refusal = await self.state.refusal(self.requester, self.namespace, act)
        if refusal:
            self.outcome.problems.append(refusal)
        return not refusal

    async def run(self) -> Outcome:
        variant, problems = spec.parse(self.body.spec)
        if variant is None:
            self.outcome.stalled = ("ValidationError", "; ".join(problems))
            return self.outcome
        up, down = variant.upstream, variant.downstream
        self.state.follow(
            "variant",
            (self.namespace, self.name),
            [(self.namespace, up.repo, up.package), (self.namespace, down.repo, down.package)],
        )
        upstream_revisions = self.revisions_of(up.repo, up.package)
        upstream = revisions.find_upstream(up, upstream_revisions)
        if upstream is None:
            self.outcome.stalled = (
                "UpstreamNotFound",
                f"could not find upstream package revision: {up.describe()} (namespace "
                f"{self.namespace}); Lanai follows it as soon as it exists",
            )
            return self.outcome
        known = {r.name: r for r in [*self.owned(), *self.revisions_of(down.repo, down.package)]}
        selection = revisions.select(self.uid, variant, known.values())
        for stray in selection.strays:
            await let_go(self, stray, variant.orphans, "it is not the downstream package any more")
        for skipped in selection.skipped:
            self.outcome.problems.append(
                f"{skipped.name} is controlled by another object; not adopted"
            )
        for adopted in selection.adopt:
            await self.adopt(adopted, variant)
        if not selection.targets:
            in_package = [
                r for r in self.revisions_of(down.repo, down.package) if not r.is_placeholder
            ]
            going = [r.name for r in in_package if r.deleting]
            if going:
                self.outcome.pending.append(f"waiting for {', '.join(going)} to be deleted")
            elif in_package:
                self.outcome.problems.append(
                    f"package {down.package} already exists in repository {down.repo} and is "
                    f"not this variant's ({', '.join(sorted(r.name for r in in_package))}): set "
                    "adoptionPolicy: adoptExisting to take it over, or choose another package"
                )
            else:
                source = {"cloneFrom": {"upstreamRef": {"name": upstream.name}}}
                await self.create(variant, upstream, source)
            return self.outcome
        for target in selection.targets:
            await self.keep(target, variant, upstream, upstream_revisions)
        return self.outcome

    async def create(
        self,
        variant: spec.VariantSpec,
        upstream: revisions.Revision,
        source: Mapping[str, Any],
        what: str = "",
    ) -> None:
        if not await self.allowed(onbehalf.CREATE_REVISIONS):
            return
        down = variant.downstream
        workspace = revisions.new_workspace(
            self.revisions_of(down.repo, down.package), down.repo, down.package
        )
        made = downstream_body(self.body, variant, workspace, source)
        name = made["metadata"]["name"]
        try:
            await kube.create(self.rt.api, *REVISIONS[:2], self.namespace, REVISIONS[2], made)
        except kube.ApiError as error:
            if error.status == 409:  # made meanwhile (a restart, a slow index): look again
                self.outcome.pending.append(f"{name} exists already; looking again")
                return
            self.outcome.problems.append(f"cannot create {name}: {error.message or error}")
            return
        message = what or f"created {name}, a clone of {upstream.name}"
        self.outcome.note("Created", message)
        self.outcome.pending.append(f"waiting for {name} to be created in Git")
        # The new Draft replaces the revision it was made from among the downstreams.
        made_revision = revisions.Revision(name, down.repo, down.package, workspace)
        replaced = source.get("upgrade", {}).get("currentPackage", {}).get("name") or (
            source.get("copyFrom", {}).get("name")
        )
        self.outcome.targets = [t for t in self.outcome.targets if t.name != replaced]
        self.outcome.targets.append(made_revision)

    async def adopt(self, adopted: revisions.Revision, variant: spec.VariantSpec) -> None:
        if not await self.allowed(onbehalf.CHANGE_REVISIONS):
            return
        found = await kube.find(
            self.rt.api, *REVISIONS[:2], self.namespace, REVISIONS[2], adopted.name
        )
        if found is None:
            return
        metadata = found.get("metadata") or {}
        references = list(metadata.get("ownerReferences") or [])
        controlled = any(r.get("controller") for r in references)
        references.append(_owner_reference(self.body, controller=not controlled))
        patch: dict[str, Any] = {
            "metadata": {
                "resourceVersion": metadata.get("resourceVersion"),
                "ownerReferences": references,
            }
        }
        if variant.labels:
            patch["metadata"]["labels"] = dict(variant.labels)
        if variant.annotations:
            patch["metadata"]["annotations"] = dict(variant.annotations)
        try:
            await kube.merge_patch(
                self.rt.api, *REVISIONS[:2], self.namespace, REVISIONS[2], adopted.name, patch
            )
        except kube.ApiError as error:
            if error.status in (404, 409):
                self.outcome.pending.append(f"{adopted.name} changed while being adopted")
                return
            raise
        self.outcome.note("Adopted", f"adopted {adopted.name} (adoptionPolicy adoptExisting)")

    async def keep(
        self,
        target: revisions.Revision,
        variant: spec.VariantSpec,
        upstream: revisions.Revision,
        upstream_revisions: list[revisions.Revision],
    ) -> None:
        """Bring one downstream up to date: un-propose its deletion, upgrade it, apply the
        variant's changes to it."""
        self.outcome.targets.append(target)
        if target.lifecycle == revisions.DELETION_PROPOSED:
            if await self.allowed(onbehalf.APPROVE):
                await self.set_lifecycle(target, revisions.PUBLISHED)
                self.outcome.note(
                    "DeletionWithdrawn", f"{target.name} is this variant's downstream again"
                )
            return
        if not revisions.up_to_date(target, upstream):
            if not target.is_published:
                self.outcome.problems.append(
                    f"{target.name} is {target.lifecycle}, based on {target.upstream_lock[2]}, "
                    f"but the upstream is now {upstream.name}: publish {target.name} (or delete "
                    "it), and Lanai makes an upgrade Draft from it"
                )
                return
            old = revisions.old_upstream(target, variant.upstream, upstream_revisions)
            if old is None:
                self.outcome.problems.append(
                    f"cannot upgrade {target.name}: its upstream lock {target.upstream_lock[2]!r} "
                    f"is not a published revision of {variant.upstream.package} in "
                    f"{variant.upstream.repo}"
                )
                return
            source = {
                "upgrade": {
                    "oldUpstream": {"name": old.name},
                    "newUpstream": {"name": upstream.name},
                    "currentPackage": {"name": target.name},
                    "strategy": "resource-merge",
                }
            }
            await self.create(
                variant, upstream, source,
                f"upgrading {target.name} from {old.name} to {upstream.name}",
            )  # fmt: skip
            return
        if not (target.in_git and target.settled):
            self.outcome.pending.append(f"waiting for {target.name} to be created in Git")
            return
        if not target.ready and target.message.startswith(edits.PENDING):
            # An edit (this variant's own, often) on its way to Git: not a problem.
            self.outcome.pending.append(f"downstream {target.name}: {target.message}")
            return
        if not target.ready:
            self.outcome.problems.append(f"downstream {target.name}: {target.message}")
            return
        await self.apply_changes(target, variant, upstream)

    async def set_lifecycle(self, target: revisions.Revision, lifecycle: str) -> None:
        await kube.merge_patch(
            self.rt.api, *REVISIONS[:2], self.namespace, REVISIONS[2], target.name,
            {"spec": {"lifecycle": lifecycle}},
        )  # fmt: skip

    async def mutated(
        self, variant: spec.VariantSpec, files: Mapping[str, str]
    ) -> tuple[dict[str, str], bool]:
        """The files with the variant's changes, and whether they have injection points."""
        result = mutations.apply(files, self.name, variant)
        points = injection.find_points(result)
        if not points:
            return result, False
        reads = {
            ref: await read_object(self.state, self.namespace, ref, self.requester)
            for ref in injection.wanted(points, variant.injectors)
        }
        return injection.inject(result, points, variant.injectors, reads), True

    async def apply_changes(
        self,
        target: revisions.Revision,
        variant: spec.VariantSpec,
        upstream: revisions.Revision,
    ) -> None:
        checked_key = (self.uid, target.name)
        checked = self.state.checked.get(checked_key)
        now = _now()
        if (
            checked is not None
            and checked.generation == self.generation
            and checked.commit == target.commit
            and now - checked.at < self.state.recheck
        ):
            return
        key = PackageRevisionKey(
            self.namespace, target.repository, target.package, target.workspace
        )
        try:
            files = resources.textual(await self.rt.engine.read_files(key))
            wanted, injects = await self.mutated(variant, files)
        except errors.EngineError as error:
            self.outcome.pending.append(f"cannot read {target.name} yet: {error}")
            return
        except mutations.MutationError as error:
            self.outcome.problems.append(f"cannot apply the variant to {target.name}: {error}")
            return
        if not mutations.changed(files, wanted):
            # Without injection points the content can change only with a new commit;
            # injected objects can change any time, so those are checked again later.
            self.state.checked[checked_key] = variantstate.Checked(
                self.generation, target.commit, now if injects else math.inf
            )
            return
        self.state.checked.pop(checked_key, None)
        if target.lifecycle == revisions.DRAFT:
            await self.edit(target, variant)
        elif target.is_published:
            await self.create(
                variant, upstream, {"copyFrom": {"name": target.name}},
                f"created a Draft copy of {target.name} to apply the variant's changes",
            )  # fmt: skip
        else:
            self.outcome.problems.append(
                f"{target.name} is {target.lifecycle}: the variant's changes to it wait until "
                "it is back in Draft, or published (then Lanai makes a Draft copy)"
            )

    async def edit(self, target: revisions.Revision, variant: spec.VariantSpec) -> None:
        """Write the variant's changes into the Draft's resources object."""
        found = await kube.find(
            self.rt.api, *RESOURCES[:2], self.namespace, RESOURCES[2], target.name
        )
        if found is None:
            self.outcome.pending.append(f"waiting for the resources of {target.name}")
            return
        metadata = found.get("metadata") or {}
        status = found.get("status") or {}
        if status.get("observedGeneration") != metadata.get("generation"):
            self.outcome.pending.append(f"waiting for an edit of {target.name} to be committed")
            return
        shown = {
            str(k): str(v) for k, v in ((found.get("spec") or {}).get("resources") or {}).items()
        }
        try:
            wanted, _ = await self.mutated(variant, shown)
        except mutations.MutationError as error:
            self.outcome.problems.append(f"cannot apply the variant to {target.name}: {error}")
            return
        changes = mutations.changed(shown, wanted)
        if not changes:
            render_error = (status.get("renderStatus") or {}).get("error")
            if render_error:
                self.outcome.problems.append(
                    f"{target.name} does not render with the variant's changes: {render_error}"
                )
            else:
                self.outcome.pending.append(f"waiting for the edit of {target.name} to reach Git")
            return
        if not await self.allowed(onbehalf.EDIT_RESOURCES):
            return
        patch = {
            "metadata": {"resourceVersion": metadata.get("resourceVersion")},
            "spec": {"resources": changes},
        }
        try:
            await kube.merge_patch(
                self.rt.api, *RESOURCES[:2], self.namespace, RESOURCES[2], target.name, patch
            )
        except kube.ApiError as error:
            if error.status in (404, 409):
                self.outcome.pending.append(f"{target.name} changed meanwhile; looking again")
                return
            self.outcome.problems.append(f"cannot edit {target.name}: {error.message or error}")
            return
        self.outcome.note(
            "Edited", f"applied the variant to {target.name} ({', '.join(sorted(changes))})"
        )
        self.outcome.pending.append(f"waiting for the edit of {target.name} to reach Git")


def _now() -> float:
    return time.monotonic()


async def read_object(
    state: variantstate.State,
    namespace: str,
    ref: injection.ObjectRef,
    requester: secrets.Requester | None,
) -> injection.Read:
    """One in-cluster object to inject, read only if the requester may read it."""
    refused = onbehalf.refused_kind(ref.group, ref.kind)
    if refused:
        return injection.Read(problem=refused)
    try:
        group, version, plural, _namespaced = await state.resource_of(ref.api_version, ref.kind)
    except variantstate.NoSuchKind as error:
        return injection.Read(problem=str(error))
    refusal = await state.refusal(
        requester, namespace, onbehalf.read_object(group, plural, ref.name)
    )
    if refusal:
        return injection.Read(problem=refusal)
    try:
        found = await kube.find(state.api, group, version, namespace, plural, ref.name)
    except kube.ApiError as error:
        if error.status == 403:
            return injection.Read(
                problem=f"the operator may not read {plural} in {namespace}: grant its "
                f'ServiceAccount "get" on {plural} (see config/rbac/role.yaml)'
            )
        return injection.Read(problem=f"reading {plural} {ref.name} failed: HTTP {error.status}")
    return injection.Read(found=found)


async def _remove_owner(
    api: kube.Api, namespace: str, name: str, uid: str, patch: Mapping[str, Any] | None = None
) -> bool:
    found = await kube.find(api, *REVISIONS[:2], namespace, REVISIONS[2], name)
    if found is None:
        return False
    metadata = found.get("metadata") or {}
    references = [r for r in metadata.get("ownerReferences") or [] if r.get("uid") != uid]
    body: dict[str, Any] = {
        "metadata": {
            "resourceVersion": metadata.get("resourceVersion"),
            "ownerReferences": references or None,
        },
        **(patch or {}),
    }
    await kube.merge_patch(api, *REVISIONS[:2], namespace, REVISIONS[2], name, body)
    return True


async def let_go(
    reconciler: Reconciler | Releaser, revision: revisions.Revision, orphan: bool, why: str
) -> None:
    """Porch's deleteOrOrphan: delete a Draft/Proposed downstream, propose the deletion
    of a published one (and let it go, so garbage collection does not delete it without
    approval), or just remove the ownerReference; whatever the requester may not do
    falls back to letting go, with a Warning that says who must act."""
    api, namespace, uid = reconciler.rt.api, reconciler.namespace, reconciler.uid
    outcome = reconciler.outcome
    if revision.deleting or revision.is_placeholder:
        return
    try:
        if not orphan and revision.lifecycle in (revisions.DRAFT, revisions.PROPOSED):
            refusal = await reconciler.state.refusal(
                reconciler.requester, namespace, onbehalf.DELETE_REVISIONS
            )
            if not refusal:
                try:
                    await kube.delete(api, *REVISIONS[:2], namespace, REVISIONS[2], revision.name)
                except kube.ApiError as error:
                    if error.status != 404:
                        raise
                outcome.note("Deleted", f"deleted {revision.name}: {why}")
                return
            outcome.note("Orphaned", f"left {revision.name} in place: {refusal}", "Warning")
        elif not orphan and revision.lifecycle == revisions.PUBLISHED:
            refusal = await reconciler.state.refusal(
                reconciler.requester, namespace, onbehalf.APPROVE
            )
            if not refusal:
                await _remove_owner(
                    api, namespace, revision.name, uid,
                    {"spec": {"lifecycle": revisions.DELETION_PROPOSED}},
                )  # fmt: skip
                outcome.note(
                    "DeletionProposed",
                    f"proposed the deletion of {revision.name}: {why}; an approver deletes it",
                )
                return
            outcome.note(
                "Orphaned",
                f"left {revision.name} Published: {refusal}; an approver may propose its deletion",
                "Warning",
            )
        removed = await _remove_owner(api, namespace, revision.name, uid)
        if removed and orphan:
            outcome.note("Orphaned", f"let go of {revision.name} (deletionPolicy orphan): {why}")
    except kube.ApiError as error:
        if error.status in (404, 409):
            outcome.pending.append(f"{revision.name} changed meanwhile; looking again")
            return
        raise


@dataclass
class Releaser:
    """What :func:`let_go` needs when the PackageVariant itself is going."""

    rt: runtime.Runtime
    state: variantstate.State
    namespace: str
    uid: str
    requester: secrets.Requester | None
    outcome: Outcome = field(default_factory=Outcome)


# -- status --------------------------------------------------------------------------


def status_of(body: Mapping[str, Any], outcome: Outcome, generation: int) -> dict[str, Any]:
    current = (body.get("status") or {}).get("conditions")
    found = current
    if outcome.stalled:
        reason, message = outcome.stalled
        found = conditions.upsert(
            found, conditions.Condition(STALLED, "True", reason, message, generation)
        )
        found = conditions.upsert(
            found,
            conditions.Condition(
                constants.READY, "False", "Error", "invalid packagevariant object: " + message
                if reason == "ValidationError" else message, generation,
            ),
        )  # fmt: skip
        return {"conditions": found}
    found = conditions.upsert(
        found,
        conditions.Condition(STALLED, "False", "Valid", "all validation checks passed", generation),
    )
    if outcome.problems:
        ready = conditions.Condition(
            constants.READY, "False", "Error", "; ".join(outcome.problems), generation
        )
    elif outcome.pending:
        ready = conditions.Condition(
            constants.READY, "False", constants.REASON_RECONCILING, "; ".join(outcome.pending),
            generation,
        )  # fmt: skip
    else:
        ready = conditions.Condition(
            constants.READY, "True", "NoErrors", "successfully ensured downstream package variant",
            generation,
        )  # fmt: skip
    found = conditions.upsert(found, ready)
    targets = [
        {"name": t.name, **({"renderStatus": t.render_status} if t.render_status else {})}
        for t in outcome.targets
    ]
    return {"conditions": found, "downstreamTargets": targets}


def _changed(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return any(current.get(k) != v for k, v in wanted.items())


def _only_progress(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """The change is only which step a reconciling variant is waiting for: not worth an
    API write (the condition says Reconciling either way; the next state is written)."""
    before = conditions.find(current.get("conditions"), constants.READY) or {}
    after = conditions.find(wanted.get("conditions"), constants.READY) or {}
    if after.get("reason") != constants.REASON_RECONCILING or before.get("reason") != after.get(
        "reason"
    ):
        return False
    if before.get("observedGeneration") != after.get("observedGeneration"):
        return False
    same_rest = [c for c in current.get("conditions") or [] if c.get("type") != constants.READY]
    wanted_rest = [c for c in wanted.get("conditions") or [] if c.get("type") != constants.READY]

    def names(status: Mapping[str, Any]) -> list[Any]:
        return [t.get("name") for t in status.get("downstreamTargets") or []]

    return same_rest == wanted_rest and names(current) == names(wanted)


async def write_status(
    rt: runtime.Runtime, body: kopf.Body, outcome: Outcome, generation: int
) -> None:
    wanted = status_of(body, outcome, generation)
    current = body.get("status") or {}
    if _changed(current, wanted) and not _only_progress(current, wanted):
        await kube.patch_object_status(rt.api, RESOURCE, body, wanted)
    before = conditions.find(current.get("conditions"), constants.READY) or {}
    after = conditions.find(wanted["conditions"], constants.READY) or {}
    for type_, reason, message in outcome.notes:
        await rt.events.post(body, type_, reason, message)  # type: ignore[arg-type]
    failing = after.get("status") == "False" and after.get("reason") != constants.REASON_RECONCILING
    if failing and before.get("message") != after.get("message"):
        await rt.events.post(body, "Warning", str(after.get("reason")), str(after.get("message")))


# -- kopf handlers ---------------------------------------------------------------------


async def reconcile(
    body: kopf.Body, rt: runtime.Runtime, state: variantstate.State, index: Any
) -> float:
    """One reconciliation; the seconds until the next unless woken."""
    generation = int(body.metadata.get("generation") or 0)
    async with state.limit:
        reconciler = Reconciler(rt, state, body, index)
        try:
            outcome = await reconciler.run()
        except kube.ApiError as error:
            outcome = reconciler.outcome
            outcome.problems.append(f"the API server answered HTTP {error.status}: {error.message}")
        await write_status(rt, body, outcome, generation)
    logger.debug(
        "PackageVariant %s/%s: stalled=%s problems=%s pending=%s",
        body.metadata.namespace,
        body.metadata.name,
        outcome.stalled,
        outcome.problems,
        outcome.pending,
    )
    if outcome.stalled:
        return state.retry * 6
    if outcome.problems or outcome.pending:
        return state.retry
    return state.recheck


async def daemon(
    body: kopf.Body, stopped: kopf.DaemonStopped, memo: kopf.Memo, **kwargs: Any
) -> None:
    rt = runtime.of(memo)
    state = variantstate.of(memo)
    key = (body.metadata.namespace or "default", body.metadata.name or "")
    uid = str(body.metadata.uid or "")
    state.variants_by_uid[uid] = key
    try:
        await variantstate.run(
            state,
            "variant",
            key,
            stopped,
            lambda: reconcile(body, rt, state, kwargs.get(variantindex.REVISIONS)),
        )
    finally:
        state.forget("variant", key)
        if state.variants_by_uid.get(uid) == key:
            del state.variants_by_uid[uid]
        for checked in [k for k in state.checked if k[0] == uid]:
            del state.checked[checked]


async def release(
    body: Mapping[str, Any], rt: runtime.Runtime, state: variantstate.State, index: Any
) -> Outcome:
    """Deletion: let every owned revision go per deletionPolicy."""
    metadata = body.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    uid = str(metadata.get("uid") or "")
    orphan = (body.get("spec") or {}).get("deletionPolicy") == spec.ORPHAN
    releaser = Releaser(rt, state, namespace, uid, requester_of(body))
    for revision in variantindex.lookup(index, ("owner", namespace, uid)):
        await let_go(releaser, revision, orphan, "its PackageVariant was deleted")
    return releaser.outcome


async def delete(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    rt = runtime.of(memo)
    state = variantstate.of(memo)
    outcome = await release(body, rt, state, kwargs.get(variantindex.REVISIONS))
    for type_, reason, message in outcome.notes:
        await rt.events.post(body, type_, reason, message)  # type: ignore[arg-type]
    if outcome.pending:
        raise kopf.TemporaryError("; ".join(outcome.pending), delay=state.retry)


async def variant_event(
    event: Mapping[str, Any], body: kopf.Body, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Wake the daemon on a spec change; tell the owning set when a member changes; and
    drop Porch's finalizer once Lanai's own is gone."""
    state = variantstate.of(memo)
    key = (body.metadata.namespace or "default", body.metadata.name or "")
    generation = int(body.metadata.get("generation") or 0)
    ready = conditions.find((body.get("status") or {}).get("conditions"), constants.READY) or {}
    if ready.get("observedGeneration") != generation:
        state.wake("variant", key)
    owner = (body.metadata.labels or {}).get(variantindex.SET_OWNER_LABEL)
    if owner and (
        event.get("type") == "DELETED" or state.variant_generations.get(key) != generation
    ):
        set_key = state.sets_by_uid.get(owner)
        if set_key:
            state.wake("set", set_key)
    if event.get("type") == "DELETED":
        state.variant_generations.pop(key, None)
    else:
        state.variant_generations[key] = generation
    finalizers = list(body.metadata.get("finalizers") or [])
    if (
        body.metadata.get("deletionTimestamp")
        and PORCH_FINALIZER in finalizers
        and constants.FINALIZER not in finalizers
    ):
        rt = runtime.of(memo)
        outcome = await release(body, rt, state, kwargs.get(variantindex.REVISIONS))
        for type_, reason, message in outcome.notes:
            await rt.events.post(body, type_, reason, message)  # type: ignore[arg-type]
        if outcome.pending:
            return  # the next event (or the operator's next start) tries again
        patch = [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": body.metadata.get("resourceVersion"),
            },
            {
                "op": "replace",
                "path": "/metadata/finalizers",
                "value": [f for f in finalizers if f != PORCH_FINALIZER],
            },
        ]
        try:
            await rt.api.request(
                "PATCH",
                kube.objects_path(*RESOURCE[:2], key[0], RESOURCE[2], key[1]),
                patch,  # type: ignore[arg-type]
                "application/json-patch+json",
            )
        except kube.ApiError as error:
            if error.status not in (404, 409, 422):
                raise


async def startup(memo: kopf.Memo, **_: Any) -> None:
    variantstate.install(memo)


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.on.startup(registry=registry, id="variant-state")(startup)
    kopf.index(*REVISIONS, registry=registry, id=variantindex.REVISIONS)(
        variantindex.index_revision
    )
    kopf.daemon(*RESOURCE, registry=registry, id="variant", cancellation_timeout=10)(daemon)
    kopf.on.delete(*RESOURCE, registry=registry, id="release-downstreams")(delete)
    kopf.on.event(*RESOURCE, registry=registry, id="variant-changed")(variant_event)
