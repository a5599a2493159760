"""A push as one atomic request (lanai.git.receive), against real ``git http-backend``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from lanai.git import probe, receive, storage
from lanai.local import gitserver
from tests.support import gitservers, guards

GUARD = guards.local()
USER, PASSWORD = "bot", "s3cret-pass"
AUTH = probe.RemoteAuth(USER, PASSWORD)
AUTHOR = storage.Signature("Alice", "alice@example.com")
KPTFILE = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: p\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    yield from gitservers.serving(tmp_path_factory, USER, PASSWORD)


@pytest.fixture
def url(server: gitserver.GitServer, request: pytest.FixtureRequest) -> str:
    return server.create_repository(request.node.name.replace("[", "-").rstrip("]"))


def _open(url: str, tmp: Path, name: str = "mirror") -> storage.GitStorage:
    git = storage.GitStorage(url, "main", "", tmp / name, AUTH, guard=GUARD)
    git.fetch()
    return git


def _remote_refs(url: str) -> dict[str, str]:
    authed = url.replace("://", f"://{USER}:{PASSWORD}@")
    out = subprocess.run(
        ["git", "ls-remote", authed], capture_output=True, text=True, check=True
    ).stdout
    return {line.split("\t")[1]: line.split("\t")[0] for line in out.splitlines()}


def test_a_pack_of_whole_objects_is_one_git_reads(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    blob = repo.create_blob(b"x" * 300 + b"\n")  # a size that needs a second header byte
    builder = repo.TreeBuilder()
    builder.insert("f", blob, pygit2.enums.FileMode.BLOB)
    tree = builder.write()
    objects = [repo.odb.read(oid) for oid in (blob, tree)]
    data = receive.pack((int(kind), raw) for kind, raw in objects)
    (tmp_path / "p.pack").write_bytes(data)
    out = subprocess.run(
        ["git", "index-pack", "--stdin", "-v"],
        input=data,
        capture_output=True,
        cwd=tmp_path / "r.git",
        check=True,
    )
    assert out.returncode == 0
    listed = subprocess.run(
        ["git", "verify-pack", "-v", str(next((tmp_path / "r.git").rglob("pack-*.idx")))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(blob) in listed
    assert str(tree) in listed


def test_a_report_lists_the_refused_refs() -> None:
    answer = (
        receive.pkt_line(b"unpack ok\n")
        + receive.pkt_line(b"ok refs/heads/a\n")
        + receive.pkt_line(b"ng refs/tags/v1 atomic push failure\n")
        + b"0000"
    )
    assert receive.parse_result(answer, ["refs/heads/a", "refs/tags/v1"]) == {
        "refs/tags/v1": "atomic push failure"
    }
    with pytest.raises(receive.Failed):  # a ref the answer does not mention
        receive.parse_result(answer, ["refs/heads/a", "refs/heads/b"])
    with pytest.raises(receive.Failed):
        receive.parse_result(b"0009garb", ["refs/heads/a"])
    broken = receive.pkt_line(b"unpack index-pack failed\n") + b"0000"
    assert set(receive.parse_result(broken, ["refs/heads/a"])) == {"refs/heads/a"}


def test_only_deletions_send_no_pack() -> None:
    deletion = receive.Command("a" * 40, receive.ZERO, "refs/heads/x")
    assert not receive.request_body([deletion], None).endswith(receive.pack(()))
    creation = receive.Command(receive.ZERO, "b" * 40, "refs/heads/y")
    assert receive.request_body([creation], None).endswith(receive.pack(()))


def test_git_http_backend_takes_atomic_pushes(url: str) -> None:
    found = receive.capabilities(GUARD, url, AUTH)
    assert found is not None
    assert found.usable


def test_an_approval_is_one_push_request(
    url: str, server: gitserver.GitServer, tmp_path: Path
) -> None:
    git = _open(url, tmp_path)
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE, "a.yaml": b"a: 1\n"}, {}, AUTHOR)
    git.move_draft("pkg", "ws", proposed=True)
    before = server.requests
    published = git.approve("pkg", "ws", AUTHOR)
    assert server.requests - before == 1  # no fetch, no challenge, one POST
    refs = _remote_refs(url)
    assert refs["refs/tags/pkg/v1"] == refs["refs/heads/main"] == published.commit
    assert "refs/heads/proposed/pkg/ws" not in refs
    fresh = _open(url, tmp_path, "other")
    assert fresh.read_package(published.commit, "pkg").files["a.yaml"] == b"a: 1\n"


def test_a_refused_ref_moves_none_and_the_mirror_catches_up(url: str, tmp_path: Path) -> None:
    """Atomic: one ref that moved on the remote refuses the whole push; the mirror is
    fetched, so the retry starts from what the remote holds."""
    git = _open(url, tmp_path)
    rival = _open(url, tmp_path, "rival")
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    rival.fetch()
    rival.create_draft("other", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    rival.approve("other", "ws", AUTHOR)  # main moves under the first mirror
    before = _remote_refs(url)
    head = git.head()
    commit = git._new_commit(head, "pkg", None, "x", {"package": "pkg"}, AUTHOR)
    with pytest.raises(storage.Conflict):
        git._set_and_push(
            {"refs/heads/main": commit, "refs/tags/pkg/v9": commit},
            guarded={"refs/heads/main": head, "refs/tags/pkg/v9": None},
            atomic=True,
        )
    assert _remote_refs(url) == before  # the tag did not land either
    assert git.head() == before["refs/heads/main"]  # fetched
    assert git.approve("pkg", "ws", AUTHOR).revision == 1  # its own package's first


def test_a_remote_without_atomic_pushes_gets_two_pushes(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    git._atomic = False  # as for a server that does not announce ``atomic``
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    published = git.approve("pkg", "ws", AUTHOR)
    refs = _remote_refs(url)
    assert refs["refs/tags/pkg/v1"] == refs["refs/heads/main"] == published.commit
    assert "refs/heads/drafts/pkg/ws" not in refs
