"""What a PackageVariant may make the operator do: no more than its author could.

The operator holds wide rights (it mirrors Git into PackageRevisions, approves what Git
already shows). A PackageVariant or PackageVariantSet asks it to create, edit, delete
and propose the deletion of PackageRevisions, and to read in-cluster objects; done with
the operator's rights alone, anyone allowed to write a PackageVariant could have
published revisions proposed for deletion, or other people's objects copied into Git.
So each such act is first put to the API server as a SubjectAccessReview for the user
who wrote the PackageVariant (recorded by the API server itself, see
config/policy/variant-requester.yaml), and done only if that user could do it.

Secrets are never read for a PackageVariant: what is injected is committed to Git.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lanai.trust import secrets

PORCH_GROUP = "porch.kpt.dev"


@dataclass(frozen=True)
class Act:
    """One request the operator would make for the requester: verb on a resource."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    name: str = ""
    doing: str = ""
    """What it is for, in words (for messages)."""

    def describe(self) -> str:
        target = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        if self.group:
            target = f"{target}.{self.group}"
        return f'"{self.verb}" on {target}' + (f" {self.name}" if self.name else "")


CREATE_REVISIONS = Act(
    "create", PORCH_GROUP, "packagerevisions", doing="create downstream revisions"
)
EDIT_RESOURCES = Act(
    "update", PORCH_GROUP, "packagerevisionresources", doing="edit a downstream Draft"
)
CHANGE_REVISIONS = Act("patch", PORCH_GROUP, "packagerevisions", doing="adopt an existing revision")
DELETE_REVISIONS = Act("delete", PORCH_GROUP, "packagerevisions", doing="delete a downstream")
APPROVE = Act(
    "update",
    PORCH_GROUP,
    "packagerevisions",
    "approval",
    doing="propose (or take back) the deletion of a published downstream",
)


def read_object(group: str, resource: str, name: str) -> Act:
    return Act("get", group, resource, name=name, doing=f"inject {resource} {name}")


def list_objects(group: str, resource: str) -> Act:
    return Act("list", group, resource, doing=f"select {resource} as targets")


NEVER_READ = frozenset({("", "Secret")})
"""(group, kind) whose objects are never read for a PackageVariant (their content would
reach Git)."""


def refused_kind(group: str, kind: str) -> str:
    """Why objects of this kind are never read for a PackageVariant, or ''."""
    if (group, kind) in NEVER_READ:
        return (
            f"Lanai never injects or selects {kind} objects for a PackageVariant: what it "
            "reads is committed to Git; use a ConfigMap or a custom resource instead"
        )
    return ""


def access_review(requester: secrets.Requester, namespace: str, act: Act) -> dict[str, Any]:
    """The SubjectAccessReview asking whether ``requester`` may do ``act`` in ``namespace``."""
    attributes = {
        "group": act.group,
        "resource": act.resource,
        "verb": act.verb,
        "namespace": namespace,
    }
    if act.subresource:
        attributes["subresource"] = act.subresource
    if act.name:
        attributes["name"] = act.name
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": requester.user,
            "groups": list(requester.groups),
            "resourceAttributes": attributes,
        },
    }


def allowed(review: Mapping[str, Any]) -> bool:
    return secrets.allowed(review)


def refusal(
    requester: secrets.Requester | None, namespace: str, act: Act, kind: str = "PackageVariant"
) -> str:
    """Why the act was not done, and what to do about it."""
    if requester is None:
        return (
            f"cannot {act.doing}: no requesting user is recorded on this {kind} (annotation "
            f"{secrets.REQUESTED_BY}, written by the API server's lanai-variant-requester "
            "admission policy); install config/policy and apply the object again"
        )
    return (
        f'cannot {act.doing}: user "{requester.user}" may not {act.describe()} in namespace '
        f"{namespace}, and Lanai does for a {kind} only what its author could do; grant "
        "that permission or ask someone who has it to write the object"
    )
