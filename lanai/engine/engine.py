"""The Engine: every package operation, with its rules, locking and rollback.

It works only through the cache's ``Repository`` interface and the task handler, both
handed in (STYLE §7); it never sees pygit2, YAML or the Kubernetes API. Writes to one
package are serialised by an asyncio lock per package; reads take no lock.

Rollback is structural: a create computes and renders the whole package before the
cache pushes anything, and the cache pushes a draft as one branch, so a failure before
that push leaves nothing behind and a failure of the push leaves no branch.

Files are checked by the rules of ``lanai.trust.paths`` before anything is rendered or
committed, and a revision whose files the rules refuse (a bad name or size in Git) is
never read, edited, proposed or approved: each is a rejection, reported once, never a
retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from lanai.api.keys import PackageKey, PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache import interface
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import edits, errors, lifecycle, packagemeta, rules
from lanai.tasks import handler
from lanai.tasks.requests import CreateRequest, Rendered
from lanai.trust import paths

logger = logging.getLogger(__name__)


class TaskHandler(Protocol):
    """Builds a revision's content from its source, and renders (``lanai.tasks``)."""

    async def build(
        self,
        request: CreateRequest,
        read: Callable[[PackageRevisionKey], Awaitable[handler.Upstream]],
        deployment: bool,
    ) -> handler.Built: ...

    async def render(self, files: Mapping[str, bytes]) -> Rendered: ...

    def with_metadata(
        self,
        files: Mapping[str, bytes],
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        readiness_gates: tuple[str, ...],
        *,
        exact: bool = False,
    ) -> dict[str, bytes]: ...


RepositoryResolver = Callable[[str, str], Awaitable[interface.Repository]]
"""(namespace, repository name) → the cache's open Repository, or Unavailable."""


@dataclass
class Outcome:
    record: PackageRevisionRecord
    rendered: Rendered | None = None
    committed: bool = False
    """A commit was pushed for this call (not an adopted or unchanged revision)."""
    warnings: tuple[str, ...] = ()
    """What the user should know although it worked (e.g. symlinks left out of a clone)."""


