"""Syncs of many Repositories at once share one bound on API writes in flight."""

from __future__ import annotations

import asyncio

from lanai.handlers import mirroring


async def test_concurrent_syncs_never_have_more_writes_in_flight_than_the_process_allows() -> None:
    in_flight = 0
    highest = 0
    written: list[str] = []

    async def write(name: str) -> bool:
        nonlocal in_flight, highest
        in_flight += 1
        highest = max(highest, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        written.append(name)
        return True

    def sync(repository: int) -> mirroring._Writer:
        return mirroring._Writer(mirroring.Applied(), f"repo{repository}", lambda _key: True)

    items = {n: [f"repo{n}.pkg{i}" for i in range(40)] for n in range(10)}
    done = await asyncio.gather(*(sync(n).each(items[n], str, "create", write) for n in range(10)))
    assert done == [40] * 10
    assert sorted(written) == sorted(name for names in items.values() for name in names)
    # Ten syncs of WRITERS each would have 160 in flight; the process allows IN_FLIGHT.
    assert highest == mirroring.IN_FLIGHT < 10 * mirroring.WRITERS
