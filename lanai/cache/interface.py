"""The Repository interface the engine programs against (the seed design's).

One object per registered Repository, opened once by the cache and shared by the sync
daemon and the engine. All methods are async; implementations run blocking Git work in
a bounded thread pool and serialise writes per repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from lanai.api import values
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord

PackageFiles = Mapping[str, bytes]
"""A package's files: path relative to the package directory → content."""


Author = values.Author
Task = values.Task


class CacheError(Exception):
    """Base of the cache's errors; the message is safe to show users."""


class RevisionNotFound(CacheError):
    pass


class RevisionExists(CacheError):
    """The package/workspace already has a revision in Git."""


class RepositoryUnavailable(CacheError):
    """The remote cannot be reached or refuses the credentials."""


class InvalidPackage(CacheError):
    """A package's files break a rule (a bad name, too large): retrying cannot help."""


class Repository(Protocol):
    @property
    def deployment(self) -> bool: ...

    async def version(self) -> str:
        """A digest of every ref after the last fetch: equal means nothing changed."""
        ...

    async def refresh(self, fetch: bool = True) -> bool:
        """Fetch from the remote (``fetch=False``: only index what the mirror holds, e.g.
        Lanai's own writes); True when any ref changed."""
        ...

    async def list_package_revisions(self) -> list[PackageRevisionRecord]: ...

    async def get_package_revision(
        self, key: PackageRevisionKey
    ) -> PackageRevisionRecord | None: ...

    async def read_files(self, key: PackageRevisionKey) -> dict[str, bytes]:
        """The revision's files (symlinks and submodules are not files: see the record's
        ``skipped``); InvalidPackage when a name or the size breaks the rules."""
        ...

    async def read_files_at(self, key: PackageRevisionKey, commit: str) -> dict[str, bytes] | None:
        """The revision's package directory as ``commit`` holds it; None when the commit
        is unknown here or has no such package."""
        ...

    async def list_packages(self) -> list[str]: ...

    async def create_package_revision(
        self,
        key: PackageRevisionKey,
        files: PackageFiles,
        task: Task,
        author: Author,
        lifecycle: Lifecycle = Lifecycle.DRAFT,
    ) -> PackageRevisionRecord:
        """A new Draft (or Proposed) branch holding ``files``; RevisionExists if taken."""
        ...

    async def update_package_revision(
        self, key: PackageRevisionKey, files: PackageFiles, task: Task, author: Author
    ) -> PackageRevisionRecord:
        """Commit ``files`` to a Draft (its symlinks and submodules stay as they are)."""
        ...

    async def close_package_revision(
        self, key: PackageRevisionKey, lifecycle: Lifecycle, author: Author
    ) -> PackageRevisionRecord:
        """Move a revision to ``lifecycle`` (propose, reject, approve, propose-delete, undo)."""
        ...

    async def delete_package_revision(self, key: PackageRevisionKey, author: Author) -> None: ...

    async def close(self) -> None: ...
