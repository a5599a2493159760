"""The revisions a mirror's refs show, kept up to date ref by ref.

Listing every revision used to visit every ref: ~12 ms of Python at 10,000 revisions,
and a lifecycle step listed three times (is the workspace free, where is the new
revision, the cache's index after the push), so a step in a repository of 10,000
revisions took three to five times as long as in an empty one. A :class:`Listing` keeps
what each ref contributes and, when refs move, visits only those: Lanai's own pushes name
them, and after a fetch the old and new ref tables are compared as sets (in C). Lookups
by package and workspace are dict lookups, and the changes since the cache last looked
are handed over as such (:meth:`Listing.take_changes`), so its index follows in O(changed)
too.

The outcome is the same as a walk over every ref: a Draft or Proposed revision per
branch, a Published (or DeletionProposed, when its deletion-proposed ref exists) per tag,
and one branch revision (revision -1) per package on the branch, at the package's latest
approval while the branch still holds that content, else at the branch's head.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from lanai.git import layout

if TYPE_CHECKING:
    from lanai.git.storage import GitRevision

Kind = tuple[str, str, str, int]
"""What a ref names: (``tag``, package, workspace, n), (``Draft``/``Proposed``, package,
workspace, 0) or (deletion-proposed, package, "", n)."""

K = TypeVar("K")
TAG = "tag"
JOURNAL_LIMIT = 50_000
"""Changes kept for a consumer that has not taken them; beyond, it rebuilds instead."""


class Reader(Protocol):
    """What a listing reads from the mirror (:class:`lanai.git.storage.GitStorage`)."""

    def kind_of(self, name: str, target: str) -> Kind | None: ...

    def read_revision(
        self, package: str, workspace: str, lifecycle: str, n: int, commit: str, ref: str
    ) -> GitRevision | None: ...

    def package_trees_at(self, commit: str) -> Mapping[str, str]: ...

    def tree_at(self, commit: str, package: str) -> str | None: ...


class Listing:
    """Every revision of one mirror, updated by :meth:`update`; not thread-safe (the
    storage's lock guards it)."""

    def __init__(self, branch: str) -> None:
        self._branch = branch
        self._branch_ref = f"refs/heads/{branch}"
        self._refs: dict[str, str] = {}
        """Every branch and tag as last listed."""
        self._kinds: dict[str, Kind] = {}
        """The refs that name a revision, and what they name."""
        self._drafts: dict[str, GitRevision] = {}
        self._tags_of: dict[tuple[str, int], tuple[str, ...]] = {}
        """(package, n) → its tag refs (tuples, not sets: 10,000 of them are kept)."""
        self._package_tags: dict[str, dict[str, int]] = {}
        self._deleting: dict[tuple[str, int], int] = {}
        """(package, n) → deletion-proposed refs naming it."""
        self._published: dict[str, GitRevision] = {}
        self._named: dict[tuple[str, str], tuple[str, ...]] = {}
        """(package, workspace) → the refs of its Draft, Proposed or published revision."""
        self._head = ""
        self._head_trees: Mapping[str, str] = {}
        self._placeholders: dict[str, GitRevision] = {}
        self._on_head: set[str] = set()
        """Packages whose branch revision is the head itself (it moves with the head)."""
        self._all: list[GitRevision] | None = []
        self._added: dict[int, GitRevision] = {}
        self._removed: dict[int, GitRevision] = {}
        self._journal = False
        """The changes since the last :meth:`take_changes` are complete."""

    # -- reading --------------------------------------------------------------------

    def revisions(self) -> list[GitRevision]:
        """Branch revisions first, then Drafts and Proposed, then published ones (the
        list is shared: do not change it)."""
        if self._all is None:
            self._all = [
                *self._placeholders.values(),
                *self._drafts.values(),
                *self._published.values(),
            ]
        return self._all

    def named(self, package: str, workspace: str) -> list[GitRevision]:
        """The Draft, Proposed and published revisions of ``package`` called ``workspace``,
        by ref name."""
        found = []
        for ref in sorted(self._named.get((package, workspace), ())):
            revision = self._drafts.get(ref) or self._published.get(ref)
            if revision is not None:
                found.append(revision)
        return found

    def branch_revision(self, package: str) -> GitRevision | None:
        return self._placeholders.get(package)

    def draft(self, ref: str) -> GitRevision | None:
        return self._drafts.get(ref)

    def highest_tag(self, package: str) -> int:
        """The highest revision number tagged for ``package`` (0: none), readable or not."""
        return max((self._package_tags.get(package) or {}).values(), default=0)

    def take_changes(self) -> tuple[list[GitRevision], list[GitRevision]] | None:
        """(added, removed) revisions since the last call; None when not known (the first
        call, or too many kept): the caller rebuilds from :meth:`revisions`."""
        changes = (list(self._added.values()), list(self._removed.values()))
        complete = self._journal
        self._added, self._removed, self._journal = {}, {}, True
        return changes if complete else None

    # -- updating -------------------------------------------------------------------

    def update(
        self, refs: Mapping[str, str], changed: Iterable[str] | None, reader: Reader
    ) -> None:
        """Follow ``refs`` (every branch and tag); ``changed``: the refs that may have moved
        since the last update (None: unknown, every ref is compared)."""
        if changed is None:
            changed = {name for name, _target in refs.items() ^ self._refs.items()}
        pairs: dict[tuple[str, int], None] = {}
        """Tags to publish again, in the order met: the refs' own order (sorted, as Git
        lists them) reads the mirror's packed trees in an order its delta cache keeps up
        with; a set's order took twice as long for 10,000 tags."""
        packages: set[str] = set()
        for name in sorted(changed):
            self._forget(name, pairs, packages)
            target = refs.get(name)
            if target is None:
                self._refs.pop(name, None)
                continue
            self._refs[name] = target
            kind = reader.kind_of(name, target)
            if kind is not None:
                self._learn(name, target, kind, pairs, packages, reader)
        for pair in pairs:
            for name in self._tags_of.get(pair, ()):
                self._publish(name, reader)
        self._place(refs.get(self._branch_ref, ""), packages, reader)

    def _learn(
        self,
        name: str,
        target: str,
        kind: Kind,
        pairs: dict[tuple[str, int], None],
        packages: set[str],
        reader: Reader,
    ) -> None:
        self._kinds[name] = kind
        what, package, workspace, n = kind
        if what == TAG:
            _include(self._tags_of, (package, n), name)
            self._package_tags.setdefault(package, {})[name] = n
            pairs[(package, n)] = None
            packages.add(package)
        elif what == layout.DELETION_PROPOSED:
            self._deleting[(package, n)] = self._deleting.get((package, n), 0) + 1
            pairs[(package, n)] = None
        else:
            found = reader.read_revision(package, workspace, what, 0, target, name)
            if found is not None:
                self._drafts[name] = found
                self._name(package, workspace, name, found)

    def _forget(self, name: str, pairs: dict[tuple[str, int], None], packages: set[str]) -> None:
        kind = self._kinds.pop(name, None)
        if kind is None:
            return
        what, package, workspace, n = kind
        if what == TAG:
            _discard(self._tags_of, (package, n), name)
            tags = self._package_tags[package]
            del tags[name]
            if not tags:
                del self._package_tags[package]
            published = self._published.pop(name, None)
            if published is not None:
                self._unname(package, workspace, name, published)
            pairs[(package, n)] = None
            packages.add(package)
        elif what == layout.DELETION_PROPOSED:
            left = self._deleting[(package, n)] - 1
            if left:
                self._deleting[(package, n)] = left
            else:
                del self._deleting[(package, n)]
            pairs[(package, n)] = None
        else:
            draft = self._drafts.pop(name, None)
            if draft is not None:
                self._unname(package, workspace, name, draft)

    def _publish(self, name: str, reader: Reader) -> None:
        """The published revision of tag ``name``, as its deletion-proposed ref says."""
        _tag, package, workspace, n = self._kinds[name]
        lifecycle = "DeletionProposed" if self._deleting.get((package, n)) else "Published"
        target = self._refs[name]
        old = self._published.get(name)
        if old is not None and old.lifecycle == lifecycle and old.commit == target:
            return
        if old is not None:
            del self._published[name]
            self._unname(package, workspace, name, old)
        found = reader.read_revision(package, workspace, lifecycle, n, target, name)
        if found is not None:
            self._published[name] = found
            self._name(package, workspace, name, found)

    def _place(self, head: str, packages: set[str], reader: Reader) -> None:
        """The branch revisions after the head moved to ``head`` or ``packages``' tags did."""
        if head != self._head:
            trees = reader.package_trees_at(head) if head else {}
            moved = {package for package, _tree in trees.items() ^ self._head_trees.items()}
            packages = packages | moved | self._on_head
            self._head, self._head_trees = head, trees
        for package in sorted(packages):  # in the tree's order, as for the tags above
            self._place_one(package, reader)

    def _place_one(self, package: str, reader: Reader) -> None:
        tree = self._head_trees.get(package)
        self._on_head.discard(package)
        old = self._placeholders.get(package)
        if tree is None:
            if old is not None:
                self._drop(self._placeholders.pop(package))
            return
        commit = self._head
        approved = self._latest(package)
        if approved is not None and reader.tree_at(approved, package) == tree:
            commit = approved
        else:
            self._on_head.add(package)
        if old is not None and old.commit == commit:
            return
        if old is not None:
            self._drop(self._placeholders.pop(package))
        found = reader.read_revision(
            package, self._branch, "Published", -1, commit, self._branch_ref
        )
        if found is not None:
            self._placeholders[package] = found
            self._add(found)

    def _latest(self, package: str) -> str | None:
        """The commit of the package's highest tag."""
        tags = self._package_tags.get(package)
        if not tags:
            return None
        name = max(tags, key=lambda ref: (tags[ref], ref))
        return self._refs[name]

    # -- bookkeeping ----------------------------------------------------------------

    def _name(self, package: str, workspace: str, ref: str, revision: GitRevision) -> None:
        """Index ``revision`` (just stored under ``ref``) by package and workspace."""
        _include(self._named, (package, workspace), ref)
        self._add(revision)

    def _unname(self, package: str, workspace: str, ref: str, revision: GitRevision) -> None:
        """Forget ``revision`` (just taken from under ``ref``)."""
        _discard(self._named, (package, workspace), ref)
        self._drop(revision)

    def _add(self, revision: GitRevision) -> None:
        self._all = None
        if self._removed.pop(id(revision), None) is None:
            self._added[id(revision)] = revision
        self._bound_journal()

    def _drop(self, revision: GitRevision) -> None:
        self._all = None
        if self._added.pop(id(revision), None) is None:
            self._removed[id(revision)] = revision
        self._bound_journal()

    def _bound_journal(self) -> None:
        if len(self._added) + len(self._removed) > JOURNAL_LIMIT:
            self._added, self._removed, self._journal = {}, {}, False


def _include(index: dict[K, tuple[str, ...]], key: K, name: str) -> None:
    names = index.get(key, ())
    if name not in names:
        index[key] = (*names, name)


def _discard(index: dict[K, tuple[str, ...]], key: K, name: str) -> None:
    names = tuple(n for n in index.get(key, ()) if n != name)
    if names:
        index[key] = names
    else:
        index.pop(key, None)