class Engine:
    def __init__(self, repositories: RepositoryResolver, tasks: TaskHandler) -> None:
        self._repositories = repositories
        self._tasks = tasks
        self._locks: defaultdict[PackageKey, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def _repository(self, key: PackageRevisionKey) -> interface.Repository:
        return await self._repositories(key.namespace, key.repository)

    async def _read(self, key: PackageRevisionKey) -> handler.Upstream:
        repository = await self._repository(key)
        record = await repository.get_package_revision(key)
        try:
            if record is None:
                raise interface.RevisionNotFound(key.name)
            if record.unreadable:
                raise interface.InvalidPackage(record.unreadable)
            files = await repository.read_files(key)
            return handler.Upstream(key, record.self_lock, record.commit, files, record.skipped)
        except interface.RevisionNotFound:
            raise errors.Rejected(f'PackageRevision "{key.name}" not found in Git') from None
        except interface.InvalidPackage as error:
            raise errors.Rejected(f'PackageRevision "{key.name}" cannot be used: {error}') from None

    async def _facts(self, key: PackageRevisionKey) -> rules.RevisionFacts | None:
        record = await (await self._repository(key)).get_package_revision(key)
        if record is None:
            return None
        return rules.RevisionFacts(
            record.key, record.lifecycle, record.revision, record.upstream_names
        )

    async def get(self, key: PackageRevisionKey) -> PackageRevisionRecord | None:
        return await (await self._repository(key)).get_package_revision(key)

    async def read_files(self, key: PackageRevisionKey) -> dict[str, bytes]:
        """A revision's files as Git holds them (lock-free)."""
        try:
            return await (await self._repository(key)).read_files(key)
        except interface.RevisionNotFound:
            raise errors.Unavailable(f"{key.name} is not in Git (yet)") from None
        except interface.RepositoryUnavailable as error:
            raise errors.Unavailable(str(error)) from None
        except interface.InvalidPackage as error:
            raise errors.Rejected(str(error)) from None

    async def create(self, request: CreateRequest, author: interface.Author) -> Outcome:
        """Create the revision in Git; an existing one (a retry, a restart) is adopted."""
        key = request.key
        if request.lifecycle not in lifecycle.CREATABLE:
            raise errors.Rejected(
                f"a new PackageRevision must be Draft or Proposed, not {request.lifecycle}"
            )
        async with self._locks[key.package_key]:
            repository = await self._repository(key)
            existing = await repository.get_package_revision(key)
            if existing is not None:
                return Outcome(existing)
            await self._check_source(request, repository)
            try:
                built = await self._tasks.build(request, self._read, repository.deployment)
                _check_paths(built.files)
            except (interface.RepositoryUnavailable, handler.SourceUnavailable) as error:
                raise errors.Unavailable(str(error)) from None
            except handler.TaskError as error:
                raise errors.Rejected(str(error)) from None
            files = self._tasks.with_metadata(
                built.files, request.labels, request.annotations, request.readiness_gates
            )
            rendered = await self._tasks.render(files)
            if not rendered.ok and not request.push_on_render_failure:
                raise errors.RenderFailed(rendered.message)
            try:
                record = await repository.create_package_revision(
                    key, rendered.files, built.task, author, request.lifecycle
                )
            except interface.RevisionExists:
                found = await repository.get_package_revision(key)
                if found is None:
                    raise errors.Rejected(
                        f"workspace {key.workspace} of {key.package} exists in Git but cannot "
                        "be read; choose another workspaceName"
                    ) from None
                record = found
            except interface.RepositoryUnavailable as error:
                raise errors.Unavailable(str(error)) from None
            except interface.InvalidPackage as error:
                raise errors.Rejected(str(error)) from None
            except interface.CacheError as error:  # the remote refused the branch: retried
                raise errors.Unavailable(str(error)) from None
            return Outcome(record, rendered, committed=True, warnings=built.warnings)

    async def _check_source(self, request: CreateRequest, repository: interface.Repository) -> None:
        key = request.key
        packages = await repository.list_packages()
        try:
            if request.source.kind == "clone" and key.package in packages:
                raise rules.RuleError(  # Porch's words
                    f'`clone` cannot create a new revision for package "{key.package}" that '
                    f'already exists in repo "{key.repository}"; make subsequent revisions '
                    "using `copy`"
                )
            rules.check_new_package_path(key.package, packages)
            source = request.source
            if source.kind == "clone" and source.upstream is not None:
                rules.check_clone_source(await self._facts(source.upstream), source.upstream.name)
            elif source.kind == "copy" and source.upstream is not None:
                rules.check_copy_source(
                    await self._facts(source.upstream), source.upstream.name, key
                )
            elif source.kind == "upgrade":
                for other in (source.old_upstream, source.upstream, source.current):
                    if other is None:
                        raise rules.RuleError(
                            "upgrade needs oldUpstream, newUpstream and currentPackage"
                        )
                    rules.check_clone_source(await self._facts(other), other.name)
        except rules.NotYet as error:
            raise errors.Waiting(str(error)) from None
        except rules.RuleError as error:
            raise errors.Rejected(str(error)) from None

    async def move(
        self,
        key: PackageRevisionKey,
        target: Lifecycle,
        author: interface.Author,
        readiness_gates: tuple[str, ...] | None = None,
    ) -> PackageRevisionRecord:
        """Propose, reject, approve, propose-delete or undo; a no-op when already there.

        ``readiness_gates``: the gates the request names (spec.readinessGates; None: the
        Kptfile's). A Draft's own Kptfile gates hold too, so an edit the spec has not
        shown yet cannot slip through. Unmet gates make the move wait (:class:`Waiting`):
        a Draft's package conditions can still change.
        """
        async with self._locks[key.package_key]:
            repository = await self._repository(key)
            record = await repository.get_package_revision(key)
            if record is None:
                raise errors.Waiting(f"{key.name} is not in Git yet; waiting until it is created")
            if record.lifecycle == target:
                return record
            try:
                lifecycle.move(record.lifecycle, target)
            except lifecycle.TransitionError as error:
                raise errors.Rejected(str(error)) from None
            if record.unreadable and target in (Lifecycle.PROPOSED, Lifecycle.PUBLISHED):
                raise errors.Rejected(f"{key.name} cannot move to {target}: {record.unreadable}")
            if target in (Lifecycle.PROPOSED, Lifecycle.PUBLISHED) and record.lifecycle in (
                Lifecycle.DRAFT,
                Lifecycle.PROPOSED,
            ):
                gates = record.readiness_gates if readiness_gates is None else readiness_gates
                if record.lifecycle == Lifecycle.DRAFT:
                    gates = tuple(dict.fromkeys((*gates, *record.readiness_gates)))
                unmet = rules.unmet_readiness_gates(gates, record.package_conditions)
                if unmet:
                    raise errors.Waiting(rules.gates_message(unmet, target))
            try:
                return await repository.close_package_revision(key, target, author)
            except interface.InvalidPackage as error:
                raise errors.Rejected(str(error)) from None
            except interface.CacheError as error:  # unreachable, or the branch kept moving
                raise errors.Unavailable(str(error)) from None

    async def commit_edit(
        self,
        key: PackageRevisionKey,
        shown: Mapping[str, bytes],
        author: interface.Author,
        *,
        base: str | None = None,
        omitted: Collection[str] = (),
        push_on_render_failure: bool = False,
    ) -> Outcome:
        """Commit what a resources object changed since it last showed Git, and render.

        ``shown``: the object's files; ``base``: the commit whose files Lanai last wrote
        into it (None: unknown, every shown file is taken); ``omitted``: files it leaves
        out for size. Content that equals Git's is not an edit: no render, no commit
        (:mod:`lanai.engine.edits`).
        """
        async with self._locks[key.package_key]:
            repository, record = await self._draft(key)
            try:
                head = await repository.read_files(key)
                before = None
                if base == record.commit:
                    before = head
                elif base:
                    before = await repository.read_files_at(key, base)
            except interface.RepositoryUnavailable as error:
                raise errors.Unavailable(str(error)) from None
            files = edits.merge(head, shown, before, omitted)
            if files == head:
                return Outcome(record)
            return await self._commit(repository, record, files, author, push_on_render_failure)

    async def _draft(
        self, key: PackageRevisionKey
    ) -> tuple[interface.Repository, PackageRevisionRecord]:
        repository = await self._repository(key)
        record = await repository.get_package_revision(key)
        if record is None:
            raise errors.Unavailable(f"{key.name} is not in Git (yet)")
        if record.lifecycle != Lifecycle.DRAFT:
            raise errors.Rejected(
                f"{key.name} is {record.lifecycle}: only a Draft's resources can change"
            )
        if record.unreadable:
            raise errors.Rejected(f"{key.name} cannot be edited: {record.unreadable}")
        return repository, record

    async def _commit(
        self,
        repository: interface.Repository,
        record: PackageRevisionRecord,
        files: Mapping[str, bytes],
        author: interface.Author,
        push_on_render_failure: bool,
    ) -> Outcome:
        """Render ``files`` and commit the result unless Git holds it already."""
        key = record.key
        _check_paths(files)
        rendered = await self._tasks.render(files)
        if not rendered.ok and not push_on_render_failure:
            raise errors.RenderFailed(rendered.message)
        try:
            current = await repository.read_files(key)
            if dict(current) == rendered.files:
                return Outcome(record, rendered)
            edit = interface.Task("render" if rendered.files != dict(files) else "edit")
            updated = await repository.update_package_revision(key, rendered.files, edit, author)
        except interface.RepositoryUnavailable as error:
            raise errors.Unavailable(str(error)) from None
        except interface.RevisionNotFound:
            raise errors.Unavailable(f"{key.name} is no longer in Git") from None
        except interface.InvalidPackage as error:
            raise errors.Rejected(str(error)) from None
        except interface.CacheError as error:
            # The branch moved on the remote (a push that reached it although its answer
            # did not reach us, someone pushing meanwhile): look again, then retry.
            with contextlib.suppress(interface.CacheError):
                await repository.refresh()
            raise errors.Unavailable(f"the draft branch moved in Git meanwhile ({error})") from None
        return Outcome(updated, rendered, committed=True)

    async def update_metadata(
        self,
        key: PackageRevisionKey,
        requested: packagemeta.PackageMeta,
        author: interface.Author,
        *,
        whole: bool = False,
    ) -> PackageRevisionRecord | None:
        """Write the spec's gates, labels and annotations into a Draft's Kptfile (a no-op
        when it holds them already, or when the revision is not a Draft).

        ``whole``: the request is the whole truth, so what the Kptfile has beyond it is
        removed (see :func:`packagemeta.kptfile_wanted`). The files are read under the
        package's lock: read before it, an edit committed meanwhile would be reverted by
        this commit."""
        if self._metadata_wanted(await self.get(key), requested, whole) is None:
            return await self.get(key)
        async with self._locks[key.package_key]:
            repository = await self._repository(key)
            record = await repository.get_package_revision(key)
            wanted = self._metadata_wanted(record, requested, whole)
            if record is None or wanted is None:
                return record
            try:
                files = await repository.read_files(key)
            except interface.RepositoryUnavailable as error:
                raise errors.Unavailable(str(error)) from None
            files = self._tasks.with_metadata(
                files, wanted.labels, wanted.annotations, wanted.gates, exact=True
            )
            return (await self._commit(repository, record, files, author, True)).record

    @staticmethod
    def _metadata_wanted(
        record: PackageRevisionRecord | None, requested: packagemeta.PackageMeta, whole: bool
    ) -> packagemeta.PackageMeta | None:
        """What a Draft's Kptfile should hold instead; None when it holds the request
        (or there is no Draft)."""
        if record is None or record.lifecycle != Lifecycle.DRAFT:
            return None
        return packagemeta.kptfile_wanted(requested, packagemeta.of_record(record), whole=whole)

    async def delete(self, key: PackageRevisionKey, author: interface.Author) -> bool:
        """Delete the revision from Git, by the rules; gone already is success (False)."""
        async with self._locks[key.package_key]:
            repository = await self._repository(key)
            records = await repository.list_package_revisions()
            facts = [
                rules.RevisionFacts(r.key, r.lifecycle, r.revision, r.upstream_names)
                for r in records
            ]
            target = next((f for f in facts if f.key == key), None)
            if target is None:
                return False
            try:
                rules.check_deletable(target, facts)
            except rules.RuleError as error:
                raise errors.Rejected(str(error)) from None
            try:
                await repository.delete_package_revision(key, author)
            except interface.RevisionNotFound:
                return False
            except interface.RepositoryUnavailable as error:
                raise errors.Unavailable(str(error)) from None
            return True


def _check_paths(files: Mapping[str, bytes]) -> None:
    """Refuse files with a path the rules refuse, before anything renders or commits."""
    try:
        paths.check_all(files)
    except paths.BadPath as error:
        raise errors.Rejected(str(error)) from None
