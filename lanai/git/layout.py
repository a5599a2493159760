"""Where each kind of package revision lives in Git (Porch's layout), as pure functions.

Ref names use the package's path from the repository root (``spec.git.directory``
included), so two Repository objects over different directories of one Git repository
never share a ref.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DRAFTS = "drafts"
PROPOSED = "proposed"
DELETION_PROPOSED = "deletionProposed"

_VERSION = re.compile(r"^v(?P<n>[1-9][0-9]*)$")


def full_path(directory: str, package: str) -> str:
    directory = directory.strip("/")
    return f"{directory}/{package}" if directory else package


def package_of(directory: str, path: str) -> str | None:
    """The package name for a path from the root, or None when outside ``directory``."""
    directory = directory.strip("/")
    if not directory:
        return path
    prefix = directory + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def draft_branch(path: str, workspace: str) -> str:
    return f"refs/heads/{DRAFTS}/{path}/{workspace}"


def proposed_branch(path: str, workspace: str) -> str:
    return f"refs/heads/{PROPOSED}/{path}/{workspace}"


def deletion_proposed_branch(path: str, revision: int) -> str:
    return f"refs/heads/{DELETION_PROPOSED}/{path}/v{revision}"


def tag(path: str, revision: int) -> str:
    return f"refs/tags/{path}/v{revision}"


@dataclass(frozen=True)
class ParsedRef:
    kind: str
    """draft | proposed | deletionProposed | tag"""
    path: str
    workspace: str = ""
    revision: int = 0


def parse(ref: str) -> ParsedRef | None:
    """Recognise a revision ref; anything else (the main branch, other refs) is None."""
    if ref.startswith("refs/tags/"):
        path, _, last = ref[len("refs/tags/") :].rpartition("/")
        match = _VERSION.match(last)
        return ParsedRef("tag", path, revision=int(match["n"])) if path and match else None
    if not ref.startswith("refs/heads/"):
        return None
    kind, _, rest = ref[len("refs/heads/") :].partition("/")
    path, _, last = rest.rpartition("/")
    if not path or not last:
        return None
    if kind == DRAFTS:
        return ParsedRef("draft", path, workspace=last)
    if kind == PROPOSED:
        return ParsedRef("proposed", path, workspace=last)
    if kind == DELETION_PROPOSED:
        match = _VERSION.match(last)
        return ParsedRef(kind, path, revision=int(match["n"])) if match else None
    return None
