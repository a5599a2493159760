"""The ``kpt:{...}`` line that ends every commit Lanai writes, as Porch writes it.

It is how a revision's workspace, number and creation task survive in Git alone, so
the operator can rebuild everything after a restart, and so Porch and Lanai read each
other's repositories. Porch decodes the line into a Go struct (``gitAnnotation`` in its
git adapter): ``package`` is the package's full path in the repository (the Repository's
directory included), ``workspaceName`` a string, ``revision`` a *string* ("0" on a draft,
"3" on the approval of v3), ``task`` Porch's v1alpha1 ``Task``. One field of the wrong
JSON type and Go drops the whole line: the revision loses its workspace name. So the
line is written in Porch's field order and Go's encoding, with Porch's task shapes;
Lanai's own facts (``source``, ``upstream``, ``approvedBy``) follow as extra keys, which
Go ignores. Reading accepts both what Porch writes and what Lanai wrote before (a JSON
number for ``revision``, Lanai's own task shapes).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

PREFIX = "kpt:"
_SHARED = 128
"""Strings up to this long are shared between annotations: a cache of 10,000 commits
repeats the same keys, package names and task types."""

PORCH_FIELDS = ("package", "workspaceName", "revision", "task")
"""Porch's gitAnnotation fields, in its struct's order (Go marshals in that order)."""

# Porch's commit summaries (its git adapter's message constants).
SUMMARY_INIT = "Creating new empty revision"
SUMMARY_CLONE = "Creating new revision by cloning"
SUMMARY_EDIT = "Creating new revision by copying previous revision"
SUMMARY_UPGRADE = "Upgrading revision"
SUMMARY_RENDER = "Rendering package"
_SUMMARIES = {
    "init": SUMMARY_INIT,
    "clone": SUMMARY_CLONE,
    "edit": SUMMARY_EDIT,
    "upgrade": SUMMARY_UPGRADE,
    "render": SUMMARY_RENDER,
}

_PORCH_TASK_TYPE = {"copy": "edit", "edit": "render", "render": "render"}
"""Lanai's task names → Porch's: a copy is Porch's ``edit`` task (sourceRef), and an edit
of a draft's files is recorded as Porch records one (``render``)."""

CREATION_OF = {"init": "init", "clone": "clone", "edit": "copy", "upgrade": "upgrade"}
"""Porch's first-task type → the creation source it means."""


def _shared(found: dict[str, Any]) -> dict[str, Any]:
    return {
        sys.intern(k): sys.intern(v) if isinstance(v, str) and len(v) <= _SHARED else v
        for k, v in found.items()
    }


def go_json(value: Any) -> str:
    """``value`` as Go's ``json.Marshal`` writes it: no spaces, UTF-8 kept, and ``<``,
    ``>``, ``&``, U+2028, U+2029 escaped (Go's HTML-safe default)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def summary(task_type: str) -> str:
    """Porch's commit summary for a commit recording ``task_type`` (a Porch type)."""
    return _SUMMARIES.get(task_type, f"Intermediate commit: {task_type}")


def approve_summary(path: str, revision: int) -> str:
    return f"Approving package revision {path}/{revision}"


def _name(ref: Any) -> dict[str, str]:
    return {"name": str((ref or {}).get("name") or "")}


