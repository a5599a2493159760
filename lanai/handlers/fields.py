"""Reading PackageRevision and PackageRevisionResources objects: keys, actors, gates.

Shared by both kinds' handlers; also the ``Rendered`` condition both report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from lanai.api import conditions, constants, values
from lanai.api.keys import PackageRevisionKey
from lanai.tasks.requests import Rendered


def pending(body: kopf.Body, **_: Any) -> bool:
    """The spec has changed since Lanai last acted on it (or it never did)."""
    if body.metadata.get("deletionTimestamp"):
        return False
    observed = (body.get("status") or {}).get("observedGeneration")
    return bool(observed != body.metadata.get("generation"))


def key_of(namespace: str, spec: Mapping[str, Any]) -> PackageRevisionKey:
    return PackageRevisionKey(
        namespace,
        str(spec.get("repository", "")),
        str(spec.get("packageName", "")),
        str(spec.get("workspaceName", "")),
    )


def names_the_revision(spec: Mapping[str, Any]) -> bool:
    """The spec holds the repository, package and workspace it belongs to."""
    return all(spec.get(f) for f in ("repository", "packageName", "workspaceName"))


def author_of(body: Mapping[str, Any], *, approving: bool = False) -> values.Author:
    """Who acted: the approver for an approval, else the user who last changed the spec.

    Both annotations are written by the API server (MutatingAdmissionPolicies in
    config/policy), never by the user.
    """
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    name = ""
    if approving:
        name = annotations.get(constants.APPROVED_BY_ANNOTATION, "")
    name = name or annotations.get(constants.ACTOR_ANNOTATION, "") or constants.FIELD_MANAGER
    return values.Author(name, name)


def push_on_render_failure(*annotations: Mapping[str, str] | None) -> bool:
    """``porch.kpt.dev/push-on-render-failure: "true"`` on any of these objects (the
    PackageRevision, where Porch reads it, or its resources object)."""
    key = constants.PUSH_ON_RENDER_FAILURE_ANNOTATION
    return any((found or {}).get(key) == "true" for found in annotations)


def gates(spec: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(g.get("conditionType"))
        for g in spec.get("readinessGates") or []
        if g.get("conditionType")
    )


def rendered_condition(rendered: Rendered) -> conditions.Condition:
    if rendered.ok:
        return conditions.Condition(
            constants.RENDERED, "True", constants.REASON_RENDERED, "the package rendered"
        )
    return conditions.Condition(
        constants.RENDERED, "False", constants.REASON_RENDER_FAILED, rendered.message
    )


def render_status(rendered: Rendered) -> dict[str, Any]:
    status: dict[str, Any] = {"error": "" if rendered.ok else rendered.message}
    if rendered.results:
        status["result"] = dict(rendered.results)
    return status
