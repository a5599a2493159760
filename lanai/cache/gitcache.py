"""The cache: each registered Repository opened once, its revisions indexed in memory.

Reads are answered from the index built at the last refresh; Git work runs in worker
threads (pygit2 blocks). After a restart the index is rebuilt from Git alone.

Each Repository has a worker thread of its own: its Git work is serialised by the
storage's lock anyway, and a Git server that stops answering then holds up only the
Repository it serves, never the shared pool every other Repository (and render) needs.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import logging
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lanai.api import names, values
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache import interface
from lanai.cache.records import PackageRevisionRecord
from lanai.git import commitmsg, egress, layout, probe, storage
from lanai.kpt import kptfile as kpt_kptfile
from lanai.kpt import plainyaml

logger = logging.getLogger(__name__)

_COMMIT_ID = re.compile(r"[0-9a-f]{40}")


def _kptfile(content: bytes) -> dict[str, Any]:
    try:
        document = plainyaml.load(content)
    except (plainyaml.Error, ValueError):  # a broken Kptfile is reported on its revision
        return {}
    return document if isinstance(document, dict) else {}


def _record(
    namespace: str,
    repository: str,
    url: str,
    directory: str,
    revision: storage.GitRevision,
    kptfile: dict[str, Any],
) -> PackageRevisionRecord:
    metadata = kptfile.get("metadata") or {}
    info = kptfile.get("info") or {}
    note = revision.annotation
    source = commitmsg.creation_source(note)
    published = revision.lifecycle in ("Published", "DeletionProposed") and revision.revision > 0
    annotations = {
        k: str(v)
        for k, v in (metadata.get("annotations") or {}).items()
        if not str(k).startswith(kpt_kptfile.OWNED_ANNOTATION_PREFIXES)
    }
    ref = revision.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return PackageRevisionRecord(
        key=PackageRevisionKey(namespace, repository, revision.package, revision.workspace),
        lifecycle=Lifecycle(revision.lifecycle),
        revision=revision.revision,
        commit=revision.commit,
        ref=revision.ref,
        creation_source=str(source),
        upstream_names=commitmsg.upstream_names(note),
        self_lock={
            "type": "git",
            "git": {
                "repo": url,
                "directory": layout.full_path(directory, revision.package),
                "ref": ref,
                "commit": revision.commit,
            },
        },
        upstream_lock=kptfile.get("upstreamLock"),
        published_by=str(note.get("approvedBy") or (revision.committer if published else "")),
        published_at=revision.committed_at if published else "",
        package_conditions=tuple((kptfile.get("status") or {}).get("conditions") or ()),
        readiness_gates=tuple(
            str(g.get("conditionType")) for g in info.get("readinessGates") or [] if g
        ),
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        annotations=annotations,
        error="" if kptfile else "the Kptfile cannot be parsed",
        unreadable=revision.unreadable,
        skipped=revision.skipped,
    )


class GitRepository:
    """One registered Repository: implements :class:`interface.Repository`."""

    def __init__(
        self,
        namespace: str,
        name: str,
        git: storage.GitStorage,
        *,
        deployment: bool = False,
        author: values.Author | None = None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.git = git
        self._deployment = deployment
        self._author = author
        self._records: dict[PackageRevisionKey, PackageRevisionRecord] = {}
        self._by_revision: dict[int, tuple[storage.GitRevision, PackageRevisionRecord]] = {}
        """Each listed revision's record, by the listing's object (the storage hands
        out the same objects for refs that did not move)."""
        self._version = ""
        self._shared_keys = False
        """Two revisions make records of one name: the index is rebuilt whole, in order."""
        self._sizes: dict[str, int] = {}
        """Package → its number of records."""
        self._states: dict[str, int] = {}
        """Lifecycle → its number of records."""
        self._loaded = False
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"git-{namespace}-{name}")
        self._reindexing = asyncio.Lock()

    @property
    def deployment(self) -> bool:
        return self._deployment

    @property
    def loaded(self) -> bool:
        """The first refresh has listed the revisions: until then every answer is 'none'."""
        return self._loaded

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            work = loop.run_in_executor(self._worker, functools.partial(fn, *args, **kwargs))
        except RuntimeError:  # stopped: the Repository was deleted or re-registered
            raise interface.RepositoryUnavailable(f"Repository {self.name} is closed") from None
        try:
            return await work
        except storage.RemoteError as error:
            raise interface.RepositoryUnavailable(str(error)) from None
        except storage.RevisionExists as error:
            raise interface.RevisionExists(str(error)) from None
        except storage.RevisionNotFound as error:
            raise interface.RevisionNotFound(str(error)) from None
        except storage.InvalidPackage as error:
            raise interface.InvalidPackage(str(error)) from None
        except storage.Conflict as error:
            raise interface.CacheError(str(error)) from None

    async def version(self) -> str:
        return self._version

    async def refresh(self, fetch: bool = True) -> bool:
        """Bring the index level with the remote (``fetch=False``: with the mirror, which
        holds Lanai's own writes); True when Git changed."""
        if fetch:
            changed = bool(await self._call(self._fetch_and_repair))
        else:
            changed = bool(await self._call(lambda: self.git.version() != self._version))
        if changed or not self._loaded:
            await self._reindex()
        return changed

    def _fetch_and_repair(self) -> bool:
        """One trip to a worker thread for what every sync does (the no-op sync's cost)."""
        fetched = self.git.fetch()
        repaired = bool(self.git.repair())
        # The mirror may also have moved since the last listing without this fetch (a
        # refused push fetches at once).
        return fetched or repaired or self.git.version() != self._version

    async def _reindex(self) -> None:
        # In a worker thread, like the Git reads: parsing and building 10,000 records
        # would hold the event loop (and every kopf handler) for seconds. One at a
        # time, so that a later listing is never overwritten by an earlier one.
        async with self._reindexing:
            self._records, self._by_revision, self._version = await self._call(self._index)
            self._loaded = True

    def _index(
        self,
    ) -> tuple[
        dict[PackageRevisionKey, PackageRevisionRecord],
        dict[int, tuple[storage.GitRevision, PackageRevisionRecord]],
        str,
    ]:
        """Records of every revision. After a write or a fetch only the revisions that
        changed become records (their Kptfiles read and parsed), not all 10,000 again;
        the dicts are new ones, so readers on the event loop never see them change."""
        revisions, changes, version = self.git.listing_changes()
        if changes is None or self._shared_keys:
            return self._rebuild(revisions, version)
        added, removed = changes
        records = dict(self._records)
        by_revision = dict(self._by_revision)
        sizes = dict(self._sizes)
        states = dict(self._states)
        for revision in removed:
            known = by_revision.pop(id(revision), None)
            if known is not None and records.get(known[1].key) is known[1]:
                del records[known[1].key]
                _count(sizes, known[1].key.package, -1)
                _count(states, str(known[1].lifecycle), -1)
        parsed: dict[str, dict[str, Any]] = {}
        for revision in added:
            if not _nameable(revision):
                continue
            record = self._record_of(revision, parsed)
            if record.key in records:  # two revisions, one name: which wins is an order
                return self._rebuild(revisions, version)
            records[record.key] = record
            by_revision[id(revision)] = (revision, record)
            _count(sizes, record.key.package, 1)
            _count(states, str(record.lifecycle), 1)
        self._sizes, self._states = sizes, states
        return records, by_revision, version

    def _rebuild(
        self, revisions: list[storage.GitRevision], version: str
    ) -> tuple[
        dict[PackageRevisionKey, PackageRevisionRecord],
        dict[int, tuple[storage.GitRevision, PackageRevisionRecord]],
        str,
    ]:
        """Records of every revision in ``revisions``, reusing those of revisions the
        last index had."""
        parsed: dict[str, dict[str, Any]] = {}  # by blob: a branch shares its tag's Kptfile
        records: dict[PackageRevisionKey, PackageRevisionRecord] = {}
        by_revision: dict[int, tuple[storage.GitRevision, PackageRevisionRecord]] = {}
        shared = False
        for revision in revisions:
            if not _nameable(revision):
                continue
            known = self._by_revision.get(id(revision))
            if known is not None and known[0] is revision:
                record = known[1]
            else:
                record = self._record_of(revision, parsed)
            shared = shared or record.key in records
            records[record.key] = record  # the last of two with one name wins
            by_revision[id(revision)] = (revision, record)
        self._shared_keys = shared
        self._sizes = dict(collections.Counter(key.package for key in records))
        self._states = dict(collections.Counter(str(r.lifecycle) for r in records.values()))
        return records, by_revision, version

    def _record_of(
        self, revision: storage.GitRevision, parsed: dict[str, dict[str, Any]]
    ) -> PackageRevisionRecord:
        kptfile = parsed.get(revision.kptfile)
        if kptfile is None:
            kptfile = parsed[revision.kptfile] = _kptfile(self.git.blob(revision.kptfile))
        return _record(
            self.namespace, self.name, self.git.url, self.git.directory, revision, kptfile
        )

    async def list_package_revisions(self) -> list[PackageRevisionRecord]:
        return list(self._records.values())

    async def get_package_revision(self, key: PackageRevisionKey) -> PackageRevisionRecord | None:
        return self._records.get(key)

    async def read_files(self, key: PackageRevisionKey) -> dict[str, bytes]:
        record = self._records.get(key)
        if record is None:
            raise interface.RevisionNotFound(key.name)
        package: storage.PackageContent = await self._call(
            self.git.read_package, record.commit, key.package
        )
        return package.files

    async def read_files_at(self, key: PackageRevisionKey, commit: str) -> dict[str, bytes] | None:
        if not _COMMIT_ID.fullmatch(commit):
            return None
        try:
            package: storage.PackageContent = await self._call(
                self.git.read_package, commit, key.package
            )
        except interface.RevisionNotFound:
            return None
        return package.files

    async def list_packages(self) -> list[str]:
        return sorted({key.package for key in self._records})

    def package_count(self) -> int:
        """How many packages have revisions (kept with the index, not counted anew)."""
        return len(self._sizes)

    def lifecycle_counts(self) -> dict[str, int]:
        """How many revisions are in each lifecycle (kept with the index)."""
        return dict(self._states)

    def _signature(self, author: values.Author) -> storage.Signature:
        chosen = self._author or author
        return storage.Signature(chosen.name, chosen.email)

    async def create_package_revision(
        self,
        key: PackageRevisionKey,
        files: interface.PackageFiles,
        task: values.Task,
        author: values.Author,
        lifecycle: Lifecycle = Lifecycle.DRAFT,
    ) -> PackageRevisionRecord:
        note: dict[str, Any] = {
            "task": commitmsg.porch_task(task.type, task.detail),
            "source": task.type,
        }
        upstream = _upstream_names(task.detail)
        if upstream:
            note["upstream"] = upstream
        return await self._write(
            key,
            self.git.create_draft,
            key.package,
            key.workspace,
            dict(files),
            note,
            self._signature(author),
            lifecycle == Lifecycle.PROPOSED,
        )

    async def _write(self, key: PackageRevisionKey, fn: Any, *args: Any) -> PackageRevisionRecord:
        """``fn(*args)`` (a write to Git) and the listing after it, in one trip to the
        worker thread: every lifecycle step waits for both."""

        def write_and_index() -> Any:
            fn(*args)
            return self._index()

        async with self._reindexing:
            self._records, self._by_revision, self._version = await self._call(write_and_index)
            self._loaded = True
        record = self._records.get(key)
        if record is None:
            raise interface.RevisionNotFound(key.name)
        return record

    async def update_package_revision(
        self,
        key: PackageRevisionKey,
        files: interface.PackageFiles,
        task: values.Task,
        author: values.Author,
    ) -> PackageRevisionRecord:
        current = self._records.get(key)
        note: dict[str, Any] = {"task": commitmsg.porch_task(task.type, task.detail)}
        if current and current.creation_source:
            note["source"] = current.creation_source
        if current and current.upstream_names:
            note["upstream"] = list(current.upstream_names)
        return await self._write(
            key,
            self.git.update_draft,
            key.package,
            key.workspace,
            dict(files),
            note,
            self._signature(author),
        )

    async def close_package_revision(
        self, key: PackageRevisionKey, lifecycle: Lifecycle, author: values.Author
    ) -> PackageRevisionRecord:
        current = self._records.get(key)
        if current is None:
            raise interface.RevisionNotFound(key.name)
        if lifecycle in (Lifecycle.DRAFT, Lifecycle.PROPOSED):
            proposed = lifecycle == Lifecycle.PROPOSED
            return await self._write(key, self.git.move_draft, key.package, key.workspace, proposed)
        if lifecycle == Lifecycle.PUBLISHED and current.lifecycle == Lifecycle.DELETION_PROPOSED:
            return await self._write(
                key, self.git.set_deletion_proposed, key.package, current.revision, False
            )
        if lifecycle == Lifecycle.PUBLISHED:
            return await self._write(
                key,
                self.git.approve,
                key.package,
                key.workspace,
                self._signature(author),
                author.name,
            )
        if lifecycle == Lifecycle.DELETION_PROPOSED:
            return await self._write(
                key, self.git.set_deletion_proposed, key.package, current.revision, True
            )
        return current

    async def delete_package_revision(self, key: PackageRevisionKey, author: values.Author) -> None:
        await self._call(self.git.delete, key.package, key.workspace, self._signature(author))
        await self._reindex()

    async def ensure_branch(self) -> None:
        """spec.git.createBranch: make the branch on the remote if it is missing."""
        await self._call(self.git.fetch)
        await self._call(self.git.ensure_branch)

    async def close(self) -> None:
        self._records.clear()
        self._by_revision.clear()
        self.stop()

    def stop(self) -> None:
        """No more Git work for this Repository (what is running finishes on its own)."""
        self._worker.shutdown(wait=False, cancel_futures=True)


def _count(counts: dict[str, int], key: str, step: int) -> None:
    left = counts.get(key, 0) + step
    if left:
        counts[key] = left
    else:
        counts.pop(key, None)


@functools.lru_cache(maxsize=1 << 16)
def _valid_name(package: str, workspace: str) -> bool:
    """Checked once per name, not for each of 10,000 revisions on every listing."""
    return names.is_package_path(package) and names.is_dns1123_label(workspace)


def _nameable(revision: storage.GitRevision) -> bool:
    """Whether the revision can be a PackageRevision: its package path and workspace make
    a valid object name. Git may hold others (``Bad Name/``, branch ``release/1.0``);
    one such would otherwise fail every sync of the Repository."""
    if _valid_name(revision.package, revision.workspace):
        return True
    logger.warning(
        "%s: passing over %s (workspace %s): not a valid PackageRevision name",
        revision.ref,
        revision.package,
        revision.workspace,
    )
    return False


def _upstream_names(detail: Mapping[str, Any]) -> list[str]:
    """Revisions this one was made from: they may not be deleted while it exists."""
    clone = detail.get("cloneFrom") or {}
    upgrade = detail.get("upgrade") or {}
    found = [(clone.get("upstreamRef") or {}).get("name")]
    found += [(upgrade.get(f) or {}).get("name") for f in ("oldUpstream", "newUpstream")]
    return [str(name) for name in found if name]


class Cache:
    """Opens each Repository once; keyed by namespace/name and the spec that shaped it."""

    def __init__(self, root: Path, guard: egress.Egress) -> None:
        self.root = root
        self.guard = guard
        self._open: dict[tuple[str, str], tuple[str, GitRepository]] = {}

    def get(self, namespace: str, name: str) -> GitRepository | None:
        entry = self._open.get((namespace, name))
        return entry[1] if entry else None

    def open(
        self,
        namespace: str,
        name: str,
        *,
        url: str,
        branch: str,
        directory: str,
        auth: probe.RemoteAuth | None,
        deployment: bool,
        author: values.Author | None,
    ) -> GitRepository:
        shape = f"{url}\n{branch}\n{directory}"
        entry = self._open.get((namespace, name))
        if entry and entry[0] == shape:
            repository = entry[1]
            repository.git.auth = auth
            repository._deployment = deployment
            repository._author = author
            return repository
        if entry:  # the spec moved the Repository elsewhere: the old one is done
            entry[1].stop()
        mirror = (
            self.root / hashlib.sha256(f"{namespace}/{name}\n{shape}".encode()).hexdigest()[:24]
        )
        git = storage.GitStorage(url, branch, directory, mirror, auth, guard=self.guard)
        repository = GitRepository(namespace, name, git, deployment=deployment, author=author)
        self._open[(namespace, name)] = (shape, repository)
        return repository

    def forget(self, namespace: str, name: str) -> None:
        entry = self._open.pop((namespace, name), None)
        if entry:
            entry[1].stop()
