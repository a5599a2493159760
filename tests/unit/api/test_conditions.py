from __future__ import annotations

from lanai.api import conditions

READY_TRUE = conditions.Condition("Ready", "True", "Ready", "fine", 3)


def test_upsert_adds_a_new_condition_with_a_transition_time() -> None:
    result = conditions.upsert(None, READY_TRUE, now="2026-01-01T00:00:00Z")
    assert result == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Ready",
            "message": "fine",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 3,
        }
    ]


def test_transition_time_moves_only_when_status_changes() -> None:
    first = conditions.upsert(None, READY_TRUE, now="t1")
    same_status = conditions.upsert(
        first, conditions.Condition("Ready", "True", "Ready", "still fine"), now="t2"
    )
    assert same_status[0]["lastTransitionTime"] == "t1"
    assert same_status[0]["message"] == "still fine"
    flipped = conditions.upsert(
        same_status, conditions.Condition("Ready", "False", "Error", "broken"), now="t3"
    )
    assert flipped[0]["lastTransitionTime"] == "t3"


def test_upsert_keeps_other_conditions_and_their_order() -> None:
    existing = [
        {"type": "Ready", "status": "False", "reason": "Pending", "message": ""},
        {"type": "Rendered", "status": "True", "reason": "Rendered", "message": ""},
    ]
    result = conditions.upsert(existing, READY_TRUE, now="t")
    assert [c["type"] for c in result] == ["Ready", "Rendered"]
    assert result[1] == existing[1]
    assert existing[0]["status"] == "False"  # the input is not mutated


def test_is_true() -> None:
    assert conditions.is_true(conditions.upsert(None, READY_TRUE), "Ready")
    assert not conditions.is_true(None, "Ready")
    assert not conditions.is_true([{"type": "Ready", "status": "False"}], "Ready")
