"""PackageVariantSet: one upstream package, exactly one PackageVariant per target.

Each reconciliation computes the whole desired set (targets unrolled, templates
rendered with CEL) before writing anything; an invalid spec, a missing upstream, a
selector that cannot be listed or an expression that fails sets ``Stalled=True`` with
the cause (the expression and its error) and changes nothing, so a typo never deletes a
fleet of downstreams. Otherwise PackageVariants are created, patched (only when their
spec differs) and deleted to match, each labelled with the set's uid and owned by it.

Repositories come from a kopf index; other kinds a selector names are listed from the
API, only if the set's author may list them (a SubjectAccessReview), and again every
period since their changes reach no watch of Lanai's. The PackageVariants carry the
set's recorded author as theirs (the admission policy lets only the operator delegate
so), so they do no more than that author could.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from lanai.api import conditions, constants
from lanai.handlers import kube, packagevariant, runtime, variantindex, variantstate
from lanai.trust import onbehalf, secrets
from lanai.variants import naming, revisions, targets, templates
from lanai.variants import spec as variant_spec

logger = logging.getLogger(__name__)

GROUP = constants.CONFIG_GROUP
VERSION = "v1alpha2"
PLURAL = "packagevariantsets"
RESOURCE = (GROUP, VERSION, PLURAL)
VARIANTS = packagevariant.RESOURCE
REPOSITORIES = (constants.CONFIG_GROUP, constants.CONFIG_VERSION, constants.REPOSITORIES)
WRITERS = 8
"""PackageVariant writes in flight at once."""


@dataclass
class Outcome:
    stalled: tuple[str, str] | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "deleted": 0}
    )
    total: int = 0
    selects_objects: bool = False
    """A target lists a kind Lanai does not watch: look again every period."""


class Stalled(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Reconciler:
    def __init__(
        self,
        rt: runtime.Runtime,
        state: variantstate.State,
        body: kopf.Body,
        indices: Mapping[str, Any],
    ) -> None:
        self.rt = rt
        self.state = state
        self.body = body
        self.indices = indices
        self.namespace = body.metadata.namespace or "default"
        self.name = body.metadata.name or ""
        self.uid = str(body.metadata.uid or "")
        self.requester = secrets.requester_of(body.metadata.annotations)
        self.evaluator = state.evaluator
        self.outcome = Outcome()

    def repositories(self) -> dict[str, targets.ObjectView]:
        views = variantindex.lookup(self.indices.get(variantindex.REPOSITORIES), self.namespace)
        return {view.name: view for view in views}

    async def run(self) -> Outcome:
        spec = dict(self.body.spec)
        problems = targets.problems(spec)
        if problems:
            raise Stalled("ValidationError", "; ".join(problems))
        upstream_spec = spec["upstream"]
        upstream_wanted = variant_spec.Upstream(
            str(upstream_spec["repo"]),
            str(upstream_spec["package"]),
            variant_spec.parse_revision(upstream_spec.get("revision")),
            str(upstream_spec.get("workspaceName") or ""),
        )
        self.state.follow(
            "set",
            (self.namespace, self.name),
            [(self.namespace, upstream_wanted.repo, upstream_wanted.package)],
        )
        found = variantindex.lookup(
            self.indices.get(variantindex.REVISIONS),
            ("package", self.namespace, upstream_wanted.repo, upstream_wanted.package),
        )
        upstream = revisions.find_upstream(upstream_wanted, found)
        if upstream is None:
            raise Stalled(
                "UpstreamNotFound",
                f"could not find upstream package revision: {upstream_wanted.describe()} "
                f"(namespace {self.namespace})",
            )
        repositories = self.repositories()
        selected: dict[int, list[targets.ObjectView]] = {}
        for index, target in enumerate(spec["targets"]):
            if target.get("repositories"):
                continue
            selected[index] = await self.select(index, target, repositories)
        unrolled = targets.unroll(spec, selected)
        if len(unrolled) > targets.MAX_TARGETS:
            raise Stalled(
                "TooManyTargets",
                f"the targets ask for {len(unrolled)} PackageVariants, more than "
                f"{targets.MAX_TARGETS}; narrow the selectors",
            )
        upstream_view = targets.ObjectView(upstream.name, self.namespace)
        upstream_body = await self.upstream_body(upstream.name)
        if upstream_body is not None:
            upstream_view = targets.ObjectView.of(upstream_body)
        desired: dict[str, dict[str, Any]] = {}
        for target in unrolled:
            try:
                rendered = templates.render(
                    upstream_spec, target, upstream_view, repositories, self.evaluator
                )
            except templates.ExpressionError as error:
                raise Stalled(
                    "InvalidExpression", f"{error} (for {target.describe()}); nothing was changed"
                ) from None
            except templates.TemplateError as error:
                raise Stalled("TemplateError", f"{error}; nothing was changed") from None
            down = rendered["downstream"]
            desired[naming.variant_name(self.name, down["repo"], down["package"])] = rendered
        self.outcome.total = len(desired)
        await self.converge(desired)
        return self.outcome

    async def upstream_body(self, name: str) -> dict[str, Any] | None:
        return await kube.find(
            self.rt.api, constants.PORCH_GROUP, constants.PORCH_VERSION, self.namespace,
            constants.PACKAGE_REVISIONS, name,
        )  # fmt: skip

    async def select(
        self, index: int, target: Mapping[str, Any], repositories: Mapping[str, targets.ObjectView]
    ) -> list[targets.ObjectView]:
        selector = targets.selector_of(target)
        if targets.selects_repositories(target):
            found = [
                v for v in repositories.values() if targets.selector_matches(selector, v.labels)
            ]
            return targets.filter_by_name(selector, sorted(found, key=lambda v: v.name))
        self.outcome.selects_objects = True
        api_version, kind = str(selector.get("apiVersion")), str(selector.get("kind"))
        where = f"spec.targets[{index}].objectSelector"
        try:
            group, version, plural, namespaced = await self.state.resource_of(api_version, kind)
        except variantstate.NoSuchKind as error:
            raise Stalled("NoMatchingTargets", f"{where}: {error}") from None
        refused = onbehalf.refused_kind(group, kind)
        if refused:
            raise Stalled("Forbidden", f"{where}: {refused}")
        if not namespaced:
            raise Stalled(
                "NoMatchingTargets",
                f"{where}: {kind} is cluster-scoped; a PackageVariantSet selects objects of its "
                "own namespace only",
            )
        refusal = await self.state.refusal(
            self.requester,
            self.namespace,
            onbehalf.list_objects(group, plural),
            "PackageVariantSet",
        )
        if refusal:
            raise Stalled("Forbidden", f"{where}: {refusal}")
        query = {"labelSelector": targets.selector_query(selector)}
        if selector.get("name"):
            query["fieldSelector"] = f"metadata.name={selector['name']}"
        try:
            items = await self.state.list_selected(group, version, plural, self.namespace, query)
        except kube.ApiError as error:
            hint = (
                f'; grant the operator\'s ServiceAccount "list" on {plural}'
                if error.status == 403
                else ""
            )
            raise Stalled(
                "NoMatchingTargets",
                f"{where}: listing {plural} failed: HTTP {error.status} {error.message}{hint}",
            ) from None
        except ValueError as error:
            raise Stalled("TooManyTargets", f"{where}: {error}") from None
        views = [targets.ObjectView.of(item) for item in items]
        return targets.filter_by_name(selector, sorted(views, key=lambda v: v.name))

    def variant_body(self, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        metadata = self.body.metadata
        return {
            "apiVersion": f"{GROUP}/{packagevariant.VERSION}",
            "kind": variantindex.VARIANT_KIND,
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {variantindex.SET_OWNER_LABEL: self.uid},
                "annotations": self.delegation(),
                "finalizers": [constants.FINALIZER],
                "ownerReferences": [
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": variantindex.SET_KIND,
                        "name": metadata.name,
                        "uid": metadata.uid,
                        "controller": True,
                    }
                ],
            },
            "spec": dict(spec),
        }

    def delegation(self) -> dict[str, str]:
        """The set's recorded author, to be recorded as the variants' (the admission
        policy keeps it only because the operator may delegate)."""
        annotations = self.body.metadata.annotations or {}
        return {
            k: str(annotations[k])
            for k in (secrets.REQUESTED_BY, secrets.REQUESTED_BY_GROUPS)
            if k in annotations
        }

    async def converge(self, desired: Mapping[str, dict[str, Any]]) -> None:
        members = variantindex.lookup(
            self.indices.get(variantindex.SET_VARIANTS), (self.namespace, self.uid)
        )
        existing = {m.name: m for m in members}
        delegation = self.delegation()
        writes: list[tuple[str, str, Any]] = []
        for name, member in existing.items():
            if name not in desired and not member.deleting:
                writes.append(("delete", name, None))
        for name, spec in desired.items():
            member = existing.get(name)
            if member is None:
                writes.append(("create", name, self.variant_body(name, spec)))
            elif member.deleting:
                continue  # it is going; made again once gone
            elif dict(member.spec) != spec or any(
                member.annotations.get(k) != v for k, v in delegation.items()
            ):
                writes.append(("update", name, spec))
        pending = iter(writes)

        async def worker() -> None:
            for action, name, payload in pending:
                await self.write(action, name, payload, delegation)

        await asyncio.gather(*(worker() for _ in range(min(WRITERS, len(writes)) or 0)))

    async def write(
        self, action: str, name: str, payload: Any, delegation: Mapping[str, str]
    ) -> None:
        api = self.rt.api
        try:
            if action == "create":
                # Its creation event should not wake the set again: it is what was meant.
                self.state.variant_generations[(self.namespace, name)] = 1
                await kube.create(
                    api, *VARIANTS[:2], self.namespace, VARIANTS[2], payload, decode=False
                )
                self.outcome.counts["created"] += 1
            elif action == "delete":
                await kube.delete(api, *VARIANTS[:2], self.namespace, VARIANTS[2], name)
                self.outcome.counts["deleted"] += 1
            else:
                patch = [
                    {"op": "replace", "path": "/spec", "value": payload},
                    *(
                        {"op": "add", "path": f"/metadata/annotations/{_pointer(k)}", "value": v}
                        for k, v in delegation.items()
                    ),
                ]
                patched = await api.request(
                    "PATCH",
                    kube.objects_path(*VARIANTS[:2], self.namespace, VARIANTS[2], name),
                    patch,
                    "application/json-patch+json",
                )
                generation = int((patched.get("metadata") or {}).get("generation") or 0)
                self.state.variant_generations[(self.namespace, name)] = generation
                self.outcome.counts["updated"] += 1
        except kube.ApiError as error:
            if error.status in (404, 409):
                return  # made, changed or gone meanwhile: the next round settles it
            raise


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def status_of(
    body: Mapping[str, Any], outcome: Outcome | None, stalled: Stalled | None, generation: int
) -> dict[str, Any]:
    found = (body.get("status") or {}).get("conditions")
    if stalled is not None:
        found = conditions.upsert(
            found,
            conditions.Condition("Stalled", "True", stalled.reason, stalled.message, generation),
        )
        found = conditions.upsert(
            found,
            conditions.Condition(
                constants.READY, "False", stalled.reason, stalled.message, generation
            ),
        )
        return {"conditions": found}
    assert outcome is not None
    found = conditions.upsert(
        found,
        conditions.Condition(
            "Stalled", "False", "Valid", "all validation checks passed", generation
        ),
    )
    found = conditions.upsert(
        found,
        conditions.Condition(
            constants.READY, "True", "Reconciled",
            f"package variants successfully reconciled ({outcome.total} PackageVariants)",
            generation,
        ),
    )  # fmt: skip
    return {"conditions": found}


async def reconcile(
    body: kopf.Body, rt: runtime.Runtime, state: variantstate.State, indices: Mapping[str, Any]
) -> float:
    generation = int(body.metadata.get("generation") or 0)
    reconciler = Reconciler(rt, state, body, indices)
    stalled: Stalled | None = None
    outcome: Outcome | None = None
    async with state.limit:
        try:
            outcome = await reconciler.run()
        except Stalled as error:
            stalled = error
        except kube.ApiError as error:
            stalled = Stalled(
                "UnexpectedError", f"the API server answered HTTP {error.status}: {error.message}"
            )
    wanted = status_of(body, outcome, stalled, generation)
    current = body.get("status") or {}
    if current.get("conditions") != wanted["conditions"]:
        await kube.patch_object_status(rt.api, RESOURCE, body, wanted)
        before = conditions.find(current.get("conditions"), "Stalled") or {}
        if stalled is not None and before.get("message") != stalled.message:
            await rt.events.post(body, "Warning", stalled.reason, stalled.message)
    if outcome is not None and any(outcome.counts.values()):
        counts = outcome.counts
        await rt.events.post(
            body, "Normal", "Reconciled",
            f"PackageVariants: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['deleted']} deleted ({outcome.total} in all)",
        )  # fmt: skip
    if stalled is not None:
        return state.retry * 6
    if outcome is not None and outcome.selects_objects:
        return max(state.retry * 2, 10.0)
    return state.recheck


async def daemon(
    body: kopf.Body, stopped: kopf.DaemonStopped, memo: kopf.Memo, **kwargs: Any
) -> None:
    rt = runtime.of(memo)
    state = variantstate.of(memo)
    key = (body.metadata.namespace or "default", body.metadata.name or "")
    uid = str(body.metadata.uid or "")
    state.sets_by_uid[uid] = key
    try:
        await variantstate.run(
            state, "set", key, stopped, lambda: reconcile(body, rt, state, kwargs)
        )
    finally:
        state.forget("set", key)
        if state.sets_by_uid.get(uid) == key:
            del state.sets_by_uid[uid]


async def delete(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Delete the set's PackageVariants (garbage collection would too, but not every
    cluster runs it for custom resources in time, and each variant must run its
    deletionPolicy before the set is gone)."""
    rt = runtime.of(memo)
    namespace = body.metadata.namespace or "default"
    members = variantindex.lookup(
        kwargs.get(variantindex.SET_VARIANTS), (namespace, str(body.metadata.uid or ""))
    )
    for member in members:
        if member.deleting:
            continue
        try:
            await kube.delete(rt.api, *VARIANTS[:2], namespace, VARIANTS[2], member.name)
        except kube.ApiError as error:
            if error.status != 404:
                raise
    if members:
        raise kopf.TemporaryError(
            f"waiting for {len(members)} PackageVariants to go", delay=runtime.of(memo).retry_cap
        )


async def set_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    state = variantstate.of(memo)
    ready = conditions.find((body.get("status") or {}).get("conditions"), constants.READY) or {}
    if ready.get("observedGeneration") != body.metadata.get("generation"):
        state.wake("set", (body.metadata.namespace or "default", body.metadata.name or ""))


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.index(*REPOSITORIES, registry=registry, id=variantindex.REPOSITORIES)(
        variantindex.index_repository
    )
    kopf.index(*VARIANTS, registry=registry, id=variantindex.SET_VARIANTS)(
        variantindex.index_set_member
    )
    kopf.daemon(*RESOURCE, registry=registry, id="variant-set", cancellation_timeout=10)(daemon)
    kopf.on.delete(*RESOURCE, registry=registry, id="delete-variants")(delete)
    kopf.on.event(*RESOURCE, registry=registry, id="variant-set-changed")(set_event)
