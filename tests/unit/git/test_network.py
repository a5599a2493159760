"""A Git server that never answers ends a call after the timeout, with a clear cause."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pygit2
import pytest

from lanai.git import network, probe
from tests.support import guards

GUARD = guards.local()


@pytest.fixture
def short_timeouts() -> Iterator[None]:
    before = network.timeouts()
    network.set_timeouts(0.5)
    yield
    pygit2.option(pygit2.enums.Option.SET_SERVER_CONNECT_TIMEOUT, int(before[0] * 1000))
    pygit2.option(pygit2.enums.Option.SET_SERVER_TIMEOUT, int(before[1] * 1000))


def test_timeouts_are_set_in_seconds(short_timeouts: None) -> None:
    assert network.timeouts() == (0.5, 0.5)


def test_a_silent_server_times_out_and_is_reported_as_such(short_timeouts: None) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    started = time.monotonic()
    with pytest.raises(probe.ProbeError) as raised:
        probe.list_branches(GUARD, f"http://127.0.0.1:{listener.getsockname()[1]}/r.git", None)
    assert time.monotonic() - started < 5
    assert raised.value.reason == "Timeout"
    assert "did not answer in time" in str(raised.value)
    listener.close()
    for connection in held:
        connection.close()


def test_classify_names_a_timeout() -> None:
    reason, message = probe.classify("could not read from socket: timed out")
    assert reason == "Timeout"
    assert message == "the Git server did not answer in time: could not read from socket: timed out"
