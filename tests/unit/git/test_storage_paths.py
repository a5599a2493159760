"""GitStorage by the rules of lanai.trust: what it refuses to write, and what it refuses,
skips or keeps when it reads a tree someone else pushed.

Trees with hostile names are written as raw objects straight into the served bare
repository (tests/support/rawtree.py), as a pusher who bypasses git's own checks would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from lanai.api import values
from lanai.cache import gitcache
from lanai.git import probe, storage
from lanai.local import gitserver
from lanai.trust import sizes
from tests.support import gitservers, guards, rawtree

USER, PASSWORD = "bot", "s3cret-pass"
AUTHOR = storage.Signature("Alice", "alice@example.com")
KPTFILE = rawtree.kptfile("basens")
DRAFT = "refs/heads/drafts/net/basens/ws1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    yield from gitservers.serving(tmp_path_factory, USER, PASSWORD)


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    return str(request.node.name).replace("[", "-").rstrip("]").replace("/", "_")[:60]


@pytest.fixture
def url(server: gitserver.GitServer, name: str) -> str:
    return server.create_repository(name)


@pytest.fixture
def bare(server: gitserver.GitServer, url: str, name: str) -> Path:
    return server.repository_path(name)


def _open(url: str, tmp: Path, limits: sizes.PackageLimits = sizes.DEFAULT) -> storage.GitStorage:
    git = storage.GitStorage(
        url,
        "main",
        "",
        tmp / "mirror",
        probe.RemoteAuth(USER, PASSWORD),
        limits,
        guard=guards.local(),
    )
    git.fetch()
    return git


def _draft(git: storage.GitStorage) -> storage.GitRevision:
    (found,) = [r for r in git.list_revisions() if r.workspace == "ws1"]
    return found


BAD_WRITES = [
    "../../x",
    ".git/config",
    "a/../../b",
    "..",
    "",
    "a\x00b",
    "/etc/passwd",
    "a\nb.yaml",
    ".GIT/hooks/post-checkout",
    "a//b",
]


@pytest.mark.parametrize("path", BAD_WRITES)
def test_a_write_with_a_bad_path_is_refused_and_nothing_is_pushed(
    url: str, tmp_path: Path, path: str
) -> None:
    git = _open(url, tmp_path)
    with pytest.raises(storage.InvalidPackage, match="file name") as refused:
        git.create_draft("net/basens", "ws1", {"Kptfile": KPTFILE, path: b"x"}, {}, AUTHOR)
    assert 'package "net/basens" cannot be written' in str(refused.value)
    assert "rename the file" in str(refused.value)
    git.fetch()
    assert not any(r.workspace == "ws1" for r in git.list_revisions())


def test_an_edit_with_a_bad_path_is_refused_and_the_draft_stays(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    before = git.create_draft("net/basens", "ws1", {"Kptfile": KPTFILE}, {}, AUTHOR)
    with pytest.raises(storage.InvalidPackage, match="/etc/passwd"):
        git.update_draft("net/basens", "ws1", {"/etc/passwd": b"root"}, {}, AUTHOR)
    git.fetch()
    assert _draft(git).commit == before.commit  # not "etc/passwd", not anything


HOSTILE_NAMES = [
    (b"..", '".." segment'),
    (b".git", '".git" segment'),
    (b".GiT", '".git" segment'),
    (b"a\nb.yaml", "control character"),
    (b"nul\x01", "control character"),
    (b"a/b", '"/" inside one name'),
    (b"caf\xe9.yaml", "not UTF-8"),
]


@pytest.mark.parametrize(("hostile", "what"), HOSTILE_NAMES)
def test_a_pushed_tree_with_a_hostile_name_is_refused_by_name_never_read(
    url: str, bare: Path, tmp_path: Path, hostile: bytes, what: str
) -> None:
    package = {b"Kptfile": KPTFILE, b"deep": {hostile: {b"config": b"[core]\n"}}}
    rawtree.commit(bare, DRAFT, {b"net": {b"basens": package}})
    git = _open(url, tmp_path)
    draft = _draft(git)
    assert what in draft.unreadable
    assert draft.unreadable.startswith('package "net/basens" at ')
    with pytest.raises(storage.InvalidPackage, match="net/basens"):
        git.read_package(draft.commit, "net/basens")


def test_symlinks_and_submodules_are_never_read_and_are_listed(
    url: str, bare: Path, tmp_path: Path
) -> None:
    package = {
        b"Kptfile": KPTFILE,
        b"passwd.yaml": (rawtree.LINK, "/etc/passwd"),
        b"sub": {b"up.yaml": (rawtree.LINK, "../../../outside.yaml")},
        b"vendor": (rawtree.SUBMODULE, "1" * 40),
    }
    rawtree.commit(bare, DRAFT, {b"net": {b"basens": package}})
    git = _open(url, tmp_path)
    draft = _draft(git)
    assert draft.unreadable == ""
    expected = (
        values.Skipped("passwd.yaml", "symlink"),
        values.Skipped("sub/up.yaml", "symlink"),
        values.Skipped("vendor", "submodule"),
    )
    assert draft.skipped == expected
    read = git.read_package(draft.commit, "net/basens")
    assert read.files == {"Kptfile": KPTFILE}
    assert read.skipped == expected


def test_an_edit_keeps_symlinks_and_submodules_and_approval_copies_them(
    url: str, bare: Path, tmp_path: Path
) -> None:
    package = {
        b"Kptfile": KPTFILE,
        b"link.yaml": (rawtree.LINK, "Kptfile"),
        b"vendor": (rawtree.SUBMODULE, "2" * 40),
    }
    rawtree.commit(bare, DRAFT, {b"net": {b"basens": package}})
    git = _open(url, tmp_path)
    edited = git.update_draft(
        "net/basens", "ws1", {"Kptfile": KPTFILE, "cm.yaml": b"kind: ConfigMap\n"}, {}, AUTHOR
    )
    repo = pygit2.Repository(str(bare))

    def entries(commit: str) -> dict[str, int]:
        tree = repo[commit].peel(pygit2.Commit).tree / "net" / "basens"
        return {e.name or "": int(e.filemode) for e in repo[tree.id].peel(pygit2.Tree)}

    assert entries(edited.commit) == {
        "Kptfile": rawtree.BLOB,
        "cm.yaml": rawtree.BLOB,
        "link.yaml": rawtree.LINK,
        "vendor": rawtree.SUBMODULE,
    }
    published = git.approve("net/basens", "ws1", AUTHOR)
    assert entries(published.commit) == entries(edited.commit)


def test_a_file_submitted_where_a_symlink_was_replaces_it(
    url: str, bare: Path, tmp_path: Path
) -> None:
    package = {b"Kptfile": KPTFILE, b"link.yaml": (rawtree.LINK, "/etc/passwd")}
    rawtree.commit(bare, DRAFT, {b"net": {b"basens": package}})
    git = _open(url, tmp_path)
    git.update_draft(
        "net/basens", "ws1", {"Kptfile": KPTFILE, "link.yaml": b"kind: A\n"}, {}, AUTHOR
    )
    draft = _draft(git)
    assert draft.skipped == ()
    assert git.read_package(draft.commit, "net/basens").files["link.yaml"] == b"kind: A\n"


SMALL = sizes.PackageLimits(bytes=1000, files=3)


def test_a_package_over_the_byte_limit_is_refused_before_it_is_read(
    url: str, bare: Path, tmp_path: Path
) -> None:
    package = {b"Kptfile": KPTFILE, b"big.yaml": b"x" * 2000}
    rawtree.commit(bare, DRAFT, {b"net": {b"basens": package}})
    git = _open(url, tmp_path, SMALL)
    draft = _draft(git)
    assert "is too large" in draft.unreadable
    assert "more than 1000 bytes" in draft.unreadable
    with pytest.raises(storage.InvalidPackage, match="too large"):
        git.read_package(draft.commit, "net/basens")


def test_a_package_over_the_file_limit_is_refused(url: str, bare: Path, tmp_path: Path) -> None:
    package: dict[bytes, rawtree.Node] = {b"Kptfile": KPTFILE}
    package.update({f"f{i}.yaml".encode(): b"a: b\n" for i in range(3)})
    rawtree.commit(bare, DRAFT, {b"net": {b"basens": package}})
    git = _open(url, tmp_path, SMALL)
    assert "holds more than 3 files" in _draft(git).unreadable


def test_a_write_over_the_limits_is_refused(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path, SMALL)
    with pytest.raises(storage.InvalidPackage, match="too large"):
        git.create_draft("net/basens", "ws1", {"Kptfile": b"x" * 2000}, {}, AUTHOR)


def test_a_clean_package_reads_as_before(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    files = {"Kptfile": KPTFILE, "a/b/c.yaml": b"kind: C\n", ".krmignore": b"x\n"}
    created = git.create_draft("net/basens", "ws1", files, {}, AUTHOR)
    assert (created.unreadable, created.skipped) == ("", ())
    assert git.read_package(created.commit, "net/basens") == storage.PackageContent(files)


def test_directories_with_hostile_names_hold_no_packages(
    url: str, bare: Path, tmp_path: Path
) -> None:
    kptfile = rawtree.kptfile("x")
    root: dict[bytes, rawtree.Node] = {
        b"ok": {b"Kptfile": kptfile},
        b"..": {b"Kptfile": kptfile},
        b".git": {b"Kptfile": kptfile},
        b"a\nb": {b"Kptfile": kptfile},
        b"caf\xe9": {b"Kptfile": kptfile},
    }
    rawtree.commit(bare, "refs/heads/main", root)
    git = _open(url, tmp_path)
    assert {r.package for r in git.list_revisions()} == {"ok"}


def test_revisions_that_cannot_be_named_are_passed_over_not_fatal(
    url: str, bare: Path, tmp_path: Path
) -> None:
    """An upper-case directory or a branch ``release/1.0`` would make an invalid object
    name; the cache leaves them out rather than fail every sync."""
    kptfile = rawtree.kptfile("x")
    rawtree.commit(
        bare, "refs/heads/main", {b"ok": {b"Kptfile": kptfile}, b"Bad": {b"Kptfile": kptfile}}
    )
    rawtree.commit(bare, "refs/heads/drafts/ok/UPPER", {b"ok": {b"Kptfile": kptfile}})
    git = storage.GitStorage(
        url, "main", "", tmp_path / "m", probe.RemoteAuth(USER, PASSWORD), guard=guards.local()
    )
    repository = gitcache.GitRepository("ns", "blueprints", git)
    asyncio.run(repository.refresh())
    listed = asyncio.run(repository.list_package_revisions())
    assert {(r.key.package, r.key.workspace) for r in listed} == {("ok", "main")}
