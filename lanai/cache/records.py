"""What the cache knows about a package revision: one immutable record per revision.

Records are built from Git (branches, tags, commit annotations, the Kptfile) and are
what the engine and the Repository sync read; nothing above the cache sees pygit2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanai.api import values
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle


@dataclass(frozen=True, slots=True)
class PackageRevisionRecord:
    key: PackageRevisionKey
    lifecycle: Lifecycle
    revision: int
    """N for published revisions, 0 for Draft/Proposed, -1 for the branch placeholder."""
    commit: str
    """The commit holding this revision's content."""
    ref: str
    """The branch or tag it was read from (``refs/heads/...`` or ``refs/tags/...``)."""
    creation_source: str = ""
    """init | clone | copy | upgrade, from the first commit's ``kpt:`` annotation."""
    upstream_names: tuple[str, ...] = ()
    """PackageRevision names this one was cloned or upgraded from."""
    self_lock: dict[str, Any] = field(default_factory=dict)
    upstream_lock: dict[str, Any] | None = None
    published_by: str = ""
    published_at: str = ""
    package_conditions: tuple[dict[str, Any], ...] = ()
    readiness_gates: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    """Kptfile metadata.labels, mirrored to spec.packageMetadata.labels."""
    annotations: dict[str, str] = field(default_factory=dict)
    """Kptfile metadata.annotations (kpt's own excluded), mirrored likewise."""
    error: str = ""
    """Why this revision could not be read completely (e.g. a malformed Kptfile)."""
    unreadable: str = ""
    """Why its files are never read: a name or a size the rules refuse (lanai.trust)."""
    skipped: tuple[values.Skipped, ...] = ()
    """Entries of its tree that are not files (symlinks, submodules): kept, never read."""

    @property
    def problem(self) -> str:
        """What keeps this revision from being Ready, if anything."""
        return self.unreadable or self.error
