"""An edit of a Draft's files: what the object says, against what Git holds now.

A PackageRevisionResources object is edited by people (merge patches, ``kubectl edit``)
while Git can move under it too: a ``spec.packageMetadata`` change rewrites the Kptfile,
someone pushes to the draft branch, an earlier edit lands late. So an edit is not "the
object's files replace Git's" but "what the object changed since it last showed Git":
the object's ``status.commit`` names the commit it showed then (the base), and only the
files that differ from that base are the edit. Files the object does not show (not
text, or left out for size) are never part of an edit.

Content equal to what Git holds is not an edit, whoever wrote it: the operator's own
write-back of rendered files, a retry after a crash, a client sending the object back
unchanged. That is what keeps the commits of a Draft at or below the edits made to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from lanai.api import conditions, constants

PENDING = "an edit of the resources is not yet committed"
"""The start of the Ready message of a revision whose edit is not yet in Git."""
_MESSAGE_LIMIT = 1024


def text_of(files: Mapping[str, bytes]) -> dict[str, str]:
    """The files an object can show: those that are UTF-8 text."""
    shown: dict[str, str] = {}
    for path, content in files.items():
        try:
            shown[path] = content.decode()
        except UnicodeDecodeError:
            continue
    return shown


def hidden(files: Mapping[str, bytes], omitted: Collection[str] = ()) -> set[str]:
    """Paths of ``files`` an object does not show: not text, or ``omitted`` for size."""
    text = text_of(files)
    left_out = set(omitted)
    return {path for path in files if path not in text or path in left_out}


def merge(
    head: Mapping[str, bytes],
    submitted: Mapping[str, bytes],
    base: Mapping[str, bytes] | None = None,
    omitted: Collection[str] = (),
) -> dict[str, bytes]:
    """The files to commit for an object showing ``submitted``.

    ``head``: the revision's files in Git now. ``base``: its files when the object last
    showed Git (None when unknown: every shown file is taken from the object).
    ``omitted``: paths the object leaves out for size. A file the object changed since
    ``base`` (written, added or removed) is taken from the object; every other file,
    and every file the object cannot show, stays as Git holds it now.
    """
    kept = hidden(head, omitted)
    if base is None:
        merged = {path: content for path, content in head.items() if path in kept}
        merged.update(submitted)
        return merged
    before = {p: c for p, c in base.items() if p not in hidden(base, omitted)}
    merged = dict(head)
    for path in set(before) | set(submitted):
        mine = submitted.get(path)
        if mine == before.get(path):
            continue  # not part of this edit: Git's version stays
        if mine is None:
            if path not in kept:
                merged.pop(path, None)
        else:
            merged[path] = mine
    return merged


def pending_condition(cause: str = "") -> conditions.Condition:
    """Ready while an edit is not yet in Git, with what holds it up."""
    message = f"{PENDING}: {cause}" if cause else PENDING
    return conditions.Condition(
        constants.READY, "False", constants.REASON_PENDING, message[:_MESSAGE_LIMIT]
    )


def is_pending(condition: Mapping[str, object] | None) -> bool:
    """``condition`` (a Ready entry of a status) says an edit is not yet in Git."""
    return bool(
        condition
        and condition.get("status") == "False"
        and condition.get("reason") == constants.REASON_PENDING
        and str(condition.get("message") or "").startswith(PENDING)
    )
