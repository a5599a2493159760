"""``propose``, ``approve``, ``reject``, ``propose-delete``: lifecycle moves as patches.

A move is a merge patch of ``spec.lifecycle`` carrying the ``resourceVersion`` it was
planned from, so two people moving the same revision at once cannot overwrite each other
(a 409 re-reads and plans again). Which moves are allowed, and who may approve, is the API
server's business (CEL rules and the approval policy): the CLI plans only what the verb
means from the current lifecycle — ``reject`` of a deletion proposal goes back to
Published, not to Draft — refuses, as porchctl does and in its words, what no lifecycle
allows (rejecting what is not proposed, proposing the deletion of what is not published),
and otherwise shows the server's refusal as it is.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from lanai.cli import create, kube, wait

CONFLICT_RETRIES = 3


@dataclass(frozen=True)
class Move:
    target: str | None
    """The lifecycle to patch to; ``None``: nothing to do (``said`` tells why)."""
    said: str
    """What to print after ``NAME``: ``proposed``, ``is already proposed``, ..."""


def plan(verb: str, current: str, name: str = "") -> Move:
    """What ``verb`` does to the revision ``name`` in lifecycle ``current``.

    ``reject`` and ``propose-delete`` refuse what porchctl refuses, in its words: only a
    proposal is rejected, only a published revision is proposed for deletion.
    """
    if verb == "propose":
        if current == "Proposed":
            return Move(None, "is already proposed")
        return Move("Proposed", "proposed")
    if verb == "approve":
        if current == "Published":
            return Move(None, "is already published")
        return Move("Published", "approved")
    if verb == "reject":
        if current == "DeletionProposed":
            return Move("Published", "no longer proposed for deletion")
        if current == "Proposed":
            return Move("Draft", "no longer proposed for approval")
        raise kube.Failure(f"cannot reject {name} with lifecycle '{current}'")
    if verb == "propose-delete":
        if current == "DeletionProposed":
            return Move(None, "is already proposed for deletion")
        if current == "Published":
            return Move("DeletionProposed", "proposed for deletion")
        raise kube.Failure(
            f"can only propose published packages for deletion; package {name} is not published"
        )
    raise ValueError(f"unknown lifecycle verb {verb!r}")


async def _move(session: kube.Session, verb: str, name: str) -> Move:
    """Patch ``name`` as ``verb`` plans it, re-planning after a conflict."""
    for attempt in range(CONFLICT_RETRIES + 1):
        current = await session.get(kube.REVISIONS, name)
        try:
            move = plan(verb, create.lifecycle_of(current), name)
        except kube.Failure as refused:
            raise kube.Failure(f"{name} failed ({refused})") from None
        if move.target is None:
            return move
        version = (current.get("metadata") or {}).get("resourceVersion")
        patch = {"metadata": {"resourceVersion": version}, "spec": {"lifecycle": move.target}}
        try:
            await session.patch(kube.REVISIONS, name, patch)
        except kube.ApiError as error:
            if kube.status_of(error) == 409 and attempt < CONFLICT_RETRIES:
                continue
            raise
        return move
    raise AssertionError("unreachable")


async def move_all(session: kube.Session, args: argparse.Namespace) -> int:
    async def one(name: str) -> None:
        move = await _move(session, args.verb, name)
        if move.target is None:
            kube.error(f"{name} {move.said}")
            return
        if args.wait:
            await wait.until_ready(session, kube.REVISIONS, name, within=args.timeout)
        print(f"{name} {move.said}", flush=True)  # porchctl's line, word for word

    return await kube.each(args.names, one)


HELP = {
    "propose": "propose Draft revisions for approval",
    "approve": "approve proposals: publish the revisions (needs the approval permission)",
    "reject": "reject proposals: back to Draft, or a deletion proposal back to Published",
    "propose-delete": "propose Published revisions for deletion (needs the approval permission)",
}
