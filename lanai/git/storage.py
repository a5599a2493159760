"""A registered repository's Git side: a local bare mirror, reads and pushes.

Everything here blocks (pygit2); the cache calls it from worker threads, and one lock
per object serialises fetches and writes. Revisions are read from refs alone (layout.py)
plus the ``kpt:`` annotation of the commits they point at, and what a commit holds is
cached by its id, so listing 10,000 tags costs little after the first time.

Publishing never hands out a number twice: the approval commit is pushed to the branch
without force, and libgit2 refuses a push that is not a fast-forward. Losing that race
means someone else published: fetch, renumber, retry. The tag follows; if the process
dies in between, ``repair`` tags the approval commit on the next sync.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pygit2

from lanai import faults
from lanai.api import values
from lanai.git import advert, commitmsg, content, egress, layout, metrics, probe
from lanai.trust import paths, sizes

logger = logging.getLogger(__name__)
T = TypeVar("T")

KPTFILE = "Kptfile"
_KPTFILE_NAME = KPTFILE.encode()
APPROVE_ATTEMPTS = 200
APPROVE_BACKOFF = (0.01, 0.5)
"""First and longest pause (s) after losing a publishing race, drawn with full jitter.

Each round of a race has exactly one winner, so N simultaneous publishers need up to N
rounds; without pauses they retry in lockstep and keep colliding. Random, growing
pauses spread them out, and 200 attempts cover far more rivals than a repository has.
"""
REPAIR_DEPTH = 50


class GitError(Exception):
    """Base of this module's errors; messages never contain credentials."""


class RemoteError(GitError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RevisionExists(GitError):
    pass


class RevisionNotFound(GitError):
    pass


class Conflict(GitError):
    pass


class InvalidPackage(GitError):
    """A package's files break a rule (a bad name, too large): refused, not retried."""


@dataclass(frozen=True)
class Signature:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class GitRevision:
    package: str
    workspace: str
    lifecycle: str
    revision: int
    commit: str
    ref: str
    annotation: dict[str, Any] = field(default_factory=dict)
    kptfile: str = ""
    """The Kptfile's blob id (read it with :meth:`GitStorage.blob`): listings are kept
    between syncs, 10,000 Kptfiles' bytes need not be."""
    committed_at: str = ""
    committer: str = ""
    unreadable: str = ""
    """Why the package's files cannot be read (a bad name, too large); then they never are."""
    skipped: tuple[values.Skipped, ...] = ()
    """Entries of the package that are not files (symlinks, submodules)."""


@dataclass(frozen=True)
class PackageContent:
    files: dict[str, bytes]
    skipped: tuple[values.Skipped, ...] = ()


ZERO = "0" * 40
_MIRROR_REFSPECS = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]


