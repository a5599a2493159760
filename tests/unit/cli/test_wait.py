from __future__ import annotations

import datetime
from typing import Any

import pytest

from lanai.cli import wait


def _obj(
    generation: int, observed: int | None, status: str | None, reason: str = "", message: str = ""
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if observed is not None:
        found["observedGeneration"] = observed
    if status is not None:
        found["conditions"] = [
            {"type": "Ready", "status": status, "reason": reason, "message": message}
        ]
    return {"metadata": {"generation": generation}, "status": found}


@pytest.mark.parametrize(
    ("obj", "done", "failed", "summary"),
    [
        (_obj(1, None, None), False, False, "Lanai has not acted on the change yet"),
        (_obj(2, 1, "True"), False, False, "Lanai has not acted on the change yet"),
        (
            _obj(2, 1, "False", "Unavailable", "git down"),
            False,
            False,
            "Lanai has not acted on the change yet (retrying after "
            "Ready=False (Unavailable): git down)",
        ),
        (_obj(2, 2, "True", "Ready"), True, False, "Ready=True (Ready)"),
        (_obj(2, 2, "False", "Rejected", "no"), True, True, "Ready=False (Rejected): no"),
        (_obj(2, 2, "Unknown"), False, False, "Ready=Unknown"),
        (_obj(2, 2, None), False, False, "no Ready condition yet"),
    ],
)
def test_assess(obj: dict[str, Any], done: bool, failed: bool, summary: str) -> None:
    assert wait.assess(obj) == wait.State(done, failed, summary)


def test_an_optional_condition_is_done_once_observed() -> None:
    assert wait.assess(_obj(3, 3, None), "Rendered", required=False).done


def _event(uid: str, when: str, message: str) -> dict[str, Any]:
    return {"involvedObject": {"uid": uid}, "lastTimestamp": when, "message": message}


def test_latest_message_takes_the_newest_event_of_this_object_since_the_start() -> None:
    since = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    events = [
        _event("u1", "2026-01-01T11:59:00Z", "old"),
        _event("u1", "2026-01-01T12:00:05Z", "first"),
        _event("u1", "2026-01-01T12:00:09Z", "newest"),
        _event("u2", "2026-01-01T12:00:10Z", "another object"),
    ]
    assert wait.latest_message(events, "u1", since) == "newest"
    assert wait.latest_message(events[:1], "u1", since) is None