def porch_task(kind: str, detail: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Lanai's task (``kind`` and its detail) as Porch's v1alpha1 ``Task``, fields in
    Porch's order: init {description, keywords, site}; clone {upstreamRef: an
    UpstreamPackage}; edit {sourceRef} for a copy; upgrade {oldUpstreamRef,
    newUpstreamRef, localPackageRevisionRef, strategy}."""
    detail = detail or {}
    task_type = _PORCH_TASK_TYPE.get(kind, kind)
    task: dict[str, Any] = {"type": task_type}
    if kind == "init":
        given = detail.get("init") or {}
        init: dict[str, Any] = {}
        for field in ("subpackage", "description"):
            if given.get(field):
                init[field] = str(given[field])
        if given.get("keywords"):
            init["keywords"] = [str(k) for k in given["keywords"]]
        if given.get("site"):
            init["site"] = str(given["site"])
        task["init"] = init
    elif kind == "clone":
        clone = detail.get("cloneFrom") or {}
        upstream: dict[str, Any] = {}
        if clone.get("git"):
            git = clone["git"]
            upstream["type"] = "git"
            upstream["git"] = {
                "repo": str(git.get("repo") or ""),
                "ref": str(git.get("ref") or ""),
                "directory": str(git.get("directory") or ""),
                "secretRef": _name(git.get("secretRef")),
            }
        if clone.get("upstreamRef"):
            upstream["upstreamRef"] = _name(clone["upstreamRef"])
        task["clone"] = {"upstreamRef": upstream}
    elif kind == "copy":
        task["edit"] = {"sourceRef": _name(detail.get("copyFrom"))}
    elif kind == "upgrade":
        upgrade = detail.get("upgrade") or {}
        task["upgrade"] = {
            "oldUpstreamRef": _name(upgrade.get("oldUpstream")),
            "newUpstreamRef": _name(upgrade.get("newUpstream")),
            "localPackageRevisionRef": _name(upgrade.get("currentPackage")),
            "strategy": str(upgrade.get("strategy") or ""),
        }
        if not task["upgrade"]["strategy"]:
            del task["upgrade"]["strategy"]
    return task


def ordered(annotation: Mapping[str, Any]) -> dict[str, Any]:
    """Porch's fields first, in its order (``revision`` as a string, empty ones left out
    as Go's ``omitempty`` does), then Lanai's own keys sorted."""
    result: dict[str, Any] = {}
    for field in PORCH_FIELDS:
        value = annotation.get(field)
        if field == "revision" and value is not None and not isinstance(value, str):
            value = str(int(value))
        if value in (None, "", {}):
            continue
        result[field] = value
    for key in sorted(k for k in annotation if k not in PORCH_FIELDS):
        result[key] = annotation[key]
    return result


def line(annotation: Mapping[str, Any]) -> str:
    """The ``kpt:`` line itself (no newline)."""
    return PREFIX + go_json(ordered(annotation))


def annotate(message: str, annotation: Mapping[str, Any]) -> str:
    """``message`` with the annotation appended as Porch's adapter appends it."""
    return f"{message}\n\n{line(annotation)}\n"


def parse(message: str) -> dict[str, Any]:
    """The annotation of a commit message, or {} when it has none (or a broken one)."""
    for text in reversed(message.splitlines()):
        text = text.strip()
        if text.startswith(PREFIX):
            try:
                found = json.loads(text[len(PREFIX) :], object_hook=_shared)
            except ValueError:
                return {}
            return found if isinstance(found, dict) else {}
    return {}


def revision_of(annotation: Mapping[str, Any]) -> int | None:
    """The published revision number an annotation carries (Porch's "3" or "v3", or the
    number Lanai once wrote), or None for none, a draft's "0", or anything else."""
    value = annotation.get("revision")
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        digits = value.removeprefix("v")
        value = int(digits) if digits.isdigit() and len(digits) < 10 else None
    return value if isinstance(value, int) and value > 0 else None


def task_type(annotation: Mapping[str, Any]) -> str:
    task = annotation.get("task")
    return str(task.get("type") or "") if isinstance(task, dict) else ""


def creation_source(annotation: Mapping[str, Any]) -> str:
    """init | clone | copy | upgrade: what made the revision, as Lanai records it
    (``source``) or as Porch's first task says."""
    source = annotation.get("source")
    if isinstance(source, str) and source:
        return source
    kind = task_type(annotation)
    if kind == "edit" and not isinstance((annotation.get("task") or {}).get("edit"), dict):
        return ""  # Porch's controllers record every commit as a bare edit: not a copy
    return CREATION_OF.get(kind, kind if kind == "copy" else "")


def upstream_names(annotation: Mapping[str, Any]) -> tuple[str, ...]:
    """The revisions this one was made from, as Lanai records them (``upstream``) or as
    Porch's clone/upgrade task names them."""
    recorded = annotation.get("upstream")
    if isinstance(recorded, list):
        return tuple(str(n) for n in recorded if n)
    task = annotation.get("task")
    if not isinstance(task, dict):
        return ()
    found: list[Any] = []
    clone = task.get("clone")
    if isinstance(clone, dict) and isinstance(clone.get("upstreamRef"), dict):
        ref = clone["upstreamRef"].get("upstreamRef")
        found.append(ref.get("name") if isinstance(ref, dict) else None)
    upgrade = task.get("upgrade")
    if isinstance(upgrade, dict):
        for field in ("oldUpstreamRef", "newUpstreamRef"):
            ref = upgrade.get(field)
            found.append(ref.get("name") if isinstance(ref, dict) else None)
    return tuple(str(n) for n in found if n)


def package_matches(annotation: Mapping[str, Any], full_path: str, package: str) -> bool:
    """The annotation is about this package: Porch's full path, or the package name
    relative to the Repository's directory that Lanai wrote before."""
    found = annotation.get("package")
    return found in (full_path, package)
