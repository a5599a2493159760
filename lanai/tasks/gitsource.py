"""Read a package straight from a Git URL, for ``cloneFrom.git``.

Each upstream URL gets one local mirror under the cache directory, reused by later
clones (a fetch then transfers only what changed). The package is read by the same
rules as a registered revision (``lanai.git.content``): a bad file name or a package
over the size limits refuses the clone, naming the file or the limit; symlinks and
submodules are left out and reported.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from lanai.api import values
from lanai.git import probe, storage
from lanai.trust import paths, sizes


@dataclass(frozen=True)
class Fetched:
    files: dict[str, bytes]
    commit: str
    skipped: tuple[values.Skipped, ...] = ()


class GitSourceError(ValueError):
    """The upstream cannot be read (unreachable, bad credentials, no such ref/directory)."""


class GitSourceUnreachable(GitSourceError):
    """The upstream's server did not answer or could not be reached: worth a retry."""


TRANSIENT_REASONS = frozenset({"Unreachable", "Timeout"})
""":func:`probe.classify` reasons that a later attempt may not meet."""


class GitSources:
    def __init__(self, root: Path, limits: sizes.PackageLimits = sizes.DEFAULT) -> None:
        self._root = root
        self._limits = limits
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def read(
        self, url: str, ref: str, directory: str, auth: probe.RemoteAuth | None
    ) -> Fetched:
        directory = directory.strip("/")
        try:
            if directory:
                paths.check(directory)
        except paths.BadPath as error:
            raise GitSourceError(f"cloneFrom.git.directory: {error}") from None
        key = hashlib.sha256(url.encode()).hexdigest()[:24]
        async with self._locks[key]:
            return await asyncio.to_thread(self._read, key, url, ref, directory, auth)

    def _read(
        self, key: str, url: str, ref: str, directory: str, auth: probe.RemoteAuth | None
    ) -> Fetched:
        mirror = storage.GitStorage(url, "main", "", self._root / key, auth, self._limits)
        try:
            mirror.fetch()
        except storage.RemoteError as error:
            kind = GitSourceUnreachable if error.reason in TRANSIENT_REASONS else GitSourceError
            raise kind(f"cannot fetch {url}: {error}") from None
        try:
            commit = mirror.resolve(ref or "main")
            package = mirror.read_package(commit, directory)
        except (storage.RevisionNotFound, storage.InvalidPackage) as error:
            raise GitSourceError(f"cannot clone from {url}: {error}") from None
        return Fetched(package.files, commit, package.skipped)
