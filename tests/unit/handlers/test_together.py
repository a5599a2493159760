"""A lifecycle move writes Ready and the files object's update at the same time
(packagerevision._together): a failure of the files object alone must not leave the
spec observed, or kopf would never retry it."""

from __future__ import annotations

import asyncio

import pytest

from lanai.handlers import kube
from lanai.handlers.packagerevision import _together


class Calls:
    def __init__(self) -> None:
        self.undone = 0

    async def undo(self) -> None:
        self.undone += 1


async def _ok() -> None:
    await asyncio.sleep(0)


async def _fails(status: int = 503) -> None:
    await asyncio.sleep(0)
    raise kube.ApiError(status, "ServiceUnavailable", "restarting")


def test_both_written_nothing_taken_back() -> None:
    calls = Calls()
    asyncio.run(_together(_ok(), _ok(), calls.undo))
    assert calls.undone == 0


def test_files_object_failed_after_ready_takes_back_observed_generation() -> None:
    calls = Calls()
    with pytest.raises(kube.ApiError):
        asyncio.run(_together(_ok(), _fails(), calls.undo))
    assert calls.undone == 1


def test_status_failed_nothing_to_take_back() -> None:
    calls = Calls()
    with pytest.raises(kube.ApiError):
        asyncio.run(_together(_fails(), _ok(), calls.undo))
    with pytest.raises(kube.ApiError):
        asyncio.run(_together(_fails(), _fails(), calls.undo))
    assert calls.undone == 0


def test_a_failed_undo_still_raises_the_files_objects_error() -> None:
    async def undo() -> None:
        raise kube.ApiError(503, "ServiceUnavailable", "still restarting")

    with pytest.raises(kube.ApiError, match="restarting"):
        asyncio.run(_together(_ok(), _fails(409), undo))
