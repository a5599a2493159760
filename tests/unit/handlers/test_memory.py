"""The allocator settings are best effort and never fail the operator."""

from __future__ import annotations

import pytest

from lanai.handlers import memory


def test_limit_and_trim_are_safe_to_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    memory.limit_arenas()
    memory.trim()


def test_an_explicit_arena_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[object] = []
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(memory, "_libc", lambda: called.append(True))
    memory.limit_arenas()
    assert called == []
