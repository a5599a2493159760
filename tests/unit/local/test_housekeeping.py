"""The test Git server's push-based housekeeping keeps a repository packed, as a hosting
service does, without ever touching a push or a path outside its root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.local import gitserver, housekeeping
from tests.support import gitwork


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[tuple[gitserver.GitServer, housekeeping.Housekeeping]]:
    upkeep = housekeeping.Housekeeping(incremental_every=2, full_every=4)
    server = gitserver.GitServer(
        tmp_path / "srv",
        gitserver.Credentials(users={gitwork.GIT_USER: gitwork.GIT_PASSWORD}),
        housekeeping=upkeep,
    ).start()
    yield server, upkeep
    server.stop()


def _push_branches(
    url: str, work: Path, count: int, upkeep: housekeeping.Housekeeping | None = None
) -> None:
    """``count`` pushes of a new branch each; with ``upkeep``, each waits for the
    housekeeping it started (a run still under way would make the next due one wait)."""
    gitwork.clone(url, work)
    for n in range(count):
        gitwork.commit_package(work, ".", {f"f{n}": f"{n}\n"}, f"c{n}")
        gitwork.git(work, "push", "-q", "origin", f"HEAD:refs/heads/b{n}")
        if upkeep is not None:
            upkeep.drain()


def _loose_objects(repository: Path) -> int:
    objects = repository / "objects"
    return sum(len(os.listdir(objects / d)) for d in os.listdir(objects) if len(d) == 2)


def test_every_so_many_pushes_objects_and_refs_are_packed_with_a_commit_graph(
    kept: tuple[gitserver.GitServer, housekeeping.Housekeeping], tmp_path: Path
) -> None:
    server, upkeep = kept
    url = server.create_repository("busy")
    _push_branches(url, tmp_path / "work", 4, upkeep)
    repository = server.repository_path("busy")
    assert upkeep.runs == 2  # after the 2nd push (incremental) and the 4th (full)
    assert _loose_objects(repository) == 0
    packs = list((repository / "objects" / "pack").glob("*.pack"))
    assert len(packs) == 1  # the full repack joined them
    packed_refs = (repository / "packed-refs").read_text()
    assert all(f"refs/heads/b{n}" in packed_refs for n in range(4))
    assert not list((repository / "refs" / "heads").glob("b*"))  # no loose refs left
    assert (repository / "objects" / "info" / "commit-graph").exists()
    # The repository is whole and serves every branch.
    gitwork.git(tmp_path, "--git-dir", str(repository), "fsck", "--no-progress")
    listed = gitwork.git(tmp_path / "work", "ls-remote", "origin")
    assert all(f"refs/heads/b{n}" in listed for n in range(4))


def test_pushes_between_housekeeping_runs_leave_the_repository_alone(
    kept: tuple[gitserver.GitServer, housekeeping.Housekeeping], tmp_path: Path
) -> None:
    server, upkeep = kept
    url = server.create_repository("quiet")
    _push_branches(url, tmp_path / "work", 1)
    upkeep.drain()
    assert upkeep.runs == 0
    assert _loose_objects(server.repository_path("quiet")) > 0  # git's gc --auto is off too


def test_only_repositories_right_under_the_root_are_named_by_a_request(
    kept: tuple[gitserver.GitServer, housekeeping.Housekeeping], tmp_path: Path
) -> None:
    server, _ = kept
    server.create_repository("named")
    (tmp_path / "outside.git").mkdir()
    served = server._server
    assert (
        served.repository_of("/named.git/git-receive-pack")
        == server.repository_path("named").resolve()
    )
    assert served.repository_of("/../outside.git/git-receive-pack") is None
    assert served.repository_of("/missing.git/git-receive-pack") is None
    assert served.repository_of("/git-receive-pack") is None
