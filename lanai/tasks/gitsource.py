"""Read a package straight from a Git URL, for ``cloneFrom.git``.

Each (namespace, URL, credentials) gets its own local mirror under the cache directory,
reused by later clones from the same requester (a fetch then transfers only what
changed). Never shared wider: a mirror filled with one namespace's credentials must not
answer another namespace's request, whose credentials might not reach that repository,
or might reach it with less. And never answered from without a fetch: every read first
fetches with the requester's own credentials, and a failed fetch is an error, not a
stale answer.

Messages name the URL's problem, never the operator's own disk: a failure to prepare
the local mirror is logged for the operator and reported to the user as an internal
error without its path.

The package is read by the same rules as a registered revision (``lanai.git.content``):
a bad file name or a package over the size limits refuses the clone, naming the file or
the limit; symlinks and submodules are left out and reported.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pygit2

from lanai.api import values
from lanai.git import egress, probe, storage
from lanai.trust import paths, sizes

logger = logging.getLogger(__name__)


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
    def __init__(
        self, root: Path, guard: egress.Egress, limits: sizes.PackageLimits = sizes.DEFAULT
    ) -> None:
        self._root = root
        self._guard = guard
        self._limits = limits
        # Mirror names hide the credentials they depend on behind a key that dies with
        # the process; mirrors of an earlier process could not be found again: go.
        self._key = secrets.token_bytes(32)
        shutil.rmtree(root, ignore_errors=True)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def mirror_key(self, namespace: str, url: str, auth: probe.RemoteAuth | None) -> str:
        """The mirror's directory name: one per namespace, URL and credentials."""
        credentials = (
            (auth.username, auth.password, auth.bearer_token, auth.ca_bundle.decode("latin-1"))
            if auth
            else ()
        )
        material = "\0".join((namespace, url, *credentials)).encode()
        return hmac.new(self._key, material, hashlib.sha256).hexdigest()[:32]

    async def read(
        self,
        namespace: str,
        url: str,
        ref: str,
        directory: str,
        auth: probe.RemoteAuth | None,
    ) -> Fetched:
        directory = directory.strip("/")
        try:
            if directory:
                paths.check(directory)
        except paths.BadPath as error:
            raise GitSourceError(f"cloneFrom.git.directory: {error}") from None
        key = self.mirror_key(namespace, url, auth)
        async with self._locks[key]:
            return await asyncio.to_thread(self._read, key, url, ref, directory, auth)

    def _read(
        self, key: str, url: str, ref: str, directory: str, auth: probe.RemoteAuth | None
    ) -> Fetched:
        try:
            self._guard.operation(url)  # a refused URL leaves nothing behind on disk
        except egress.Refused as error:
            raise GitSourceError(f"cannot fetch from this source: {error}") from None
        try:
            mirror = storage.GitStorage(
                url, "main", "", self._root / key, auth, self._limits, guard=self._guard
            )
        except (OSError, pygit2.GitError) as error:
            logger.error("cannot prepare a mirror for a cloneFrom.git source: %s", error)
            raise GitSourceError(
                "the operator could not prepare its local copy of the source (an internal "
                "error; see the operator's log)"
            ) from None
        try:
            mirror.fetch()
        except storage.RemoteError as error:
            kind = GitSourceUnreachable if error.reason in TRANSIENT_REASONS else GitSourceError
            raise kind(f"cannot fetch {probe.redact(url)}: {error}") from None
        try:
            commit = mirror.resolve(ref or "main")
            package = mirror.read_package(commit, directory)
        except (storage.RevisionNotFound, storage.InvalidPackage) as error:
            raise GitSourceError(f"cannot clone from {probe.redact(url)}: {error}") from None
        return Fetched(package.files, commit, package.skipped)
