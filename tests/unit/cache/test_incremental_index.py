"""The repository cache's index, updated from the listing's changes, against a rebuild.

Every write (create, edit, propose, approve, propose deletion, delete) and a fetch of
someone else's push must leave the same records as an index made from scratch."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanai.api import values
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache import gitcache
from lanai.git import probe, storage
from lanai.local import gitserver
from tests.support import gitservers, guards

USER, PASSWORD = "bot", "s3cret-pass"
AUTHOR = values.Author("Alice", "alice@example.com")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    yield from gitservers.serving(tmp_path_factory, USER, PASSWORD)


def _storage(url: str, mirror: Path) -> storage.GitStorage:
    return storage.GitStorage(
        url, "main", "", mirror, probe.RemoteAuth(USER, PASSWORD), guard=guards.local()
    )


def _kptfile(name: str, note: str = "") -> bytes:
    return (
        f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n"
        f"info:\n  description: '{note}'\n"
    ).encode()


def _view(repository: gitcache.GitRepository) -> dict[str, tuple[str, str, int, str]]:
    return {
        key.name: (record.lifecycle, record.ref, record.revision, record.commit)
        for key, record in repository._records.items()
    }


async def _from_scratch(url: str, tmp: Path) -> dict[str, tuple[str, str, int, str]]:
    fresh = gitcache.GitRepository("ns", "repo", _storage(url, tmp / "scratch"))
    await fresh.refresh()
    return _view(fresh)


def test_each_write_leaves_the_records_a_rebuild_makes(
    server: gitserver.GitServer, tmp_path: Path
) -> None:
    url = server.create_repository("incremental")
    repository = gitcache.GitRepository("ns", "repo", _storage(url, tmp_path / "mirror"))
    other = _storage(url, tmp_path / "other")  # someone else pushing to the same remote

    async def scenario() -> list[str]:
        await repository.refresh()
        task = values.Task("init", {})
        steps = []

        def key(package: str, workspace: str) -> PackageRevisionKey:
            return PackageRevisionKey("ns", "repo", package, workspace)

        files = {"Kptfile": _kptfile("a")}
        await repository.create_package_revision(key("a", "ws1"), files, task, AUTHOR)
        steps.append("create a/ws1")
        files = {"Kptfile": _kptfile("a", "edited"), "cm.yaml": b"a: 1\n"}
        await repository.update_package_revision(key("a", "ws1"), files, task, AUTHOR)
        steps.append("edit a/ws1")
        for target in (Lifecycle.PROPOSED, Lifecycle.PUBLISHED):
            await repository.close_package_revision(key("a", "ws1"), target, AUTHOR)
            steps.append(f"a/ws1 {target}")
        files = {"Kptfile": _kptfile("b")}
        await repository.create_package_revision(key("b", "ws1"), files, task, AUTHOR)
        await repository.create_package_revision(key("a", "ws2"), files, task, AUTHOR)
        steps.append("create b/ws1, a/ws2")
        for target in (Lifecycle.PROPOSED, Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED):
            await repository.close_package_revision(key("a", "ws2"), target, AUTHOR)
            steps.append(f"a/ws2 {target}")
        await repository.close_package_revision(key("a", "ws2"), Lifecycle.PUBLISHED, AUTHOR)
        steps.append("a/ws2 kept")
        await repository.delete_package_revision(key("b", "ws1"), AUTHOR)
        steps.append("delete b/ws1")
        # Someone else publishes: the cache learns it by fetching.
        other.fetch()
        other.create_draft(
            "c", "ws9", {"Kptfile": _kptfile("c")}, {}, storage.Signature("x", "x@x")
        )
        other.approve("c", "ws9", storage.Signature("x", "x@x"))
        await repository.refresh()
        steps.append("fetched c/ws9")
        return steps

    steps = asyncio.run(scenario())
    assert repository.package_count() == len(asyncio.run(repository.list_packages())) == 2
    assert steps[-1] == "fetched c/ws9"
    assert _view(repository) == asyncio.run(_from_scratch(url, tmp_path))
    names = set(_view(repository))
    assert {"repo.a.ws1", "repo.a.ws2", "repo.c.ws9", "repo.a.main", "repo.c.main"} <= names
    assert "repo.b.ws1" not in names


def test_the_index_follows_writes_step_by_step(server: gitserver.GitServer, tmp_path: Path) -> None:
    url = server.create_repository("stepwise")
    repository = gitcache.GitRepository("ns", "repo", _storage(url, tmp_path / "mirror"))
    rebuilds = []
    rebuild = repository._rebuild

    def counted(*args: Any) -> Any:
        rebuilds.append(args)
        return rebuild(*args)

    repository._rebuild = counted  # type: ignore[method-assign]

    async def scenario() -> None:
        await repository.refresh()
        task = values.Task("init", {})
        for n in range(6):
            key = PackageRevisionKey("ns", "repo", f"p{n % 3}", f"ws{n}")
            await repository.create_package_revision(key, {"Kptfile": _kptfile("p")}, task, AUTHOR)
            assert _view(repository) == await _from_scratch(url, tmp_path / f"s{n}a")
            await repository.close_package_revision(key, Lifecycle.PUBLISHED, AUTHOR)
            assert _view(repository) == await _from_scratch(url, tmp_path / f"s{n}b")
            assert repository.package_count() == len(await repository.list_packages())
            records = await repository.list_package_revisions()
            states = collections.Counter(str(r.lifecycle) for r in records)
            assert repository.lifecycle_counts() == dict(states)

    asyncio.run(scenario())
    assert len(rebuilds) == 1, "only the first listing is indexed whole"
    published = [r for r in _view(repository).values() if r[0] == Lifecycle.PUBLISHED]
    assert sorted(r[2] for r in published if r[2] > 0) == [1, 1, 1, 2, 2, 2]
