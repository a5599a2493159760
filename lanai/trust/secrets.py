"""Whose rights a Secret is read with.

A Repository's ``spec.git.secretRef`` and a PackageRevision's
``spec.source.cloneFrom.git.secretRef`` name a Secret the operator can read and their
author perhaps cannot. Reading it for them, and sending it to a URL of their choosing,
would lend them the operator's rights. So the API server records who asked (the
MutatingAdmissionPolicy in config/policy/requester-identity.yaml writes the requesting
user and groups into two annotations on every write of those fields, and overwrites any
attempt to set them by hand), and the operator reads the Secret only if a
SubjectAccessReview says that user may ``get`` it. ``--secret-access=operator`` turns
the check off for single-tenant installs, where everyone who may write these objects
may read the Secrets anyway.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REQUESTED_BY = "lanai.porch.kpt.dev/requested-by"
"""The user who last wrote the fields that make Lanai read Secrets (set by the API server)."""
REQUESTED_BY_GROUPS = "lanai.porch.kpt.dev/requested-by-groups"
"""That user's groups as a JSON list of strings (set by the API server)."""


class SecretAccess(enum.StrEnum):
    """``--secret-access``: whose rights decide which Secrets the operator reads."""

    REQUESTER = "requester"
    """A Secret is read only if the user who named it may ``get`` it (the default)."""
    OPERATOR = "operator"
    """Any Secret the operator may read (single-tenant installs; the behaviour before)."""


@dataclass(frozen=True)
class Requester:
    """Who named the Secret, as the API server recorded it."""

    user: str
    groups: tuple[str, ...] = ()


def requester_of(annotations: Mapping[str, Any] | None) -> Requester | None:
    """The recorded requester, or None when none was recorded (an object written before
    the policy was installed, or with the policy missing).

    Malformed groups count as no groups: a parse error can only narrow the rights the
    review is asked about, never widen them.
    """
    annotations = annotations or {}
    user = annotations.get(REQUESTED_BY)
    if not isinstance(user, str) or not user:
        return None
    return Requester(user, _groups(annotations.get(REQUESTED_BY_GROUPS)))


def groups_text(groups: Sequence[str]) -> str:
    """``groups`` as the requester policy writes them into :data:`REQUESTED_BY_GROUPS`:
    a JSON list without spaces, only backslash and double quote escaped."""
    quoted = ('"' + g.replace("\\", "\\\\").replace('"', '\\"') + '"' for g in groups)
    return "[" + ",".join(quoted) + "]"


def _groups(text: Any) -> tuple[str, ...]:
    if not isinstance(text, str):
        return ()
    try:
        found = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(found, list) or not all(isinstance(g, str) for g in found):
        return ()
    return tuple(found)


def access_review(requester: Requester, namespace: str, secret: str) -> dict[str, Any]:
    """The SubjectAccessReview that asks whether ``requester`` may get the Secret."""
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": requester.user,
            "groups": list(requester.groups),
            "resourceAttributes": {
                "group": "",
                "version": "v1",
                "resource": "secrets",
                "verb": "get",
                "namespace": namespace,
                "name": secret,
            },
        },
    }


def allowed(review: Mapping[str, Any]) -> bool:
    """The answer of a SubjectAccessReview: allowed, and not explicitly denied."""
    status = review.get("status") or {}
    return bool(status.get("allowed")) and not status.get("denied")


def forbidden_message(requester: Requester | None, namespace: str, secret: str, field: str) -> str:
    """Why the Secret was not read, and what to do: names the Secret and the permission."""
    if requester is None:
        return (
            f'Secret "{secret}" (named by {field}) was not read: no requesting user is '
            f"recorded on this object (annotation {REQUESTED_BY}, written by the API "
            "server's lanai-requester admission policy); install config/policy and apply "
            f"{field} again"
        )
    return (
        f'user "{requester.user}" may not get Secret "{secret}" in namespace {namespace} '
        f"(named by {field}): Lanai reads a Secret only for users who may read it "
        f'themselves; grant "get" on secrets/{secret} in {namespace} to that user, or name '
        "a Secret they may read"
    )
