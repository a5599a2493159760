"""The handler's memory of the spec patches it made itself (runtime.FollowedGenerations)."""

from __future__ import annotations

from lanai.handlers import runtime


def test_a_remembered_generation_is_already_observed_and_no_other() -> None:
    followed = runtime.FollowedGenerations()
    followed.remember("uid-a", 3)
    assert followed.already_observed("uid-a", 3)
    assert not followed.already_observed("uid-a", 4)  # a user's change after Lanai's
    assert not followed.already_observed("uid-b", 3)
    assert not followed.already_observed("uid-a", None)


def test_a_later_patch_replaces_the_earlier_generation() -> None:
    followed = runtime.FollowedGenerations()
    followed.remember("uid-a", 3)
    followed.remember("uid-a", 5)
    assert not followed.already_observed("uid-a", 3)
    assert followed.already_observed("uid-a", 5)


def test_the_memory_is_bounded_and_forgets_the_oldest_first() -> None:
    followed = runtime.FollowedGenerations()
    for number in range(followed.LIMIT + 10):
        followed.remember(f"uid-{number}", 2)
    assert not followed.already_observed("uid-0", 2)
    assert followed.already_observed(f"uid-{followed.LIMIT + 9}", 2)
    followed.remember("uid-10", 2)  # refreshed: now the newest
    followed.remember("uid-new", 2)
    assert followed.already_observed("uid-10", 2)
