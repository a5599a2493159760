"""Porch's Git layout, written and checked from Porch's own rules (its git adapter).

Two halves, both written from reading Porch's ``pkg/externalrepo/git`` and its v1alpha1
types, independent of Lanai's writer so that a test compares two readings of the rules:

- :func:`write_repository` lays out a bare repository as Porch's adapter would: a draft's
  commits on ``drafts/<path>/<workspace>`` ("Creating new empty revision", ``revision``
  "0", an init task), proposals on ``proposed/...``, an approval commit on the branch
  ("Approving package revision <path>/<n>", no task) tagged ``<path>/v<n>``, a
  ``deletionProposed/<path>/v<n>`` branch; ``package`` is the full path in the repository.
- :func:`porch_decode` applies the JSON-decoding rules of Porch's ``gitAnnotation`` struct
  (Go's ``encoding/json``): keys match field names case-insensitively, unknown keys are
  ignored, ``null`` leaves a field alone, and a value of another JSON type fails the whole
  line, which Porch then drops (losing the workspace name).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Go types of Porch's gitAnnotation and v1alpha1 Task, as a table: "string", "int",
# ["string"] (a slice), or a nested struct (a dict). Pointers and values decode alike.
_NAME: dict[str, Any] = {"name": "string"}
_UPSTREAM: dict[str, Any] = {
    "type": "string",
    "git": {
        "repo": "string",
        "ref": "string",
        "directory": "string",
        "secretRef": _NAME,
    },
    "oci": {"image": "string"},
    "upstreamRef": _NAME,
}
TASK: dict[str, Any] = {
    "type": "string",
    "init": {
        "subpackage": "string",
        "description": "string",
        "keywords": ["string"],
        "site": "string",
    },
    "clone": {"upstreamRef": _UPSTREAM},
    "edit": {"sourceRef": _NAME},
    "upgrade": {
        "oldUpstreamRef": _NAME,
        "newUpstreamRef": _NAME,
        "localPackageRevisionRef": _NAME,
        "strategy": "string",
    },
}
GIT_ANNOTATION: dict[str, Any] = {
    "package": "string",
    "workspaceName": "string",
    "revision": "string",
    "task": TASK,
}
FIELD_ORDER: dict[str, tuple[str, ...]] = {
    "annotation": ("package", "workspaceName", "revision", "task"),
    "task": ("type", "init", "clone", "edit", "upgrade"),
}


class Rejected(ValueError):
    """Go's json.Unmarshal would fail on this line: Porch drops it."""