class _Callbacks(probe._Callbacks):
    def __init__(
        self,
        auth: probe.RemoteAuth | None,
        access: probe.Access,
        expected: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(auth, access)
        self.rejected: dict[str, str] = {}
        self._expected = dict(expected or {})

    def push_negotiation(self, updates: list[Any]) -> None:
        """Compare-and-swap: refuse to move a ref the remote moved since we read it.

        libgit2 does not refuse a non-fast-forward push by itself; this check runs on
        the same connection as the update, and the server re-checks the old value under
        its ref lock, so two publishers can never both win.
        """
        for update in updates:
            want = self._expected.get(update.dst_refname)
            if want is not None and str(update.src) != want:  # src: the remote's current value
                self.rejected[update.dst_refname] = f"{update.dst_refname} moved on the remote"
        if self.rejected:
            raise Conflict("; ".join(sorted(self.rejected.values())))

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.rejected[refname] = message


def _remote_error(error: Exception) -> RemoteError:
    return RemoteError(*probe.classify(probe.redact(str(error))))


def _backoff(attempt: int) -> float:
    first, longest = APPROVE_BACKOFF
    return random.uniform(0, min(longest, first * 2**attempt))  # noqa: S311 (jitter, not secrets)


_CLEAN: tuple[str, tuple[values.Skipped, ...]] = ("", ())
"""What :meth:`GitStorage._inspect` finds in almost every package (one shared tuple)."""


def _what(package: str, commit: str) -> str:
    """A package at a commit, for messages."""
    return f'package "{package}" at {commit[:12]}'


def _iso(seconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class GitStorage:
    def __init__(
        self,
        url: str,
        branch: str,
        directory: str,
        mirror: Path,
        auth: probe.RemoteAuth | None = None,
        limits: sizes.PackageLimits = sizes.DEFAULT,
        *,
        guard: egress.Egress,
    ) -> None:
        self.url = url
        self.guard = guard
        self.branch = branch
        self.directory = directory.strip("/")
        self.auth = auth
        self.limits = limits
        self._lock = threading.RLock()
        mirror.mkdir(parents=True, exist_ok=True)
        if (mirror / "HEAD").exists():
            self._repo = pygit2.Repository(str(mirror))
        else:
            self._repo = pygit2.init_repository(str(mirror), bare=True)
        self._packages_by_tree: dict[str, list[str]] = {}
        self._inspected: dict[str, tuple[str, tuple[values.Skipped, ...]]] = {}
        """Package tree id → (why it is unreadable, its skipped entries): a draft and
        the tag it becomes share a tree, and 10,000 revisions are checked once each."""
        self._annotations: dict[str, dict[str, Any]] = {}
        self._ref_cache: dict[str, str] | None = None
        self._version_cache: str | None = None
        self._level: tuple[str, str] | None = None
        """(advertisement digest, :meth:`version`) when the two last matched."""
        self._revisions: dict[tuple[str, str, str, int, str, str], GitRevision | None] = {}
        """What each ref shows, by everything it depends on: a listing re-reads only
        refs that moved (10,000 tags cost a dict lookup each, not a tree walk)."""

    # -- remote -----------------------------------------------------------------

    def _remote(self) -> pygit2.Remote:
        return self._repo.remotes.create_anonymous(self.url)

    def _run(self, service: str, call: Callable[[probe.Access], T]) -> T:
        """One libgit2 network call, through :func:`probe.run` (checked connections,
        credentials only when challenged)."""
        return probe.run(self.guard, self.url, self.auth, service, call)

    def fetch(self) -> bool:
        """Mirror every branch and tag of the remote (pruned); True when a ref changed.

        One ref advertisement decides: when it matches the mirror's refs nothing is
        downloaded (the no-op sync). Over HTTP(S) it is read by :mod:`lanai.git.advert`
        and compared by digest with the last advertisement the mirror was brought level
        with, so an unchanged remote costs one request and a hash; libgit2 lists the
        refs where that fast path does not apply. Otherwise two wildcard refspecs fetch
        everything; one explicit refspec per ref would make libgit2 match every
        advertised ref against every refspec, quadratic in the number of revisions.
        """
        with self._lock, metrics.timed("fetch") as outcome:
            changed = self._fetch()
            outcome["outcome"] = "fetched" if changed else "unchanged"
            return changed

    def _fetch(self) -> bool:
        before = self.version()
        try:
            fast = advert.read(self.guard, self.url, self.auth)
        except egress.Refused as error:
            raise RemoteError(error.reason, str(error)) from None
        if fast is not None and self._level == (fast.digest, before):
            return False
        try:
            advertised = self._advertised(fast)
            if advertised == self._refs():
                self._remember(fast)
                return False
            if advertised:

                def fetch(access: probe.Access) -> None:
                    self._remote().fetch(_MIRROR_REFSPECS, callbacks=_Callbacks(self.auth, access))

                try:
                    self._run(egress.UPLOAD_PACK, fetch)
                finally:
                    self._refs_changed()
        except probe.ProbeError as error:
            raise RemoteError(error.reason, str(error)) from None
        except (pygit2.GitError, KeyError, OSError) as error:
            raise _remote_error(error) from None
        for name in self._refs():
            if name not in advertised:
                self._repo.references.delete(name)
        current = self._refs()
        for ref_name, target in advertised.items():
            if current.get(ref_name) != target:
                self._repo.references.create(ref_name, pygit2.Oid(hex=target), force=True)
        self._refs_changed()
        self._remember(fast)
        return self.version() != before

    def _advertised(self, fast: advert.Advertisement | None) -> dict[str, str]:
        """The remote's branches and tags: from ``fast`` if it parses, else from libgit2."""
        if fast is not None:
            try:
                return fast.refs()
            except (ValueError, UnicodeDecodeError):
                logger.debug("the ref advertisement did not parse; asking libgit2")

        def list_heads(access: probe.Access) -> list[Any]:
            return self._remote().list_heads(callbacks=_Callbacks(self.auth, access))

        advertised: dict[str, str] = {}
        for head in self._run(egress.UPLOAD_PACK, list_heads):
            ref = head.name or ""
            if ref.startswith(("refs/heads/", "refs/tags/")) and not ref.endswith("^{}"):
                advertised[ref] = str(head.oid)
        return advertised

    def _remember(self, fast: advert.Advertisement | None) -> None:
        """The mirror's refs now equal those ``fast`` advertised: while both the remote's
        digest and :meth:`version` stay as they are, nothing changed."""
        self._level = (fast.digest, self.version()) if fast is not None else None

    def _refs(self) -> dict[str, str]:
        """Branches and tags of the mirror (name → target id), read once per change."""
        if self._ref_cache is None:
            self._ref_cache = {
                ref.name: str(ref.target)
                for ref in self._repo.references.iterator()
                if ref.name.startswith(("refs/heads/", "refs/tags/"))
                and isinstance(ref.target, pygit2.Oid)
            }
            self._version_cache = None
        return self._ref_cache

    def _refs_changed(self) -> None:
        self._ref_cache = None
        self._version_cache = None

    def _push(self, specs: list[str], expected: Mapping[str, str]) -> dict[str, str]:
        with metrics.timed("push") as outcome:
            rejected = self._push_once(specs, expected)
            outcome["outcome"] = "rejected" if rejected else "ok"
            return rejected

    def _push_once(self, specs: list[str], expected: Mapping[str, str]) -> dict[str, str]:
        made: list[_Callbacks] = []

        def push(access: probe.Access) -> None:
            made.append(_Callbacks(self.auth, access, expected))
            self._remote().push(specs, callbacks=made[-1])

        try:
            self._run(egress.RECEIVE_PACK, push)
        except Conflict:
            return made[-1].rejected
        except probe.ProbeError as error:
            raise RemoteError(error.reason, str(error)) from None
        except pygit2.GitError as error:
            if made and made[-1].rejected:
                return made[-1].rejected
            text = str(error).lower()
            if "fast" in text or "not present locally" in text or "rejected" in text:
                return {spec: str(error) for spec in specs}
            raise _remote_error(error) from None
        return made[-1].rejected

    def version(self) -> str:
        if self._version_cache is None:
            digest = hashlib.sha256()
            for name, target in sorted(self._refs().items()):
                digest.update(f"{name} {target}\n".encode())
            self._version_cache = digest.hexdigest()
        return self._version_cache

    def head(self) -> str:
        return self._refs().get(f"refs/heads/{self.branch}", "")

    def ensure_branch(self) -> None:
        """createBranch: give the remote the branch, with an empty first commit."""
        with self._lock:
            if self.head():
                return
            tree = self._repo.TreeBuilder().write()
            author = pygit2.Signature("lanai", "lanai@porch.kpt.dev")
            commit = self._repo.create_commit(
                None, author, author, f"Create branch {self.branch}\n", tree, []
            )
            name = f"refs/heads/{self.branch}"
            self._repo.references.create(name, commit, force=True)
            self._refs_changed()
            if self._push([f"{name}:{name}"], {name: ZERO}):
                raise Conflict(f"branch {self.branch} appeared on the remote meanwhile")

    # -- reading ------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The commit a tag, branch or commit id names (after :meth:`fetch`)."""
        for name in (f"refs/tags/{ref}", f"refs/heads/{ref}", ref):
            found = self._repo.references.get(name)
            if found is not None:
                return str(found.resolve().peel(pygit2.Commit).id)
        try:
            return str(self._commit(ref).id)
        except (RevisionNotFound, ValueError):
            raise RevisionNotFound(
                f'ref "{ref}" is not a tag, branch or commit of {self.url}'
            ) from None

    def _commit(self, oid: str) -> pygit2.Commit:
        obj = self._repo.get(oid)
        commit = obj.peel(pygit2.Commit) if obj is not None else None
        if commit is None:
            raise RevisionNotFound(f"commit {oid} is not in the mirror")
        return commit

    def _annotation(self, commit: pygit2.Commit) -> dict[str, Any]:
        key = str(commit.id)
        if key not in self._annotations:
            self._annotations[key] = commitmsg.parse(commit.message)
        return self._annotations[key]

    def _packages(self, tree: pygit2.Tree) -> list[str]:
        """Package paths (relative to ``directory``) in a tree: outermost Kptfiles only."""
        key = str(tree.id)
        if key in self._packages_by_tree:
            return self._packages_by_tree[key]
        root = self._subtree(tree, self.directory)
        found: list[str] = []
        if root is not None:
            self._walk(root, "", found)
        self._packages_by_tree[key] = found
        return found

    def _walk(self, tree: pygit2.Tree, prefix: str, found: list[str]) -> None:
        if prefix and any(entry.raw_name == _KPTFILE_NAME for entry in tree):
            found.append(prefix)
            return
        for entry in tree:
            if entry.type_str != "tree":
                continue
            name = (entry.raw_name or b"").decode("utf-8", "replace")
            if "\ufffd" in name or paths.problem(name) is not None:
                # No package lives under ".git", "..", a newline or a name that is not
                # UTF-8: such a directory (someone else's push) is passed over.
                logger.warning("%s: passing over directory %s", self.url, paths.quoted(name))
                continue
            child = self._repo[entry.id].peel(pygit2.Tree)
            self._walk(child, f"{prefix}/{name}" if prefix else name, found)

    def _subtree(self, tree: pygit2.Tree, path: str) -> pygit2.Tree | None:
        if not path:
            return tree
        try:
            entry = tree[path]
        except KeyError:
            return None
        if entry.type_str != "tree":
            return None
        subtree: pygit2.Tree = self._repo[entry.id].peel(pygit2.Tree)
        return subtree

    def _kptfile(self, tree: pygit2.Oid) -> str | None:
        """The blob id of the Kptfile in the package directory ``tree``, or None."""
        package: pygit2.Tree = self._repo[tree].peel(pygit2.Tree)
        try:
            entry = package[KPTFILE]
        except KeyError:
            return None
        return str(entry.id) if entry.type_str == "blob" else None

    def blob(self, oid: str) -> bytes:
        """The content of a blob of the mirror (e.g. a revision's Kptfile)."""
        with self._lock:
            return bytes(self._repo[oid].peel(pygit2.Blob).data)

    def list_revisions(self) -> list[GitRevision]:
        with self._lock:
            previous, self._revisions = self._revisions, {}
            try:
                return self._list_revisions(previous)
            except BaseException:
                self._revisions = previous
                raise

    def listing(self) -> tuple[list[GitRevision], str]:
        """:meth:`list_revisions` and the :meth:`version` it was read at."""
        with self._lock:
            return self.list_revisions(), self.version()

    def _revision(
        self,
        package: str,
        ws: str,
        lifecycle: str,
        n: int,
        oid: str,
        ref: str,
        previous: Mapping[tuple[str, str, str, int, str, str], GitRevision | None],
    ) -> GitRevision | None:
        key = (package, ws, lifecycle, n, oid, ref)
        if key in previous:
            self._revisions[key] = previous[key]
            return previous[key]
        found = self._read_revision(package, ws, lifecycle, n, oid, ref)
        self._revisions[key] = found
        return found

    def _read_revision(
        self, package: str, ws: str, lifecycle: str, n: int, oid: str, ref: str
    ) -> GitRevision | None:
        commit = self._commit(oid)
        tree = self._package_tree(commit, package)  # one walk down from the root
        kptfile = self._kptfile(tree) if tree is not None else None
        if tree is None or kptfile is None:
            return None
        unreadable, skipped = self._inspect(tree, _what(package, oid))
        return GitRevision(
            package=package,
            workspace=ws,
            lifecycle=lifecycle,
            revision=n,
            commit=oid,
            ref=ref,
            annotation=self._annotation(commit),
            kptfile=kptfile,
            committed_at=_iso(commit.commit_time),
            committer=commit.author.name,
            unreadable=unreadable,
            skipped=skipped,
        )

    def _inspect(self, tree: pygit2.Oid, what: str) -> tuple[str, tuple[values.Skipped, ...]]:
        """Whether the package directory ``tree`` can be read, by its names and sizes
        alone (no content is read)."""
        key = str(tree)
        if key not in self._inspected:
            try:
                listing = content.list_tree(self._repo, tree, what, self.limits)
                self._inspected[key] = ("", listing.skipped) if listing.skipped else _CLEAN
            except content.Refused as error:
                self._inspected[key] = (str(error), ())
        return self._inspected[key]

    def _list_revisions(
        self,
        previous: Mapping[tuple[str, str, str, int, str, str], GitRevision | None] | None = None,
    ) -> list[GitRevision]:
        """Every revision the refs show; ``previous`` answers for refs that did not move
        (default: what the last listing read)."""
        if previous is None:
            previous = self._revisions
        found: list[GitRevision] = []
        head = self.head()
        if head:
            for package in self._packages(self._commit(head).tree):
                placeholder = self._revision(
                    package,
                    self.branch,
                    "Published",
                    -1,
                    head,
                    f"refs/heads/{self.branch}",
                    previous,
                )
                if placeholder:
                    found.append(placeholder)
        deletion: set[tuple[str, int]] = set()
        tags: list[tuple[str, int, str, str]] = []
        for name, target in self._refs().items():
            parsed = layout.parse(name)
            if parsed is None:
                continue
            in_scope = layout.package_of(self.directory, parsed.path)
            if in_scope is None:
                continue
            package = in_scope
            if parsed.kind == "tag":
                tags.append((package, parsed.revision, target, name))
            elif parsed.kind == layout.DELETION_PROPOSED:
                deletion.add((package, parsed.revision))
            else:
                lifecycle = "Draft" if parsed.kind == "draft" else "Proposed"
                draft = self._revision(
                    package, parsed.workspace, lifecycle, 0, target, name, previous
                )
                if draft:
                    found.append(draft)
        for package, n, target, name in tags:
            lifecycle = "DeletionProposed" if (package, n) in deletion else "Published"
            annotation = self._annotation(self._commit(target))
            ws = str(annotation.get("workspaceName") or f"v{n}")
            full = layout.full_path(self.directory, package)
            if "package" in annotation and not commitmsg.package_matches(annotation, full, package):
                ws = f"v{n}"
            published = self._revision(package, ws, lifecycle, n, target, name, previous)
            if published:
                found.append(published)
        return found

    def _package_tree(self, commit: pygit2.Commit, package: str) -> pygit2.Oid | None:
        """The id of the package's directory in ``commit`` (not loaded), or None."""
        path = layout.full_path(self.directory, package)
        if not path:
            return commit.tree_id
        try:
            entry = commit.tree[path]
        except KeyError:
            return None
        return entry.id if entry.type_str == "tree" else None

    def _listing(self, commit: str, package: str) -> content.Listing:
        tree = self._package_tree(self._commit(commit), package)
        if tree is None:
            raise RevisionNotFound(f"package {package} is not in commit {commit[:12]}")
        try:
            return content.list_tree(self._repo, tree, _what(package, commit), self.limits)
        except content.Refused as error:
            raise InvalidPackage(str(error)) from None

    def read_package(self, commit: str, package: str) -> PackageContent:
        """The package's files (names checked, sizes bounded before anything is read);
        symlinks and submodules are listed apart, never read."""
        with self._lock:
            listing = self._listing(commit, package)
            return PackageContent(content.read(self._repo, listing), listing.skipped)

    # -- writing ------------------------------------------------------------------

    def _tree_with(
        self, base: pygit2.Tree | None, path: str, files: pygit2.Oid | None
    ) -> pygit2.Oid | None:
        """``base`` with the directory ``path`` replaced by the tree ``files`` (None
        removes it)."""
        parts = path.split("/")
        return self._replace(base, parts, files)

    def _replace(
        self, base: pygit2.Tree | None, parts: list[str], files: pygit2.Oid | None
    ) -> pygit2.Oid | None:
        builder = self._repo.TreeBuilder(base) if base is not None else self._repo.TreeBuilder()
        name = parts[0]
        existing = None
        if base is not None and name in base and base[name].type_str == "tree":
            existing = self._repo[base[name].id].peel(pygit2.Tree)
        new = files if len(parts) == 1 else self._replace(existing, parts[1:], files)
        if base is not None and name in base:
            builder.remove(name)
        if new is not None:
            builder.insert(name, new, pygit2.enums.FileMode.TREE)
        if len(builder) == 0:
            return None
        return builder.write()

    def _build(
        self, package: str, files: Mapping[str, bytes], keep: tuple[content.Entry, ...] = ()
    ) -> pygit2.Oid | None:
        """The package directory holding ``files`` (and ``keep``), by the rules."""
        try:
            return content.build(self._repo, files, f'package "{package}"', keep, self.limits)
        except content.Refused as error:
            raise InvalidPackage(str(error)) from None

    def _new_commit(
        self,
        parent: str | None,
        package: str,
        files: pygit2.Oid | None,
        summary: str,
        annotation: dict[str, Any],
        author: Signature,
    ) -> str:
        """A commit on ``parent`` whose package directory is the tree ``files``."""
        base = self._commit(parent).tree if parent else None
        tree = self._tree_with(base, layout.full_path(self.directory, package), files)
        if tree is None:
            tree = self._repo.TreeBuilder().write()
        signature = pygit2.Signature(author.name, author.email)
        oid = self._repo.create_commit(
            None,
            signature,
            signature,
            commitmsg.annotate(summary, annotation),
            tree,
            [pygit2.Oid(hex=parent)] if parent else [],
        )
        return str(oid)

    def _set_and_push(
        self, updates: Mapping[str, str | None], *, guarded: Mapping[str, str | None] = {}
    ) -> None:
        """Point refs at commits (None deletes) locally and on the remote.

        ``guarded`` names refs whose remote value must still be the given commit (None:
        must not exist), else :class:`Conflict` and nothing changes.
        """
        specs = []
        previous: dict[str, str | None] = {}
        expected = {name: (old or ZERO) for name, old in guarded.items()}
        refs = self._refs()
        for name, target in updates.items():
            previous[name] = refs.get(name)
            if target is None:
                specs.append(f":{name}")
                continue
            self._repo.references.create(name, pygit2.Oid(hex=target), force=True)
            specs.append(f"{name}:{name}")
        self._refs_changed()
        try:
            rejected = self._push(specs, expected)
        except GitError:
            rejected = {"": "push failed"}
            self._restore(previous)
            raise
        if rejected:
            self._restore(previous)
            raise Conflict(f"the remote refused the update: {sorted(rejected.values())[0]}")
        for name, target in updates.items():
            if target is None and name in self._repo.references:
                self._repo.references.delete(name)
        self._refs_changed()

    def _restore(self, previous: Mapping[str, str | None]) -> None:
        for name, target in previous.items():
            if target is None:
                if name in self._repo.references:
                    self._repo.references.delete(name)
            else:
                self._repo.references.create(name, pygit2.Oid(hex=target), force=True)
        self._refs_changed()

    def _workspace_taken(self, package: str, workspace: str) -> bool:
        return any(
            r.package == package and r.workspace == workspace and r.revision >= 0
            for r in self._list_revisions()
        )

    def create_draft(
        self,
        package: str,
        workspace: str,
        files: Mapping[str, bytes],
        annotation: dict[str, Any],
        author: Signature,
        proposed: bool = False,
    ) -> GitRevision:
        with self._lock:
            if self._workspace_taken(package, workspace):
                raise RevisionExists(f"{package} already has a revision named {workspace}")
            path = layout.full_path(self.directory, package)
            ref = (layout.proposed_branch if proposed else layout.draft_branch)(path, workspace)
            head = self.head() or None
            annotation = {**annotation, **self._identity(package, workspace)}
            tree = self._build(package, files)
            commit = self._new_commit(
                head, package, tree, self._summary(annotation), annotation, author
            )
            self._set_and_push({ref: commit}, guarded={ref: None})
            return self._find(package, workspace)

    def _identity(self, package: str, workspace: str, revision: int = 0) -> dict[str, Any]:
        """The annotation fields naming a revision, as Porch writes them: the package's
        full path, the workspace, the revision number as a string ("0" until published)."""
        return {
            "package": layout.full_path(self.directory, package),
            "workspaceName": workspace,
            "revision": str(revision),
        }

    @staticmethod
    def _summary(annotation: Mapping[str, Any]) -> str:
        return commitmsg.summary(commitmsg.task_type(annotation))

    def _find(self, package: str, workspace: str) -> GitRevision:
        for revision in self._list_revisions():
            if revision.package == package and revision.workspace == workspace:
                return revision
        raise RevisionNotFound(f"{package} has no revision {workspace}")

    def update_draft(
        self,
        package: str,
        workspace: str,
        files: Mapping[str, bytes],
        annotation: dict[str, Any],
        author: Signature,
    ) -> GitRevision:
        with self._lock:
            current = self._find(package, workspace)
            if current.lifecycle not in ("Draft", "Proposed"):
                raise Conflict(f"{package}/{workspace} is {current.lifecycle}, not a Draft")
            annotation = {**annotation, **self._identity(package, workspace)}
            # Symlinks and submodules are not shown as files, so an edit keeps them.
            kept = self._listing(current.commit, package).special
            tree = self._build(package, files, kept)
            commit = self._new_commit(
                current.commit, package, tree, self._summary(annotation), annotation, author
            )
            self._set_and_push({current.ref: commit}, guarded={current.ref: current.commit})
            return self._find(package, workspace)

    def move_draft(self, package: str, workspace: str, proposed: bool) -> GitRevision:
        """Propose (drafts/ → proposed/) or reject (back); already there is a no-op."""
        with self._lock:
            current = self._find(package, workspace)
            path = layout.full_path(self.directory, package)
            target = (layout.proposed_branch if proposed else layout.draft_branch)(path, workspace)
            if current.ref != target:
                self._set_and_push({target: current.commit, current.ref: None})
            return self._find(package, workspace)

    def approve(
        self, package: str, workspace: str, author: Signature, approved_by: str = ""
    ) -> GitRevision:
        """Publish: the next revision number, an approval commit on the branch, a tag.

        ``approved_by`` (the approving user) is recorded in the annotation even when the
        commit itself is attributed to the Repository's configured author.
        """
        with self._lock:
            path = layout.full_path(self.directory, package)
            for _attempt in range(APPROVE_ATTEMPTS):
                self.fetch()
                # An approval of ours whose tag push failed (Git died between the two
                # pushes) is finished, not made again: a new commit would take the next
                # number and leave this one untagged for good, a gap.
                self.repair()
                current = self._find(package, workspace)
                if current.lifecycle in ("Published", "DeletionProposed"):
                    return current
                # The draft's directory as it is (modes, symlinks and all), not re-read.
                files = self._package_tree(self._commit(current.commit), package)
                numbers = [r.revision for r in self._list_revisions() if r.package == package]
                n = max([0, *numbers, self._last_approved(package)]) + 1
                # Porch's approval commit names the revision and records no task.
                annotation = {
                    **current.annotation,
                    **self._identity(package, workspace, n),
                    "approvedBy": approved_by or author.name,
                }
                annotation.pop("task", None)
                parent = self.head() or None
                commit = self._new_commit(
                    parent,
                    package,
                    files,
                    commitmsg.approve_summary(path, n),
                    annotation,
                    author,
                )
                try:
                    branch = f"refs/heads/{self.branch}"
                    self._set_and_push({branch: commit}, guarded={branch: parent})
                except Conflict:
                    logger.info("publishing %s lost a race; renumbering", package)
                    time.sleep(_backoff(_attempt))
                    continue
                faults.point(faults.APPROVE_BRANCH_PUSHED, f"{package}/{workspace}")
                tag = layout.tag(path, n)
                self._set_and_push({tag: commit, current.ref: None}, guarded={tag: None})
                return self._find(package, workspace)
            raise Conflict(f"could not publish {package}: the branch kept moving")

    def _mainline(self, head: str) -> Iterator[pygit2.Commit]:
        """The newest REPAIR_DEPTH commits of the branch, following first parents.

        Approvals reach the branch as fast-forwards, so this is its own history. (A
        topological walk would read all of history before yielding anything: 57 ms at
        10,000 commits, on every sync.)
        """
        commit: pygit2.Commit | None = self._commit(head)
        for _depth in range(REPAIR_DEPTH):
            if commit is None:
                return
            yield commit
            commit = commit.parents[0] if commit.parents else None

    def _last_approved(self, package: str) -> int:
        """The newest revision number the branch's approval commits carry for ``package``.

        Tags alone are not enough: a publisher pushes the branch before its tag, so a
        rival that re-fetches in between must still see the number as taken.
        """
        head = self.head()
        if not head:
            return 0
        full = layout.full_path(self.directory, package)
        for commit in self._mainline(head):
            note = self._annotation(commit)
            n = commitmsg.revision_of(note)
            if n is not None and commitmsg.package_matches(note, full, package):
                return n
        return 0

    def repair(self) -> list[str]:
        """Tag approval commits whose tag is missing (a crash between the two pushes)."""
        with self._lock:
            head = self.head()
            if not head:
                return []
            refs = self._refs()
            tagged = {target for name, target in refs.items() if name.startswith("refs/tags/")}
            made: list[str] = []
            for commit in self._mainline(head):
                note = self._annotation(commit)
                n = commitmsg.revision_of(note)
                noted = note.get("package")
                if n is None or not isinstance(noted, str):
                    continue
                # Porch's full path; Lanai once wrote the path within the directory.
                package = layout.package_of(self.directory, noted) or noted
                if str(commit.id) in tagged:
                    continue
                name = layout.tag(layout.full_path(self.directory, package), n)
                if name in self._refs():
                    continue
                ws = str(note.get("workspaceName") or "")
                path = layout.full_path(self.directory, package)
                # A crash between the two pushes leaves the proposal's branch behind; with
                # no such branch the tag was deleted on purpose (the revision was deleted).
                stale = [
                    branch
                    for branch in (layout.draft_branch(path, ws), layout.proposed_branch(path, ws))
                    if ws and branch in self._refs()
                ]
                if not stale:
                    continue
                updates: dict[str, str | None] = {name: str(commit.id)}
                updates.update(dict.fromkeys(stale))
                self._set_and_push(updates)
                made.append(name)
            return made

    def set_deletion_proposed(self, package: str, revision: int, proposed: bool) -> None:
        with self._lock:
            path = layout.full_path(self.directory, package)
            ref = layout.deletion_proposed_branch(path, revision)
            tag = self._refs().get(layout.tag(path, revision))
            if tag is None:
                raise RevisionNotFound(f"{package} has no revision v{revision}")
            exists = ref in self._refs()
            if proposed and not exists:
                self._set_and_push({ref: tag})
            elif not proposed and exists:
                self._set_and_push({ref: None})

    def delete(self, package: str, workspace: str, author: Signature) -> None:
        with self._lock:
            try:
                current = self._find(package, workspace)
            except RevisionNotFound:
                return
            path = layout.full_path(self.directory, package)
            if current.revision > 0:
                self._set_and_push(
                    {
                        current.ref: None,
                        **(
                            {layout.deletion_proposed_branch(path, current.revision): None}
                            if layout.deletion_proposed_branch(path, current.revision)
                            in self._refs()
                            else {}
                        ),
                    }
                )
            elif current.revision < 0:
                commit = self._new_commit(
                    current.commit,
                    package,
                    None,
                    f"Delete {path}",
                    {"package": path, "task": {"type": "delete"}},
                    author,
                )
                self._set_and_push({current.ref: commit})
            else:
                self._set_and_push({current.ref: None})
