"""Crash points for tests that prove the operator converges after dying mid-operation.

Set ``LANAI_CRASH_AT=<point>`` and the process exits abruptly (no cleanup, as a killed
pod would) when it reaches that point. Unset, a point costs one dictionary lookup.
``LANAI_CRASH_AT=<point>:<subject>`` crashes only when acting on that subject.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

PUBLISHED_BEFORE_STATUS = "published-before-status"
"""The approval commit and tag are pushed; the object's status is not yet written."""
EDIT_COMMITTED = "edit-committed"
"""An edit of a Draft's resources is pushed; its object is neither rewritten nor marked."""
EDIT_SHOWN = "edit-shown"
"""The object shows the rendered edit (written back); its status is not yet written."""


def point(name: str, subject: str = "") -> None:
    """Crash at ``name`` (``LANAI_CRASH_AT=<name>``), or only when acting on ``subject``
    (``LANAI_CRASH_AT=<name>:<subject>``, e.g. one object's name)."""
    wanted = os.environ.get("LANAI_CRASH_AT")
    if wanted and wanted in (name, f"{name}:{subject}"):
        logger.error("crashing at %s (LANAI_CRASH_AT)", wanted)
        logging.shutdown()
        os._exit(137)
