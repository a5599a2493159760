"""GitStorage against a real smart-HTTP Git server: the Porch layout, written and read."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.git import probe, storage
from lanai.local import gitserver
from tests.support import gitservers, guards

GUARD = guards.local()
USER, PASSWORD = "bot", "s3cret-pass"
AUTHOR = storage.Signature("Alice", "alice@example.com")
KPTFILE = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: basens\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    yield from gitservers.serving(tmp_path_factory, USER, PASSWORD)


@pytest.fixture
def url(server: gitserver.GitServer, request: pytest.FixtureRequest) -> str:
    return server.create_repository(request.node.name.replace("[", "-").rstrip("]"))


def _open(url: str, tmp: Path, name: str = "mirror", directory: str = "") -> storage.GitStorage:
    git = storage.GitStorage(
        url, "main", directory, tmp / name, probe.RemoteAuth(USER, PASSWORD), guard=GUARD
    )
    git.fetch()
    return git


def _remote_refs(url: str) -> dict[str, str]:
    authed = url.replace("://", f"://{USER}:{PASSWORD}@")
    out = subprocess.run(
        ["git", "ls-remote", authed], capture_output=True, text=True, check=True
    ).stdout
    return {line.split("\t")[1]: line.split("\t")[0] for line in out.splitlines()}


def _kinds(git: storage.GitStorage) -> set[tuple[str, str, str, int]]:
    return {(r.package, r.workspace, r.lifecycle, r.revision) for r in git.list_revisions()}


def test_draft_propose_approve_writes_porch_refs(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    files = {"Kptfile": KPTFILE, "cm.yaml": b"kind: ConfigMap\n"}
    git.create_draft("net/basens", "ws1", files, {"task": {"type": "init"}}, AUTHOR)
    assert "refs/heads/drafts/net/basens/ws1" in _remote_refs(url)
    git.move_draft("net/basens", "ws1", proposed=True)
    refs = _remote_refs(url)
    assert "refs/heads/proposed/net/basens/ws1" in refs
    assert "refs/heads/drafts/net/basens/ws1" not in refs
    published = git.approve("net/basens", "ws1", AUTHOR)
    assert (published.lifecycle, published.revision) == ("Published", 1)
    refs = _remote_refs(url)
    assert refs["refs/tags/net/basens/v1"] == refs["refs/heads/main"]
    assert "refs/heads/proposed/net/basens/ws1" not in refs
    assert _kinds(git) == {
        ("net/basens", "main", "Published", -1),
        ("net/basens", "ws1", "Published", 1),
    }
    assert git.read_package(published.commit, "net/basens").files == files


def test_a_fresh_mirror_recovers_workspaces_and_numbers(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    for ws in ("a", "b"):
        git.create_draft("pkg", ws, {"Kptfile": KPTFILE}, {"task": {"type": "init"}}, AUTHOR)
        git.approve("pkg", ws, AUTHOR)
    git.create_draft("pkg", "c", {"Kptfile": KPTFILE}, {"task": {"type": "copy"}}, AUTHOR)
    fresh = _open(url, tmp_path, "other")
    assert _kinds(fresh) == {
        ("pkg", "main", "Published", -1),
        ("pkg", "a", "Published", 1),
        ("pkg", "b", "Published", 2),
        ("pkg", "c", "Draft", 0),
    }


def test_existing_workspace_is_refused(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    with pytest.raises(storage.RevisionExists):
        git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)


def test_concurrent_publishers_never_share_a_number(url: str, tmp_path: Path) -> None:
    mirrors = [_open(url, tmp_path, f"m{i}") for i in range(4)]
    for i, git in enumerate(mirrors):
        git.create_draft("pkg", f"ws{i}", {"Kptfile": KPTFILE}, {}, AUTHOR)
    for git in mirrors:
        git.fetch()
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda g=g, i=i: results.append(g.approve("pkg", f"ws{i}", AUTHOR).revision)
        )
        for i, g in enumerate(mirrors)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [1, 2, 3, 4]
    tags = [ref for ref in _remote_refs(url) if ref.startswith("refs/tags/pkg/")]
    assert sorted(tags) == [f"refs/tags/pkg/v{n}" for n in (1, 2, 3, 4)]


def test_repair_tags_an_approval_commit_whose_tag_is_missing(url: str, tmp_path: Path) -> None:
    """The state a crash between the two pushes of an approval leaves behind."""
    git = _open(url, tmp_path)
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    draft = _remote_refs(url)["refs/heads/drafts/pkg/ws"]
    git.approve("pkg", "ws", AUTHOR)
    authed = url.replace("://", f"://{USER}:{PASSWORD}@")
    mirror = tmp_path / "mirror"
    for spec in (":refs/tags/pkg/v1", f"{draft}:refs/heads/drafts/pkg/ws"):
        pushed = ["git", "-C", str(mirror), "push", authed, spec]
        subprocess.run(pushed, check=True, capture_output=True)
    fresh = _open(url, tmp_path, "fresh")
    assert fresh.repair() == ["refs/tags/pkg/v1"]
    refs = _remote_refs(url)
    assert "refs/tags/pkg/v1" in refs
    assert "refs/heads/drafts/pkg/ws" not in refs


def test_an_approval_retried_after_its_tag_push_failed_keeps_its_number(
    url: str, tmp_path: Path
) -> None:
    """Git died between the approval's two pushes; the retry finishes that approval
    (tag v1) instead of approving again as v2, which would leave v1 a gap for good."""
    git = _open(url, tmp_path)
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    draft = _remote_refs(url)["refs/heads/drafts/pkg/ws"]
    git.approve("pkg", "ws", AUTHOR)
    authed = url.replace("://", f"://{USER}:{PASSWORD}@")
    mirror = tmp_path / "mirror"
    for spec in (":refs/tags/pkg/v1", f"{draft}:refs/heads/drafts/pkg/ws"):
        pushed = ["git", "-C", str(mirror), "push", authed, spec]
        subprocess.run(pushed, check=True, capture_output=True)
    retried = _open(url, tmp_path, "retried").approve("pkg", "ws", AUTHOR)
    assert (retried.lifecycle, retried.revision) == ("Published", 1)
    refs = _remote_refs(url)
    assert [ref for ref in refs if ref.startswith("refs/tags/")] == ["refs/tags/pkg/v1"]
    assert "refs/heads/drafts/pkg/ws" not in refs


def test_repair_leaves_a_deleted_revision_deleted(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    git.approve("pkg", "ws", AUTHOR)
    git.set_deletion_proposed("pkg", 1, proposed=True)
    git.delete("pkg", "ws", AUTHOR)
    fresh = _open(url, tmp_path, "fresh")
    assert fresh.repair() == []
    assert "refs/tags/pkg/v1" not in _remote_refs(url)


def test_deletion_proposal_and_deletes(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    git.approve("pkg", "ws", AUTHOR)
    git.set_deletion_proposed("pkg", 1, proposed=True)
    assert ("pkg", "ws", "DeletionProposed", 1) in _kinds(git)
    assert "refs/heads/deletionProposed/pkg/v1" in _remote_refs(url)
    git.delete("pkg", "ws", AUTHOR)
    refs = _remote_refs(url)
    assert "refs/tags/pkg/v1" not in refs
    assert "refs/heads/deletionProposed/pkg/v1" not in refs
    git.delete("pkg", "main", AUTHOR)  # the placeholder: a commit removing the directory
    assert _kinds(git) == set()


def test_directory_scopes_packages_and_refs(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path, directory="/blueprints")
    git.create_draft("basens", "ws", {"Kptfile": KPTFILE, "sub/Kptfile": KPTFILE}, {}, AUTHOR)
    git.approve("basens", "ws", AUTHOR)
    assert "refs/tags/blueprints/basens/v1" in _remote_refs(url)
    assert ("basens", "main", "Published", -1) in _kinds(git)  # nested Kptfile: one package


def test_wrong_password_is_reported_without_it(server: gitserver.GitServer, tmp_path: Path) -> None:
    url = server.create_repository("wrong-password")
    git = storage.GitStorage(
        url, "main", "", tmp_path / "m", probe.RemoteAuth(USER, "nope-x1"), guard=GUARD
    )
    with pytest.raises(storage.RemoteError) as caught:
        git.fetch()
    assert caught.value.reason == "AuthenticationFailed"
    assert "nope-x1" not in str(caught.value)


def test_version_changes_only_with_refs(url: str, tmp_path: Path) -> None:
    git = _open(url, tmp_path)
    before = git.version()
    assert git.fetch() is False
    assert git.version() == before
    git.create_draft("pkg", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    assert git.version() != before
