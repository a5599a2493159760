"""A package directory on disk, read and written without ever following a symlink.

``lanai fn render``, ``fn eval``, ``pkg update`` and ``rpkg pull``/``push`` work on a
directory someone else may have filled: a symlink in it could point at ``/etc/passwd``
(read into a function, or pushed to the cluster) or at a file outside the package (which
render would then overwrite). So, as kpt says of its own packages ("symlinks within the
package are ignored"), a symlink is skipped with a warning; so are FIFOs, sockets and
devices, which are not files either. The walk opens each directory relative to its
parent's descriptor with ``O_NOFOLLOW``, so a directory swapped for a symlink meanwhile is
refused rather than followed.

Writing is checked before anything changes (every path clean by ``lanai.trust.paths``,
no symlink where a file or a directory of the package goes) and each file is written to
a temporary name beside it and renamed into place, never opened through a link. The
directory argument itself may be a symlink: callers resolve it first, as kpt does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lanai.trust import paths

PackageTree = dict[str, bytes]

GIT_DIRECTORY = ".git"
"""A package may be (part of) a Git checkout: its ``.git`` is never package content."""

_READ = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = _READ | os.O_DIRECTORY
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class DirectoryError(ValueError):
    """The directory cannot be read or written by the rules; the message says which file."""


@dataclass(frozen=True)
class Skipped:
    path: str
    kind: str
    """``symlink`` or ``special file`` (a FIFO, socket or device)."""

    def warning(self) -> str:
        what = f"{self.kind}s within the package are ignored"
        return f"[WARN] ignoring {self.kind} {paths.quoted(self.path)}: {what}"


@dataclass(frozen=True)
class Loaded:
    tree: PackageTree
    skipped: tuple[Skipped, ...] = ()


@contextlib.contextmanager
def _opened(name: str, flags: int, *, at: int | None = None) -> Iterator[int]:
    fd = os.open(name, flags, 0o666, dir_fd=at)  # new files as kpt writes them (umask applies)
    try:
        yield fd
    finally:
        os.close(fd)


def _name(raw: str, prefix: str) -> str:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        readable = raw.encode("utf-8", "surrogateescape").decode(errors="replace")
        shown = paths.quoted(prefix + readable)
        raise DirectoryError(f"file name {shown} is not UTF-8 text: rename the file") from None
    return raw


def load(directory: str | os.PathLike[str]) -> Loaded:
    """Every regular file below ``directory`` (``.git`` left out); symlinks and special
    files are skipped and listed. :class:`DirectoryError` for a name the rules refuse."""
    tree: PackageTree = {}
    skipped: list[Skipped] = []
    try:
        with _opened(os.fspath(directory), os.O_RDONLY | os.O_DIRECTORY) as root:
            _load(root, "", tree, skipped)
    except paths.BadPath as error:
        raise DirectoryError(str(error)) from None
    except OSError as error:
        raise DirectoryError(f"cannot read {directory}: {error.strerror or error}") from None
    return Loaded(dict(sorted(tree.items())), tuple(sorted(skipped, key=lambda s: s.path)))


def _load(fd: int, prefix: str, tree: PackageTree, skipped: list[Skipped]) -> None:
    with os.scandir(fd) as entries:
        found = sorted(entries, key=lambda e: e.name)
    for entry in found:
        name = _name(entry.name, prefix)
        if name == GIT_DIRECTORY:
            continue
        path = paths.join(prefix.rstrip("/"), name)
        if entry.is_symlink():
            skipped.append(Skipped(path, "symlink"))
        elif entry.is_dir(follow_symlinks=False):
            with _opened(name, _DIRECTORY, at=fd) as child:
                _load(child, path + "/", tree, skipped)
        elif entry.is_file(follow_symlinks=False):
            tree[path] = _read(fd, name)
        else:
            skipped.append(Skipped(path, "special file"))


def _read(fd: int, name: str) -> bytes:
    with _opened(name, _READ, at=fd) as file:
        if not stat.S_ISREG(os.fstat(file).st_mode):
            raise DirectoryError(f"{name} changed while it was read")
        chunks = []
        while chunk := os.read(file, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)


def _lstat(name: str, fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _check(base: int, tree: Mapping[str, bytes]) -> None:
    """Refuse the whole write before anything changes: a bad path, a symlink or a
    directory where the package has a file, a symlink or a file where it has a directory."""
    directories = {p.rsplit("/", 1)[0] for p in tree if "/" in p}
    for path in sorted(tree):
        paths.check(path)
        if path in directories:
            raise DirectoryError(f"{paths.quoted(path)} cannot be both a file and a directory")
        fd = os.dup(base)
        try:
            *parents, leaf = path.split("/")
            for depth, name in enumerate(parents):
                found = _lstat(name, fd)
                if found is None:
                    break
                where = "/".join(parents[: depth + 1])
                if stat.S_ISLNK(found.st_mode):
                    raise DirectoryError(
                        f"cannot write {paths.quoted(path)}: {paths.quoted(where)} is a "
                        "symlink, and Lanai never writes through one"
                    )
                if not stat.S_ISDIR(found.st_mode):
                    raise DirectoryError(
                        f"cannot write {paths.quoted(path)}: {paths.quoted(where)} is not a "
                        "directory"
                    )
                child = os.open(name, _DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = child
            else:
                found = _lstat(leaf, fd)
                if found is not None and not stat.S_ISREG(found.st_mode):
                    kind = "a symlink" if stat.S_ISLNK(found.st_mode) else "not a regular file"
                    raise DirectoryError(
                        f"cannot write {paths.quoted(path)}: it is {kind} on disk, and Lanai "
                        "never writes through one"
                    )
        finally:
            os.close(fd)


def save(tree: Mapping[str, bytes], directory: str | os.PathLike[str]) -> None:
    """Make ``directory`` hold exactly ``tree`` (``.git``, symlinks and special files left
    alone); unchanged files are not rewritten. Checked whole before anything changes."""
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)  # the caller's choice of place
        with _opened(os.fspath(directory), os.O_RDONLY | os.O_DIRECTORY) as root:
            _check(root, tree)
            _remove_others(root, "", tree)
            for path, data in sorted(tree.items()):
                _write(root, path, data)
    except paths.BadPath as error:
        raise DirectoryError(str(error)) from None
    except OSError as error:
        raise DirectoryError(f"cannot write {directory}: {error.strerror or error}") from None


def _remove_others(fd: int, prefix: str, tree: Mapping[str, bytes]) -> bool:
    """Remove regular files not in ``tree`` and directories left empty; True when the
    directory ``fd`` is empty afterwards."""
    with os.scandir(fd) as entries:
        found = list(entries)
    kept = 0
    for entry in found:
        path = prefix + entry.name
        if entry.name == GIT_DIRECTORY or entry.is_symlink():
            kept += 1
        elif entry.is_dir(follow_symlinks=False):
            with _opened(entry.name, _DIRECTORY, at=fd) as child:
                empty = _remove_others(child, path + "/", tree)
            if empty and not any(p.startswith(path + "/") for p in tree):
                os.rmdir(entry.name, dir_fd=fd)
            else:
                kept += 1
        elif entry.is_file(follow_symlinks=False) and path not in tree:
            os.unlink(entry.name, dir_fd=fd)
        else:
            kept += 1
    return kept == 0


def _write(root: int, path: str, data: bytes) -> None:
    *parents, leaf = path.split("/")
    fd = os.dup(root)
    try:
        for name in parents:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, dir_fd=fd)
            child = os.open(name, _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        existing = _lstat(leaf, fd)
        if existing is not None and stat.S_ISREG(existing.st_mode) and _read(fd, leaf) == data:
            return
        temporary = f".{leaf[:200]}.lanai-{secrets.token_hex(4)}"
        with _opened(temporary, _CREATE, at=fd) as file:
            if existing is not None:
                os.fchmod(file, stat.S_IMODE(existing.st_mode))
            view = memoryview(data)
            while view:
                view = view[os.write(file, view) :]
        try:
            os.replace(temporary, leaf, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=fd)
            raise
    finally:
        os.close(fd)


def resolve(directory: str) -> tuple[Path, str | None]:
    """``directory`` with symlinks resolved, and kpt's warning when it was one itself."""
    given = Path(directory)
    resolved = given.resolve(strict=True)
    if given.is_symlink():
        relative = os.path.relpath(resolved) if not given.is_absolute() else str(resolved)
        return resolved, (
            f'[WARN] resolved symlink "{directory}" to "{relative}", please note that the '
            "symlinks within the package are ignored"
        )
    return resolved, None
