"""The engine's commit of an edit, against a real Git server and the real cache.

An edit is what the object changed since the commit it last showed; what Git got
meanwhile stays; content equal to Git's is no edit; a commit carries its editor.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.api import values
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache import gitcache, interface
from lanai.engine import engine, errors
from lanai.functions.box import pool
from lanai.git import probe
from lanai.local import gitserver
from lanai.tasks import gitsource, handler, rendering
from tests.support import guards

USER, PASSWORD = "bot", "s3cret-pass"
ALICE = values.Author("alice@example.com", "alice@example.com")
BOB = values.Author("bob@example.com", "bob@example.com")
KPTFILE = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '{value}'\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    srv = gitserver.GitServer(
        tmp_path_factory.mktemp("git"), gitserver.Credentials(users={USER: PASSWORD})
    ).start()
    yield srv
    srv.stop()


class Bench:
    """An engine over one Repository with one Draft ``pkg``/``ws``."""

    def __init__(self, url: str, root: Path, box: pool.Box) -> None:
        self.url = url
        self.cache = gitcache.Cache(root / "cache", guards.local())
        self.repository = self.cache.open(
            "ns", "repo", url=url, branch="main", directory="",
            auth=probe.RemoteAuth(USER, PASSWORD), deployment=False, author=None,
        )  # fmt: skip

        async def resolve(namespace: str, name: str) -> interface.Repository:
            return self.repository

        tasks = handler.TaskHandler(
            rendering.KptRenderer(box, workers=1),
            gitsource.GitSources(root / "upstreams", guards.local()),
        )
        self.engine = engine.Engine(resolve, tasks)
        self.key = PackageRevisionKey("ns", "repo", "pkg", "ws")

    async def draft(self, files: dict[str, bytes]) -> str:
        await self.repository.refresh()
        await self.repository.create_package_revision(self.key, files, values.Task("init"), ALICE)
        return await self.head()

    async def head(self) -> str:
        record = await self.engine.get(self.key)
        assert record is not None
        return record.commit

    def authors(self) -> list[str]:
        authed = self.url.replace("://", f"://{USER}:{PASSWORD}@")
        work = Path(self.cache.root) / "check"
        if not work.exists():
            subprocess.run(["git", "clone", "-q", "--mirror", authed, str(work)], check=True)
        subprocess.run(["git", "-C", str(work), "fetch", "-q", "--prune"], check=True)
        done = subprocess.run(
            ["git", "-C", str(work), "log", "--format=%ae", "main..drafts/pkg/ws"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.split()


@pytest.fixture(scope="module")
def box() -> Iterator[pool.Box]:
    with pool.Box(rendering.settings(), workers=1) as shared:
        yield shared


@pytest.fixture
def bench(
    server: gitserver.GitServer, box: pool.Box, tmp_path: Path, request: pytest.FixtureRequest
) -> Bench:
    name = request.node.name.replace("[", "-").rstrip("]")
    return Bench(server.create_repository(name), tmp_path, box)


def cm(name: str, value: str) -> bytes:
    return CM.format(name=name, value=value).encode()


async def test_an_edit_lands_on_what_git_got_meanwhile(bench: Bench) -> None:
    base = await bench.draft({"Kptfile": KPTFILE, "a.yaml": cm("a", "1"), "b.yaml": cm("b", "1")})
    # Git moves under the object: someone else's commit changes b.yaml.
    moved = await bench.engine.commit_edit(
        bench.key, {"Kptfile": KPTFILE, "a.yaml": cm("a", "1"), "b.yaml": cm("b", "git")}, BOB,
        base=base,
    )  # fmt: skip
    assert moved.committed
    # The object still shows the base and changes a.yaml only: b.yaml keeps Git's change.
    edited = await bench.engine.commit_edit(
        bench.key, {"Kptfile": KPTFILE, "a.yaml": cm("a", "2"), "b.yaml": cm("b", "1")}, ALICE,
        base=base,
    )  # fmt: skip
    assert edited.committed
    files = await bench.engine.read_files(bench.key)
    assert files["a.yaml"] == cm("a", "2")
    assert files["b.yaml"] == cm("b", "git")
    assert bench.authors()[:2] == [ALICE.email, BOB.email]


async def test_content_equal_to_git_is_no_edit_and_commits_nothing(bench: Bench) -> None:
    base = await bench.draft({"Kptfile": KPTFILE, "a.yaml": cm("a", "1")})
    same = await bench.engine.commit_edit(
        bench.key, {"Kptfile": KPTFILE, "a.yaml": cm("a", "1")}, BOB, base=base
    )
    assert not same.committed
    assert same.rendered is None  # not even rendered
    # An object whose base is unknown, showing Git's files: still no edit.
    unknown = await bench.engine.commit_edit(
        bench.key, {"Kptfile": KPTFILE, "a.yaml": cm("a", "1")}, BOB, base=None
    )
    assert not unknown.committed
    assert await bench.head() == base
    assert bench.authors() == [ALICE.email]


async def test_an_unknown_or_forged_base_is_the_whole_object(bench: Bench) -> None:
    await bench.draft({"Kptfile": KPTFILE, "a.yaml": cm("a", "1"), "b.yaml": cm("b", "1")})
    for base in ("0" * 40, "not-a-commit", "HEAD"):
        edited = await bench.engine.commit_edit(
            bench.key, {"Kptfile": KPTFILE, "a.yaml": cm("a", base[:3])}, ALICE, base=base
        )
        assert edited.committed
        assert set(await bench.engine.read_files(bench.key)) == {"Kptfile", "a.yaml"}
        await bench.engine.commit_edit(
            bench.key, {"Kptfile": KPTFILE, "a.yaml": cm("a", "1"), "b.yaml": cm("b", "1")},
            ALICE,
        )  # fmt: skip


def _push_behind_the_cache(url: str, work: Path) -> None:
    """Someone pushes a file to the draft branch with git, not through Lanai."""
    authed = url.replace("://", f"://{USER}:{PASSWORD}@")
    subprocess.run(["git", "clone", "-q", "-b", "drafts/pkg/ws", authed, str(work)], check=True)
    (work / "pkg" / "pushed.yaml").write_text(CM.format(name="pushed", value="x"))
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(work), "-c", "user.name=eve", "-c", "user.email=eve@example.com",
         "commit", "-q", "-m", "pushed"],
        check=True,
    )  # fmt: skip
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD"], check=True)


async def test_a_branch_moved_on_the_remote_is_retried_not_overwritten(
    bench: Bench, tmp_path: Path
) -> None:
    base = await bench.draft({"Kptfile": KPTFILE, "a.yaml": cm("a", "1")})
    _push_behind_the_cache(bench.url, tmp_path / "work")
    with pytest.raises(errors.Unavailable, match="moved in Git meanwhile"):
        await bench.engine.commit_edit(
            bench.key, {"Kptfile": KPTFILE, "a.yaml": cm("a", "2")}, ALICE, base=base
        )
    # The retry sees the push (the cache fetched) and keeps it.
    retried = await bench.engine.commit_edit(
        bench.key, {"Kptfile": KPTFILE, "a.yaml": cm("a", "2")}, ALICE, base=base
    )
    assert retried.committed
    files = await bench.engine.read_files(bench.key)
    assert files["a.yaml"] == cm("a", "2")
    assert files["pushed.yaml"] == CM.format(name="pushed", value="x").encode()


async def test_only_a_draft_takes_edits(bench: Bench) -> None:
    await bench.draft({"Kptfile": KPTFILE})
    await bench.repository.close_package_revision(bench.key, Lifecycle.PROPOSED, ALICE)
    with pytest.raises(errors.Rejected, match="only a Draft"):
        await bench.engine.commit_edit(bench.key, {"Kptfile": KPTFILE + b"# x\n"}, ALICE)
