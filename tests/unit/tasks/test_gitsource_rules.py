"""cloneFrom.git reads its source by the same rules as a registered revision: a hostile
name or an oversized package refuses the clone, naming the file or the limit; symlinks
and submodules are left out and reported, never read."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.api import values
from lanai.git import probe
from lanai.local import gitserver
from lanai.tasks import gitsource
from lanai.trust import sizes
from tests.support import gitservers, guards, rawtree

USER, PASSWORD = "bot", "s3cret-pass"
AUTH = probe.RemoteAuth(USER, PASSWORD)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    yield from gitservers.serving(tmp_path_factory, USER, PASSWORD)


def _upstream(server: gitserver.GitServer, name: str, package: dict[bytes, rawtree.Node]) -> str:
    url = server.create_repository(name)
    rawtree.commit(server.repository_path(name), "refs/heads/main", {b"apps": {b"app": package}})
    return url


def _read(root: Path, url: str, limits: sizes.PackageLimits = sizes.DEFAULT) -> gitsource.Fetched:
    sources = gitsource.GitSources(root, guards.local(), limits)
    return asyncio.run(sources.read("team", url, "main", "apps/app", AUTH))


def test_a_clean_source_is_read_with_its_symlinks_listed_not_read(
    server: gitserver.GitServer, tmp_path: Path
) -> None:
    package = {
        b"Kptfile": rawtree.kptfile("app"),
        b"passwd.yaml": (rawtree.LINK, "/etc/passwd"),
        b"vendor": (rawtree.SUBMODULE, "4" * 40),
    }
    fetched = _read(tmp_path, _upstream(server, "clean", package))
    assert fetched.files == {"Kptfile": rawtree.kptfile("app")}
    assert fetched.skipped == (
        values.Skipped("passwd.yaml", "symlink"),
        values.Skipped("vendor", "submodule"),
    )


@pytest.mark.parametrize(
    ("hostile", "what"),
    [(b"..", '".." segment'), (b".GIT", '".git" segment'), (b"new\nline", "control character")],
)
def test_a_source_with_a_hostile_name_refuses_the_clone_naming_the_file(
    server: gitserver.GitServer, tmp_path: Path, hostile: bytes, what: str
) -> None:
    name = f"hostile-{hostile.hex()}"
    url = _upstream(server, name, {b"Kptfile": rawtree.kptfile("app"), hostile: {b"x": b"y"}})
    with pytest.raises(
        gitsource.GitSourceError, match=re.escape(f"cannot clone from {url}")
    ) as refused:
        _read(tmp_path, url)
    assert what in str(refused.value)


def test_an_oversized_source_is_refused_before_it_is_read(
    server: gitserver.GitServer, tmp_path: Path
) -> None:
    url = _upstream(server, "oversized", {b"Kptfile": b"k" * 600, b"big.bin": b"\0" * 600})
    with pytest.raises(gitsource.GitSourceError, match="is too large"):
        _read(tmp_path, url, sizes.PackageLimits(bytes=1000, files=10))


@pytest.mark.parametrize("directory", ["../other", "apps/../../x", ".git", "apps//app"])
def test_a_directory_that_leaves_the_repository_is_refused(
    server: gitserver.GitServer, tmp_path: Path, directory: str
) -> None:
    sources = gitsource.GitSources(tmp_path, guards.local())
    with pytest.raises(gitsource.GitSourceError, match=r"cloneFrom\.git\.directory"):
        asyncio.run(sources.read("team", server.url + "/none.git", "main", directory, AUTH))