def _decode(value: Any, shape: Any, where: str) -> Any:
    if value is None:
        return None
    if shape == "string":
        if not isinstance(value, str):
            raise Rejected(f"{where}: Go string, got JSON {type(value).__name__}")
        return value
    if shape == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise Rejected(f"{where}: Go int, got JSON {type(value).__name__}")
        return value
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise Rejected(f"{where}: Go slice, got JSON {type(value).__name__}")
        return [_decode(v, shape[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise Rejected(f"{where}: Go struct, got JSON {type(value).__name__}")
    fields = {name.lower(): name for name in shape}
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = fields.get(key.lower())
        if name is None:
            continue  # unknown keys are ignored
        result[name] = _decode(item, shape[name], f"{where}.{name}")
    return result


def porch_decode(line: str) -> dict[str, Any]:
    """The gitAnnotation Porch reads from one ``kpt:`` line, or :class:`Rejected`."""
    assert line.startswith("kpt:"), line
    try:
        raw = json.loads(line[len("kpt:") :])
    except ValueError as error:
        raise Rejected(f"not JSON: {error}") from None
    decoded = _decode(raw, GIT_ANNOTATION, "gitAnnotation")
    assert isinstance(decoded, dict)
    return decoded


def go_marshal(value: Any) -> str:
    """JSON as Go's json.Marshal writes it (compact, HTML-safe escapes, UTF-8 kept)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def porch_line(
    package: str, workspace: str, revision: str, task: Mapping[str, Any] | None = None
) -> str:
    """The line Porch's annotateCommitMessage appends (omitempty fields left out)."""
    annotation: dict[str, Any] = {}
    for key, value in (("package", package), ("workspaceName", workspace)):
        if value:
            annotation[key] = value
    if revision:
        annotation["revision"] = revision
    if task is not None:
        annotation["task"] = dict(task)
    return "kpt:" + go_marshal(annotation)


def porch_message(summary: str, line: str, *, task_commit: bool) -> str:
    """Porch's full commit message: task commits get one more newline before the line."""
    return f"{summary}\n" + ("\n" if task_commit else "") + f"\n{line}\n"


@dataclass
class PorchRevision:
    """One revision the fixture writes, and what Porch lists for it."""

    package: str  # path within the Repository's directory
    workspace: str
    lifecycle: str  # Draft | Proposed | Published | DeletionProposed
    revision: int = 0
    files: dict[str, str] = field(default_factory=dict)


def _git(repo: Path, *args: str, env: Mapping[str, str] | None = None, stdin: str = "") -> str:
    import os

    environment = {
        **os.environ,
        "GIT_AUTHOR_NAME": "porch",
        "GIT_AUTHOR_EMAIL": "porch@example.com",
        "GIT_COMMITTER_NAME": "porch",
        "GIT_COMMITTER_EMAIL": "porch@example.com",
        **(env or {}),
    }
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return done.stdout.strip()


def _blob(repo: Path, text: str) -> str:
    return _git(repo, "hash-object", "-w", "--stdin", stdin=text)


def _tree(repo: Path, entries: Mapping[str, Any]) -> str:
    """A tree from a nested mapping (str → file text, dict → subtree)."""
    lines = []
    for name in sorted(entries):
        value = entries[name]
        if isinstance(value, dict):
            lines.append(f"040000 tree {_tree(repo, value)}\t{name}")
        else:
            lines.append(f"100644 blob {_blob(repo, value)}\t{name}")
    return _git(repo, "mktree", stdin="\n".join(lines) + ("\n" if lines else ""))


def _nest(root: dict[str, Any], path: str, files: Mapping[str, str]) -> None:
    node = root
    for part in path.split("/"):
        node = node.setdefault(part, {})
    for name, text in files.items():
        inner = node
        *dirs, leaf = name.split("/")
        for part in dirs:
            inner = inner.setdefault(part, {})
        inner[leaf] = text


def _commit(repo: Path, tree: str, parent: str | None, message: str) -> str:
    args = ["commit-tree", tree, "-F", "-"]
    if parent:
        args[2:2] = ["-p", parent]
    return _git(repo, *args, stdin=message)


def write_repository(
    repo: Path, revisions: Sequence[PorchRevision], directory: str = "", branch: str = "main"
) -> None:
    """Write ``revisions`` into the bare repository ``repo`` as Porch's adapter would.

    Published revisions are approved in the order given (each approval commit is on the
    branch, the package's directory as the draft had it); drafts and proposals branch off
    the branch head as it stood when they were created.
    """
    main_files: dict[str, Any] = {}
    head = _commit(repo, _tree(repo, {}), None, "Initial commit: Creating main branch\n")
    for rev in revisions:
        full = f"{directory.strip('/')}/{rev.package}" if directory.strip("/") else rev.package
        init_task = {"type": "init", "init": {"description": f"{rev.package} description"}}
        draft_files = json.loads(json.dumps(main_files))
        _nest(draft_files, full, rev.files)
        draft = _commit(
            repo,
            _tree(repo, draft_files),
            head,
            porch_message(
                "Creating new empty revision",
                porch_line(full, rev.workspace, "0", init_task),
                task_commit=True,
            ),
        )
        if rev.lifecycle == "Draft":
            _git(repo, "update-ref", f"refs/heads/drafts/{full}/{rev.workspace}", draft)
            continue
        if rev.lifecycle == "Proposed":
            _git(repo, "update-ref", f"refs/heads/proposed/{full}/{rev.workspace}", draft)
            continue
        _nest(main_files, full, rev.files)
        head = _commit(
            repo,
            _tree(repo, main_files),
            head,
            porch_message(
                f"Approving package revision {full}/{rev.revision}",
                porch_line(full, rev.workspace, str(rev.revision)),
                task_commit=False,
            ),
        )
        _git(repo, "update-ref", f"refs/tags/{full}/v{rev.revision}", head)
        if rev.lifecycle == "DeletionProposed":
            _git(repo, "update-ref", f"refs/heads/deletionProposed/{full}/v{rev.revision}", head)
    _git(repo, "update-ref", f"refs/heads/{branch}", head)


def porch_listing(
    revisions: Sequence[PorchRevision], branch: str = "main"
) -> set[tuple[str, str, str, int]]:
    """What Porch lists for a repository :func:`write_repository` wrote: (package,
    workspace, lifecycle, revision), with the branch's placeholder (workspace = branch,
    revision -1) for every package on the branch."""
    listed = {(r.package, r.workspace, r.lifecycle, r.revision) for r in revisions}
    on_branch = {r.package for r in revisions if r.lifecycle in ("Published", "DeletionProposed")}
    listed |= {(p, branch, "Published", -1) for p in on_branch}
    return listed


def annotation_lines(repo: Path, ref: str = "--all") -> list[tuple[str, str]]:
    """(commit message summary, kpt line) of every commit reachable in ``repo``."""
    out = _git(repo, "log", ref, "--format=%H")
    found = []
    for commit in out.split():
        message = _git(repo, "show", "-s", "--format=%B", commit)
        for text in message.splitlines():
            if text.strip().startswith("kpt:"):
                found.append((message.splitlines()[0], text.strip()))
    return found
