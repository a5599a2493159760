"""Which file names a package may hold: clean relative paths, and nothing else.

A package's files arrive from the API (PackageRevisionResources keys), from Git trees
(revisions, clone sources), from local directories and from functions (path
annotations); they end up as Git tree entries and as files on disk. A name such as
``../../x``, ``/etc/passwd``, ``.git/config`` or one holding a newline would climb out of
the package, reach Git's own data, or fool whoever reads a listing. So every path is
checked by this one rule, wherever it comes from, and a bad one is refused with a message
that names it; nothing is ever cleaned up or renamed on the user's behalf.

The CRD of PackageRevisionResources mirrors the rule in CEL (crds/), so the API server
refuses such a key before Lanai sees it; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_PATH_BYTES = 1024
"""Longest path (UTF-8 bytes) in a package: deep nesting fits, a runaway name does not."""
MAX_NAME_BYTES = 255
"""Longest single name (UTF-8 bytes): NAME_MAX of Linux file systems."""
SHOWN_CHARACTERS = 120
"""How much of a path a message shows (paths are bounded, messages must stay short)."""

EXAMPLE = '"deploy/app.yaml"'
HINT = f"every path in a package is a clean relative path such as {EXAMPLE}; rename the file"

_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
}


class BadPath(ValueError):
    """A path the rule refuses; the message names it and says what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"file name {quoted(path)} {problem}: {HINT}")
        self.path = path
        self.problem = problem


def is_control(character: str) -> bool:
    """U+0000 to U+001F and U+007F: invisible, or worse, in listings and terminals."""
    code = ord(character)
    return code < 0x20 or code == 0x7F


def picture(character: str) -> str:
    """The Unicode control picture of a control character (U+2400 ␀ to U+241F, U+2421 ␡)."""
    code = ord(character)
    return chr(0x2421 if code == 0x7F else 0x2400 + code)


def quoted(path: str) -> str:
    """``path`` in double quotes with every control character visible, cut after
    SHOWN_CHARACTERS: backslash escapes as CEL's ``strings.quote`` writes them (``\\n``,
    ``\\t``, ``\\"``, ...), the other control characters as their pictures (``␀``, ``␛``).
    The CRD's messages show keys exactly so (a picture keeps CEL's cost estimate flat
    where a longer escape would not)."""
    shown = "".join(
        _ESCAPES.get(c) or (picture(c) if is_control(c) else c) for c in path[:SHOWN_CHARACTERS]
    )
    return f'"{shown}"' + ("..." if len(path) > SHOWN_CHARACTERS else "")


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def is_git_name(name: str) -> bool:
    """``.git`` in any letter case, and the names Windows file systems read as ``.git``
    (trailing dots or spaces, the short name ``git~1``), as Git itself refuses them."""
    folded = name.encode("utf-8", "surrogatepass").lower()  # ASCII letters only
    return folded.rstrip(b". ") == b".git" or folded == b"git~1"


def name_problem(name: str) -> str | None:
    """What is wrong with one segment of a path (a Git tree entry's name), or None."""
    if name == "":
        return "has an empty segment"
    if "/" in name:
        return 'holds a "/" inside one name'
    if name == ".":
        return 'has a "." segment'
    if name == "..":
        return 'has a ".." segment: it would leave its directory'
    if is_git_name(name):
        return 'has a ".git" segment: that is where Git keeps its own data'
    if _utf8_length(name) > MAX_NAME_BYTES:
        return f"has a segment longer than {MAX_NAME_BYTES} bytes"
    return None


def problem(path: str) -> str | None:
    """What is wrong with ``path`` (relative to its package), or None when it is clean."""
    if path == "":
        return "is empty"
    if any(is_control(c) for c in path):
        return "holds a control character (U+0000 to U+001F or U+007F)"
    if _utf8_length(path) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    if path.startswith("/"):
        return 'starts with "/": paths are relative to the package directory'
    if path.endswith("/"):
        return 'ends with "/": a path names a file, not a directory'
    for name in path.split("/"):
        found = name_problem(name)
        if found is not None:
            return found
    return None


def check(path: str) -> str:
    """``path`` itself when it is clean; else :class:`BadPath`."""
    found = problem(path)
    if found is not None:
        raise BadPath(path, found)
    return path


def check_all(paths: Iterable[str]) -> None:
    """:class:`BadPath` for the first bad path (in sorted order, so messages are stable)."""
    for path in sorted(paths):
        check(path)


def join(directory: str, name: str) -> str:
    """``name`` inside ``directory`` (``""``: the package root), checked."""
    found = name_problem(name)
    path = f"{directory}/{name}" if directory else name
    if found is not None:
        raise BadPath(path, found)
    return check(path)
