"""Git trees no honest client would write: names such as ``..``, ``.git`` or one with a
newline, symlinks and submodules, written as raw objects straight into a repository.

libgit2 and git refuse to *build* most of these, but a hostile pusher writes the bytes
itself and servers accept them (``receive.fsckObjects`` is off by default), so the
operator must cope with reading them. Tests use this to be that pusher.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

TREE = 0o40000
BLOB = 0o100644
LINK = 0o120000
SUBMODULE = 0o160000

Node = bytes | tuple[int, bytes | str] | Mapping[bytes, "Node"]
"""A file's content; ``(mode, data or commit id)`` for a symlink or submodule; or a
directory (name → node)."""


def _sort_key(item: tuple[bytes, int, pygit2.Oid]) -> bytes:
    name, mode, _ = item
    return name + b"/" if mode == TREE else name  # git's order: directories as "name/"


def write(repo: pygit2.Repository, node: Mapping[bytes, Node]) -> pygit2.Oid:
    """The tree ``node`` as raw objects in ``repo``; names are taken as given."""
    entries: list[tuple[bytes, int, pygit2.Oid]] = []
    for name, value in node.items():
        if isinstance(value, bytes):
            entries.append((name, BLOB, repo.create_blob(value)))
        elif isinstance(value, tuple):
            mode, data = value
            if mode == SUBMODULE:
                entries.append((name, mode, pygit2.Oid(hex=str(data))))
            else:
                entries.append(
                    (
                        name,
                        mode,
                        repo.create_blob(bytes(data, "utf-8") if isinstance(data, str) else data),
                    )
                )
        else:
            entries.append((name, TREE, write(repo, value)))
    raw = b"".join(
        f"{mode:o}".encode() + b" " + name + b"\0" + oid.raw
        for name, mode, oid in sorted(entries, key=_sort_key)
    )
    oid: pygit2.Oid = repo.odb.write(pygit2.enums.ObjectType.TREE, raw)
    return oid


def commit(path: Path, ref: str, root: Mapping[bytes, Node], message: str = "crafted\n") -> str:
    """A commit of ``root`` on ``ref`` (its parent: what ``ref`` held) in the bare
    repository at ``path``; its id."""
    repo = pygit2.Repository(str(path))
    tree = write(repo, root)
    signature = pygit2.Signature("Mallory", "mallory@example.com")
    parents = [repo.references[ref].target] if ref in repo.references else []
    oid = repo.create_commit(ref, signature, signature, message, tree, parents)
    return str(oid)


def kptfile(name: str) -> bytes:
    return f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n".encode()
