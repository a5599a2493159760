"""A Git server over HTTP with basic auth, for one test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lanai.local import gitserver


def serving(
    tmp_path_factory: pytest.TempPathFactory, user: str, password: str
) -> Iterator[gitserver.GitServer]:
    """Serve a fresh root until the generator is closed (a module fixture's body)."""
    server = gitserver.GitServer(
        tmp_path_factory.mktemp("git"), gitserver.Credentials(users={user: password})
    )
    server.start()
    yield server
    server.stop()
