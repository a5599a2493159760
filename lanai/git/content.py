"""A package's tree in Git, read and written by the rules of ``lanai.trust``.

A tree comes from whoever last pushed to the repository (or to a clone source), so it is
read like any other input: every name is checked (``lanai.trust.paths``: a ``..``, a
``.git`` or a newline refuses the package, naming the file), the size of every blob is
looked up and counted (``lanai.trust.sizes``) before any content is read, so a 2 GB tree
is refused without being loaded, and entries that are not files are set apart: a symlink
(mode 120000) is never read as content nor followed, a submodule (a gitlink) never
fetched. Edits of a Draft keep those entries as they are; copies leave them out, with a
warning.

Writing checks the same rules, so nothing Lanai commits is something it would refuse to
read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pygit2

from lanai.api import values
from lanai.trust import paths, sizes

TREE = int(pygit2.enums.FileMode.TREE)
BLOB = int(pygit2.enums.FileMode.BLOB)
EXECUTABLE = int(pygit2.enums.FileMode.BLOB_EXECUTABLE)
LINK = int(pygit2.enums.FileMode.LINK)
SUBMODULE = int(pygit2.enums.FileMode.COMMIT)
_KINDS = {LINK: "symlink", SUBMODULE: "submodule"}

ENTRY_BYTES = paths.MAX_NAME_BYTES + 28
"""Most bytes one entry of a tree object takes (mode, name, NUL and a SHA-1): a tree
object larger than the files limit allows is refused before it is loaded."""


class Refused(ValueError):
    """The package breaks a rule (a bad name, too large); the message names it."""


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    """Relative to the package directory."""
    oid: pygit2.Oid
    mode: int


@dataclass(frozen=True)
class Listing:
    """What a package tree holds, checked, before any content is read."""

    files: tuple[Entry, ...]
    special: tuple[Entry, ...] = ()
    """Symlinks and submodules: kept by edits, never read."""

    @property
    def skipped(self) -> tuple[values.Skipped, ...]:
        return tuple(values.Skipped(e.path, _KINDS[e.mode]) for e in self.special)


def _name(raw: bytes, prefix: str, what: str) -> str:
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        shown = paths.quoted(prefix + raw.decode("utf-8", "backslashreplace"))
        raise Refused(f"{what} holds a file name that is not UTF-8 text: {shown}") from None
    return name


def _checked(name: str, prefix: str, what: str) -> str:
    try:
        return paths.join(prefix.rstrip("/"), name)
    except paths.BadPath as error:
        raise Refused(f"{what} cannot be read: {error}") from None


def _tree(repo: pygit2.Repository, oid: pygit2.Oid, tally: sizes.Tally) -> pygit2.Tree:
    _kind, size = repo.odb.read_header(oid)
    if size > tally.limits.files * ENTRY_BYTES:
        raise Refused(f"{tally.what} has a directory too large to list ({size} bytes)")
    tally.enter()
    tree: pygit2.Tree = repo[oid].peel(pygit2.Tree)
    return tree


def list_tree(
    repo: pygit2.Repository,
    tree: pygit2.Oid,
    what: str,
    limits: sizes.PackageLimits = sizes.DEFAULT,
) -> Listing:
    """The files and special entries of the package directory ``tree``, checked;
    :class:`Refused` at the first bad name or the first file over a limit. ``what`` names
    the package in messages (``package "net/basens" at 3f2a1b9c0d4e``)."""
    tally = sizes.Tally(what, limits)
    files: list[Entry] = []
    special: list[Entry] = []
    try:
        pending: list[tuple[pygit2.Tree, str]] = [(_tree(repo, tree, tally), "")]
        while pending:
            current, prefix = pending.pop()
            for entry in current:
                path = _checked(_name(entry.raw_name or b"", prefix, what), prefix, what)
                mode = int(entry.filemode)
                if mode == TREE:
                    pending.append((_tree(repo, entry.id, tally), path + "/"))
                elif mode in _KINDS:
                    special.append(Entry(path, entry.id, mode))
                elif mode in (BLOB, EXECUTABLE):
                    tally.add(repo.odb.read_header(entry.id)[1])
                    files.append(Entry(path, entry.id, mode))
                else:
                    raise Refused(f"{what} holds {paths.quoted(path)} of unknown mode {mode:o}")
    except sizes.TooLarge as error:
        raise Refused(str(error)) from None
    return Listing(tuple(sorted(files, key=_by_path)), tuple(sorted(special, key=_by_path)))


def _by_path(entry: Entry) -> str:
    return entry.path


def read(repo: pygit2.Repository, listing: Listing) -> dict[str, bytes]:
    """The content of the listed files (their sizes were checked by :func:`list_tree`)."""
    return {e.path: bytes(repo[e.oid].peel(pygit2.Blob).data) for e in listing.files}


def build(
    repo: pygit2.Repository,
    files: Mapping[str, bytes],
    what: str,
    keep: Iterable[Entry] = (),
    limits: sizes.PackageLimits = sizes.DEFAULT,
) -> pygit2.Oid | None:
    """A tree holding ``files`` (paths checked, limits applied) and the ``keep`` entries
    (a Draft's symlinks and submodules) except where a file takes their place; None when
    empty."""
    tally = sizes.Tally(what, limits)
    try:
        for path, data in sorted(files.items()):
            paths.check(path)
            tally.add(len(data))
    except paths.BadPath as error:
        raise Refused(f"{what} cannot be written: {error}") from None
    except sizes.TooLarge as error:
        raise Refused(str(error)) from None
    nested: dict[str, Any] = {}
    for entry in keep:
        _place(nested, entry.path, entry)
    for path, data in files.items():
        _place(nested, path, data)
    return _write(repo, nested)


def _place(nested: dict[str, Any], path: str, value: bytes | Entry) -> None:
    """Put ``value`` at ``path``; whatever was in its way (a kept entry where a directory
    is needed, a directory where a file goes) gives way."""
    *directories, leaf = path.split("/")
    node = nested
    for name in directories:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    node[leaf] = value


def _write(repo: pygit2.Repository, node: Mapping[str, Any]) -> pygit2.Oid | None:
    builder = repo.TreeBuilder()
    for name, value in sorted(node.items()):
        if isinstance(value, bytes):
            builder.insert(name, repo.create_blob(value), BLOB)
        elif isinstance(value, Entry):
            builder.insert(name, value.oid, value.mode)
        else:
            child = _write(repo, value)
            if child is not None:
                builder.insert(name, child, TREE)
    return builder.write() if len(builder) else None
