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

# Event reasons: a PackageRevision's changes, named like the watch events Porch sends.
REASON_ADDED: Final = "Added"
REASON_MODIFIED: Final = "Modified"
REASON_DELETED: Final = "Deleted"
REASON_PUBLISHED: Final = "Published"
