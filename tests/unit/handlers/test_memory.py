"""The allocator settings are best effort and never fail the operator."""

from __future__ import annotations

import gc

import pytest

from lanai.handlers import memory


def test_limit_and_trim_are_safe_to_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    memory.limit_arenas()
    memory.trim()


def test_the_collector_runs_less_often_and_not_over_start_up_objects() -> None:
    before = gc.get_threshold()
    try:
        memory.calm_gc()
        assert gc.get_threshold() == memory.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_an_explicit_arena_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[object] = []
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(memory, "_libc", lambda: called.append(True))
    memory.limit_arenas()
    assert called == []


def test_a_trim_is_due_once_all_syncs_together_wrote_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "_untrimmed", 0)
    small = memory.TRIM_AFTER // 10
    # Ten small syncs (a hundred Repositories of 100 revisions) add up to one trim.
    due = [memory.trim_due(small) for _ in range(10)]
    assert due == [False] * 9 + [True]
    assert not memory.trim_due(small)  # counting starts again after a trim
    assert memory.trim_due(memory.TRIM_AFTER)  # one big sync is due at once
