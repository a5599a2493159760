"""Group, version and well-known names of the API Lanai serves (Porch-compatible)."""

from __future__ import annotations

from typing import Final

CONFIG_GROUP: Final = "config.porch.kpt.dev"
CONFIG_VERSION: Final = "v1alpha1"
PORCH_GROUP: Final = "porch.kpt.dev"
PORCH_VERSION: Final = "v1alpha2"

REPOSITORIES: Final = "repositories"
PACKAGE_REVISIONS: Final = "packagerevisions"
PACKAGE_REVISION_RESOURCES: Final = "packagerevisionresources"
PACKAGES: Final = "packages"

LATEST_REVISION_LABEL: Final = "porch.kpt.dev/latest-revision"
REPOSITORY_LABEL: Final = "porch.kpt.dev/repository"
PUSH_ON_RENDER_FAILURE_ANNOTATION: Final = "porch.kpt.dev/push-on-render-failure"

FINALIZER: Final = "lanai.porch.kpt.dev/finalizer"
"""kopf's finalizer for daemons and deletion handlers (kopf needs one for daemons)."""

KOPF_STATUS_FIELD: Final = "kopf"
"""kopf keeps its progress and diff-base under ``status.kopf`` (never in annotations)."""

FIELD_MANAGER: Final = "lanai"

# Condition types and reasons (CONFORMANCE.md §1, §2).
READY: Final = "Ready"
RENDERED: Final = "Rendered"

REASON_READY: Final = "Ready"
REASON_ERROR: Final = "Error"
REASON_RECONCILING: Final = "Reconciling"
REASON_PENDING: Final = "Pending"
REASON_FAILED: Final = "Failed"
REASON_RENDERED: Final = "Rendered"
REASON_RENDER_FAILED: Final = "RenderFailed"

APPROVED_BY_ANNOTATION: Final = "porch.kpt.dev/approved-by"
"""Set by the API server (a MutatingAdmissionPolicy) to the user who approved."""
ACTOR_ANNOTATION: Final = "lanai.porch.kpt.dev/actor"
"""Set by the API server (a MutatingAdmissionPolicy) to the user who last changed the spec:
commits made for that change are attributed to this user."""

BASE_COMMIT_ANNOTATION: Final = "lanai.porch.kpt.dev/base-commit"
"""On a PackageRevisionResources object: the commit whose files Lanai last wrote into it.
Written in the same request as those files, so an edit (what changed since) is told
apart from what Git changed meanwhile."""

REASON_REJECTED: Final = "Rejected"
REASON_FORBIDDEN: Final = "Forbidden"
"""The requesting user lacks a permission the request needs (e.g. to read the Secret)."""
REASON_SKIPPED: Final = "EntriesSkipped"
"""Event: entries of a source that are not files (symlinks, submodules) were left out."""

# Event reasons: a PackageRevision's changes, named like the watch events Porch sends.
REASON_ADDED: Final = "Added"
REASON_MODIFIED: Final = "Modified"
REASON_DELETED: Final = "Deleted"
REASON_PUBLISHED: Final = "Published"

# Deletion and the Repository sync's per-object failures.
REMOVAL_ANNOTATION: Final = "lanai.porch.kpt.dev/removal"
"""Set only by the operator (admission policy ``deletion``) on an object it removes because
its revision vanished from Git or its Repository is being deleted: such an object is moved
to DeletionProposed first, like anyone's, and nothing is done in Git for it."""

REASON_DELETION_BLOCKED: Final = "DeletionBlocked"
"""Lanai refuses to delete the revision from Git for now (a rule): the message says why."""
REASON_DELETION_HELD: Final = "DeletionHeld"
"""Other finalizers hold the deletion; Lanai deletes from Git once they are removed."""

SYNCED: Final = "Synced"
"""Condition, present only while the Repository sync cannot write the object."""
REASON_SYNC_FAILED: Final = "SyncFailed"
REASON_SYNC_INCOMPLETE: Final = "SyncIncomplete"
"""The Repository synced, but some objects could not be written (they say why)."""
