"""A registered repository's Git side: a local bare mirror, reads and pushes.

Everything here blocks (pygit2); the cache calls it from worker threads, and one lock
per object serialises fetches and writes. Revisions are read from refs alone (layout.py)
plus the ``kpt:`` annotation of the commits they point at, and what a commit holds is
cached by its id, so listing 10,000 tags costs little after the first time.

Publishing never hands out a number twice: the approval commit is pushed to the branch
without force, compared with the branch's value as read, and the remote refuses a push
whose old value is not the branch's. Losing that race means someone else published:
fetch, renumber, retry. Where the remote takes atomic pushes (:mod:`lanai.git.receive`)
the branch, the tag and the proposal branch's deletion are one push; otherwise libgit2
pushes the branch, then the tag, and if the process dies in between, ``repair`` tags
the approval commit on the next sync.
"""

from __future__ import annotations

import contextlib
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
from lanai.git import (
    advert,
    commitmsg,
    content,
    egress,
    layout,
    listing,
    metrics,
    probe,
    receive,
)
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


class NotAtomic(GitError):
    """The remote cannot take several refs as one atomic push."""


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


def _ref_digest(name: str, target: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{name} {target}".encode()).digest(), "big")


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
        self._packages_by_tree: dict[str, dict[str, str]] = {}
        self._walked: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
        self._package_tree_at: dict[tuple[str, str], str | None] = {}
        """(commit, package) → the package directory's id there (tags do not move)."""
        self._inspected: dict[str, tuple[str, tuple[values.Skipped, ...]]] = {}
        """Package tree id → (why it is unreadable, its skipped entries): a draft and
        the tag it becomes share a tree, and 10,000 revisions are checked once each."""
        self._annotations: dict[str, dict[str, Any]] = {}
        self._ref_cache: dict[str, str] | None = None
        self._version_cache: str | None = None
        self._level: tuple[str, str] | None = None
        """(advertisement digest, :meth:`version`) when the two last matched."""
        self._listed = listing.Listing(branch)
        """What each ref shows, revisited only for refs that moved (:mod:`.listing`)."""
        self._moved: set[str] | None = None
        """Refs Lanai moved itself since the listing last looked (None: compare all)."""
        self._atomic: bool | None = None
        """The remote takes a push as one atomic request (:mod:`lanai.git.receive`);
        None until its receive-pack has been asked."""

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
        """Branches and tags of the mirror (name → target id), read once per fetch that
        changed them; Lanai's own pushes update it in place (:meth:`_refs_moved`)."""
        if self._ref_cache is None:
            self._ref_cache = {
                ref.name: str(ref.target)
                for ref in self._repo.references.iterator()
                if ref.name.startswith(("refs/heads/", "refs/tags/"))
                and isinstance(ref.target, pygit2.Oid)
            }
            self._version_cache = None
            self._moved = None
        return self._ref_cache

    def _refs_changed(self) -> None:
        self._ref_cache = None
        self._version_cache = None
        self._moved = None

    def _refs_moved(self, updates: Mapping[str, str | None]) -> None:
        """The mirror's refs were set to ``updates`` (None: deleted) by Lanai itself:
        the known refs and :meth:`version` follow without re-reading 10,000 refs."""
        refs = self._ref_cache
        if refs is None:
            return
        if self._moved is not None:
            self._moved.update(updates)
        version = int(self._version_cache, 16) if self._version_cache is not None else None
        for name, target in updates.items():
            old = refs.pop(name, None)
            if version is not None and old is not None:
                version ^= _ref_digest(name, old)
            if target is not None:
                refs[name] = target
                if version is not None:
                    version ^= _ref_digest(name, target)
        self._version_cache = None if version is None else f"{version:064x}"

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
        """A digest of every branch and tag of the mirror: the same refs, the same version.
        The digests of the refs are combined by XOR, so a push updates it in place."""
        if self._version_cache is None:
            combined = 0
            for name, target in self._refs().items():
                combined ^= _ref_digest(name, target)
            self._version_cache = f"{combined:064x}"
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
        return list(self._package_trees(tree))

    def _package_trees(self, tree: pygit2.Tree) -> dict[str, str]:
        """Package path → the id of its directory, for every package in a tree."""
        key = str(tree.id)
        found = self._packages_by_tree.get(key)
        if found is None:
            if len(self._packages_by_tree) > 64:
                self._packages_by_tree.clear()
            root = self._subtree(tree, self.directory)
            found = dict(self._walk(root)) if root is not None else {}
            self._packages_by_tree[key] = found
        return found

    def _walk(self, tree: pygit2.Tree, prefix: str = "") -> tuple[tuple[str, str], ...]:
        """(path, directory id) of the packages under ``tree``. Kept per directory: after
        an approval only the directories on the changed path are read again, not the
        1,000 packages beside it."""
        if prefix and any(entry.raw_name == _KPTFILE_NAME for entry in tree):
            return ((prefix, str(tree.id)),)
        key = (str(tree.id), prefix)
        known = self._walked.get(key)
        if known is not None:
            return known
        found: list[tuple[str, str]] = []
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
            found.extend(self._walk(child, f"{prefix}/{name}" if prefix else name))
        if len(self._walked) > 50_000:
            self._walked.clear()
        self._walked[key] = result = tuple(found)
        return result

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
            return list(self._list_revisions())

    def listing_changes(
        self,
    ) -> tuple[list[GitRevision], tuple[list[GitRevision], list[GitRevision]] | None, str]:
        """Every revision, the revisions (added, removed) since the last call (None: not
        known, rebuild from the listing) and the :meth:`version` they were read at. For
        one consumer: the repository cache."""
        with self._lock:
            revisions = self._list_revisions()
            return revisions, self._listed.take_changes(), self.version()

    def package_trees_at(self, commit: str) -> dict[str, str]:
        return self._package_trees(self._commit(commit).tree)

    def tree_at(self, commit: str, package: str) -> str | None:
        return self._tree_at(commit, package)

    def read_revision(
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

    def _list_revisions(self) -> list[GitRevision]:
        """Every revision the refs show (shared: do not change the list). Only the refs
        that moved since the last listing are read again."""
        refs = self._refs()
        moved, self._moved = self._moved, set()
        try:
            self._listed.update(refs, moved, self)
        except BaseException:
            # Half-updated: start over from the refs next time.
            self._listed = listing.Listing(self.branch)
            self._moved = None
            raise
        return self._listed.revisions()

    def _tree_at(self, commit: str, package: str) -> str | None:
        key = (commit, package)
        if key not in self._package_tree_at:
            if len(self._package_tree_at) > 50_000:
                self._package_tree_at.clear()
            tree = self._package_tree(self._commit(commit), package)
            self._package_tree_at[key] = str(tree) if tree is not None else None
        return self._package_tree_at[key]

    def kind_of(self, name: str, target: str) -> tuple[str, str, str, int] | None:
        """What the ref ``name`` at ``target`` names: (``tag``, package, workspace, n),
        (``Draft``/``Proposed``, package, workspace, 0), (deletion-proposed, package, "",
        n), or None for a ref that is no revision of this Repository. Asked only for refs
        that moved (:class:`listing.Listing` keeps the answers): a listing of 10,000 tags
        loads no commit for the tags that did not move."""
        parsed = layout.parse(name)
        if parsed is None:
            return None
        package = layout.package_of(self.directory, parsed.path)
        if package is None:
            return None
        if parsed.kind == "tag":
            n = parsed.revision
            annotation = self._annotation(self._commit(target))
            ws = str(annotation.get("workspaceName") or f"v{n}")
            full = layout.full_path(self.directory, package)
            if "package" in annotation and not commitmsg.package_matches(annotation, full, package):
                ws = f"v{n}"
            return ("tag", package, ws, n)
        if parsed.kind == layout.DELETION_PROPOSED:
            return (layout.DELETION_PROPOSED, package, "", parsed.revision)
        return ("Draft" if parsed.kind == "draft" else "Proposed", package, parsed.workspace, 0)

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
        self,
        updates: Mapping[str, str | None],
        *,
        guarded: Mapping[str, str | None] = {},
        atomic: bool = False,
    ) -> None:
        """Point refs at commits (None deletes) locally and on the remote.

        ``guarded`` names refs whose remote value must still be the given commit (None:
        must not exist), else :class:`Conflict` and nothing changes. ``atomic``: all refs
        move or none (:class:`NotAtomic` when the remote cannot promise that; nothing
        was pushed then).
        """
        refs = self._refs()
        if self._can_push_at_once():
            with metrics.timed("push") as outcome:
                try:
                    pushed = self._push_at_once(updates, guarded, refs)
                except Conflict:
                    outcome["outcome"] = "rejected"
                    raise
                outcome["outcome"] = "ok" if pushed else "failed"
            if pushed:
                for name, target in updates.items():
                    if target is None:
                        if name in self._repo.references:
                            self._repo.references.delete(name)
                    else:
                        self._repo.references.create(name, pygit2.Oid(hex=target), force=True)
                self._refs_moved(updates)
                return
        if atomic:
            raise NotAtomic("the remote does not take atomic pushes")
        self._push_with_libgit2(updates, guarded, refs)

    def _can_push_at_once(self) -> bool:
        if self._atomic is None:
            try:
                found = receive.capabilities(self.guard, self.url, self.auth)
            except egress.Refused as error:
                raise RemoteError(error.reason, str(error)) from None
            if found is None:
                return False  # asked again at the next push
            self._atomic = found.usable
        return self._atomic

    def _push_at_once(
        self,
        updates: Mapping[str, str | None],
        guarded: Mapping[str, str | None],
        refs: Mapping[str, str],
    ) -> bool:
        """Push ``updates`` as one atomic request, each ref compared with the value
        ``guarded`` gives or else the mirror's; False when that way is not open (then
        nothing was pushed, or the answer was lost: libgit2 finds out).

        A refused push means the mirror is behind the remote: it is fetched before
        :class:`Conflict` is raised, so that a retry starts from what the remote holds."""
        objects = self._objects_for(
            [target for target in updates.values() if target is not None], refs
        )
        if objects is None:
            return False
        commands = [
            receive.Command(receive.expected_old(refs, name, guarded), target or ZERO, name)
            for name, target in updates.items()
        ]
        try:
            rejected = receive.push(self.guard, self.url, self.auth, commands, objects)
        except egress.Refused as error:
            raise RemoteError(error.reason, str(error)) from None
        if rejected is None:
            return False
        if rejected:
            with contextlib.suppress(GitError):
                self.fetch()
            ref, reason = sorted(rejected.items())[0]
            raise Conflict(f"the remote refused the update of {ref}: {reason}")
        return True

    def _objects_for(self, targets: list[str], refs: Mapping[str, str]) -> bytes | None:
        """A pack of what the remote lacks to hold ``targets``: each new commit and the
        trees and files it does not share with its parent. None when a parent is not
        one the remote is known to have (libgit2 negotiates then)."""
        known = set(refs.values())
        found: dict[pygit2.Oid, tuple[int, bytes]] = {}
        for target in targets:
            if target in known:
                continue
            commit = self._commit(target)
            parents = [str(oid) for oid in commit.parent_ids]
            if any(parent not in known for parent in parents):
                return None
            found[commit.id] = self._raw(commit.id)
            base = self._commit(parents[0]).tree_id if parents else None
            self._tree_objects(commit.tree_id, base, found)
        return receive.pack(found.values())

    def _raw(self, oid: pygit2.Oid) -> tuple[int, bytes]:
        kind, data = self._repo.odb.read(oid)
        return int(kind), data

    def _tree_objects(
        self,
        tree: pygit2.Oid,
        base: pygit2.Oid | None,
        found: dict[pygit2.Oid, tuple[int, bytes]],
    ) -> None:
        """``tree`` and what in it differs from ``base`` (the same path in the parent)."""
        if tree == base or tree in found:
            return
        found[tree] = self._raw(tree)
        before = {}
        if base is not None:
            before = {entry.name: entry for entry in self._repo[base].peel(pygit2.Tree)}
        for entry in self._repo[tree].peel(pygit2.Tree):
            old = before.get(entry.name)
            if old is not None and old.id == entry.id:
                continue
            if entry.type_str == "tree":
                same = old.id if old is not None and old.type_str == "tree" else None
                self._tree_objects(entry.id, same, found)
            elif entry.type_str == "blob" and entry.id not in found:
                found[entry.id] = self._raw(entry.id)

    def _push_with_libgit2(
        self,
        updates: Mapping[str, str | None],
        guarded: Mapping[str, str | None],
        refs: Mapping[str, str],
    ) -> None:
        specs = []
        previous: dict[str, str | None] = {}
        expected = {name: (old or ZERO) for name, old in guarded.items()}
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
        self._list_revisions()
        return bool(self._listed.named(package, workspace))

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
        """A Draft or Proposed revision by its branch; else what the listing names so
        (the package's branch revision first, as a walk over the listing finds it)."""
        self._list_revisions()
        path = layout.full_path(self.directory, package)
        for ref in (layout.draft_branch(path, workspace), layout.proposed_branch(path, workspace)):
            found = self._listed.draft(ref)
            if found is not None:
                return found
        branch = self._listed.branch_revision(package) if workspace == self.branch else None
        if branch is not None:
            return branch
        named = self._listed.named(package, workspace)
        if named:
            return named[0]
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
                if _attempt or not self._can_push_at_once():
                    # One atomic push compares every ref with the mirror, so the first
                    # try needs no fetch: a remote that moved refuses it (and is fetched).
                    self.fetch()
                # An approval whose tag push failed (Git died between the two pushes of
                # a server without atomic pushes) is finished, not made again: a new
                # commit would take the next number and leave that one untagged for
                # good, a gap. (The same recent commits _last_approved reads below.)
                self.repair()
                current = self._find(package, workspace)
                if current.lifecycle in ("Published", "DeletionProposed"):
                    return current
                # The draft's directory as it is (modes, symlinks and all), not re-read.
                files = self._package_tree(self._commit(current.commit), package)
                self._list_revisions()
                taken = self._listed.highest_tag(package)
                n = max(taken, self._last_approved(package)) + 1
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
                branch = f"refs/heads/{self.branch}"
                tag = layout.tag(path, n)
                try:
                    # The approval commit, its tag and the proposal branch's deletion
                    # in one push, all or nothing.
                    self._set_and_push(
                        {branch: commit, tag: commit, current.ref: None},
                        guarded={branch: parent, tag: None, current.ref: current.commit},
                        atomic=True,
                    )
                    return self._find(package, workspace)
                except NotAtomic:
                    pass
                except Conflict:
                    logger.info("publishing %s lost a race; renumbering", package)
                    time.sleep(_backoff(_attempt))
                    continue
                try:  # the branch first: a rival that fetches in between sees n taken
                    self._set_and_push({branch: commit}, guarded={branch: parent})
                except Conflict:
                    logger.info("publishing %s lost a race; renumbering", package)
                    time.sleep(_backoff(_attempt))
                    continue
                faults.point(faults.APPROVE_BRANCH_PUSHED, f"{package}/{workspace}")
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
                # On the branch's head: the branch revision's own commit may be the
                # package's last approval, further back.
                head = self.head()
                commit = self._new_commit(
                    head,
                    package,
                    None,
                    f"Delete {path}",
                    {"package": path, "task": {"type": "delete"}},
                    author,
                )
                self._set_and_push({current.ref: commit}, guarded={current.ref: head})
            else:
                self._set_and_push({current.ref: None})
