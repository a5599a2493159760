"""Crash and freeze points for tests that prove Lanai converges after dying mid-operation.

A point marks a window where the operator has done part of a job (pushed a branch, not
yet its tag; committed an edit, not yet marked it): the fault suite (tests/e2e/faults)
stops the process exactly there and checks that whatever runs next finishes the job
once, with nothing lost or doubled.

- ``LANAI_CRASH_AT=<point>`` and the process exits abruptly (no cleanup, no finally,
  exit status 137 as after kill -9) when it reaches that point.
- ``LANAI_FREEZE_AT=<point>`` and it stops itself (SIGSTOP) there, the first time only,
  until the test sends SIGCONT: a test can change the world (restart the API server)
  while the operator is held in the middle of a job.

``<point>:<subject>`` acts only when the point is reached for that subject (an object's
name, or ``package/workspace`` in the Git layer). Unset, a point costs two dictionary
lookups. This module sits outside the layers so that every layer can mark its windows.
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)

CRASH_VARIABLE = "LANAI_CRASH_AT"
FREEZE_VARIABLE = "LANAI_FREEZE_AT"

CREATE_PUSHED = "create-pushed"
"""A new revision's branch is pushed (init, clone, copy, ...); neither its resources
object nor its status is written."""
CREATE_SHOWN = "create-shown"
"""A new revision's resources object is written; its status is not."""
PROPOSED_BEFORE_STATUS = "proposed-before-status"
"""A Draft's branch is moved to proposed/ in Git; the object's status is not written."""
APPROVE_BRANCH_PUSHED = "approve-branch-pushed"
"""The approval commit is on the package branch; its tag is not pushed and the proposal's
branch not deleted (subject: ``package/workspace``)."""
PUBLISHED_BEFORE_STATUS = "published-before-status"
"""The approval commit and tag are pushed; the object's status is not yet written."""
EDIT_PENDING = "edit-pending"
"""An edit of a Draft's resources is seen and the revision marked Pending; nothing is
committed yet."""
EDIT_COMMITTED = "edit-committed"
"""An edit of a Draft's resources is pushed; its object is neither rewritten nor marked."""
EDIT_SHOWN = "edit-shown"
"""The object shows the rendered edit (written back); its status is not yet written."""
EDIT_REVISION_READY = "edit-revision-ready"
"""The revision's status names the edit's commit; the resources object is not yet marked
as acted on."""
SYNC_CREATED = "sync-created"
"""The Repository sync created an object for a revision in Git; its status is not
written yet."""

_frozen: set[str] = set()


def _wanted(variable: str, name: str, subject: str) -> str | None:
    wanted = os.environ.get(variable)
    return wanted if wanted and wanted in (name, f"{name}:{subject}") else None


def point(name: str, subject: str = "") -> None:
    """Crash (or freeze) at ``name``, for any subject or only for ``subject``."""
    if wanted := _wanted(CRASH_VARIABLE, name, subject):
        logger.error("crashing at %s (%s)", wanted, CRASH_VARIABLE)
        logging.shutdown()
        os._exit(137)
    if (wanted := _wanted(FREEZE_VARIABLE, name, subject)) and wanted not in _frozen:
        _frozen.add(wanted)
        logger.error("freezing at %s (%s)", wanted, FREEZE_VARIABLE)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGSTOP)
        logger.error("thawed at %s", wanted)
