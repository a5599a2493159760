"""Porch and Lanai read each other's Git: a repository laid out by Porch's rules lists the
same in Lanai, and every ``kpt:`` line Lanai writes decodes under Porch's types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.git import commitmsg, probe, storage
from lanai.local import gitserver
from tests.support import gitservers, guards, porchgit
from tests.support.porchgit import PorchRevision

GUARD = guards.local()
USER, PASSWORD = "bot", "s3cret-pass"
AUTHOR = storage.Signature("Alice", "alice@example.com")


def _kptfile(name: str) -> str:
    return f"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    yield from gitservers.serving(tmp_path_factory, USER, PASSWORD)


def _repo(server: gitserver.GitServer, request: pytest.FixtureRequest) -> tuple[str, Path]:
    name = request.node.name.replace("[", "-").rstrip("]")
    return server.create_repository(name), server.repository_path(name)


def _open(url: str, tmp: Path, directory: str = "") -> storage.GitStorage:
    git = storage.GitStorage(
        url, "main", directory, tmp / "mirror", probe.RemoteAuth(USER, PASSWORD), guard=GUARD
    )
    git.fetch()
    return git


def _listing(git: storage.GitStorage) -> set[tuple[str, str, str, int]]:
    return {(r.package, r.workspace, r.lifecycle, r.revision) for r in git.list_revisions()}


PORCH_REVISIONS = [
    PorchRevision("basens", "first", "Published", 1, {"Kptfile": _kptfile("basens")}),
    PorchRevision("basens", "second", "Published", 2, {"Kptfile": _kptfile("basens")}),
    PorchRevision("net/edge", "alpha", "DeletionProposed", 1, {"Kptfile": _kptfile("edge")}),
    PorchRevision("basens", "wip", "Draft", 0, {"Kptfile": _kptfile("basens")}),
    PorchRevision("net/edge", "review", "Proposed", 0, {"Kptfile": _kptfile("edge")}),
]


@pytest.mark.parametrize("directory", ["", "blueprints"])
def test_a_repository_porch_wrote_lists_identically_workspaces_kept(
    server: gitserver.GitServer, request: pytest.FixtureRequest, tmp_path: Path, directory: str
) -> None:
    url, path = _repo(server, request)
    porchgit.write_repository(path, PORCH_REVISIONS, directory=directory)
    git = _open(url, tmp_path, directory)
    assert _listing(git) == porchgit.porch_listing(PORCH_REVISIONS)
    # Publishing on top continues Porch's numbering and keeps its names.
    git.create_draft("basens", "third", {"Kptfile": _kptfile("basens").encode()}, {}, AUTHOR)
    assert git.approve("basens", "third", AUTHOR).revision == 3
    assert ("basens", "first", "Published", 1) in _listing(git)


def _lanai_writes(git: storage.GitStorage, path: Path) -> None:
    """Every kind of commit Lanai makes, with the tasks as the cache records them."""
    kpt = {"Kptfile": _kptfile("app").encode()}

    def note(kind: str, detail: dict[str, object]) -> dict[str, object]:
        return {"task": commitmsg.porch_task(kind, detail), "source": kind, "upstream": []}

    init = {"init": {"description": "an <app> & more", "keywords": ["a", "b"], "site": "x"}}
    git.create_draft("app", "first", kpt, note("init", init), AUTHOR)
    git.update_draft("app", "first", kpt, {"task": commitmsg.porch_task("edit")}, AUTHOR)
    git.move_draft("app", "first", proposed=True)
    # Keep the draft's commits reachable: the approval squashes them away from the branch.
    full = f"{git.directory}/app" if git.directory else "app"
    porchgit._git(path, "update-ref", "refs/keep/first", f"refs/heads/proposed/{full}/first")
    git.approve("app", "first", AUTHOR, approved_by="bob@example.com")
    git.create_draft(
        "app", "copy", kpt, note("copy", {"copyFrom": {"name": "r.app.first"}}), AUTHOR
    )
    clone = {"cloneFrom": {"upstreamRef": {"name": "up.base.v1"}}}
    git.create_draft("down", "one", kpt, note("clone", clone), AUTHOR)
    clone_git = {
        "cloneFrom": {
            "type": "git",
            "git": {"repo": "https://h/r.git", "ref": "v1", "directory": "basens", "commit": "c"},
        }
    }
    git.create_draft("down2", "one", kpt, note("clone", clone_git), AUTHOR)
    upgrade = {
        "upgrade": {
            "oldUpstream": {"name": "a.v1"},
            "newUpstream": {"name": "a.v2"},
            "currentPackage": {"name": "d.v1"},
            "strategy": "resource-merge",
        }
    }
    git.create_draft("down", "two", kpt, note("upgrade", upgrade), AUTHOR)


@pytest.mark.parametrize("directory", ["", "blueprints"])
def test_what_lanai_writes_decodes_under_porchs_types(
    server: gitserver.GitServer, request: pytest.FixtureRequest, tmp_path: Path, directory: str
) -> None:
    url, path = _repo(server, request)
    git = _open(url, tmp_path, directory)
    _lanai_writes(git, path)
    lines = porchgit.annotation_lines(path)
    assert len(lines) == 7
    prefix = f"{directory}/" if directory else ""
    for summary, line in lines:
        decoded = porchgit.porch_decode(line)  # raises Rejected on any wrong JSON type
        assert decoded["package"].startswith(prefix), line
        assert decoded["workspaceName"], line
        assert decoded["revision"].isdigit(), line
        # Byte for byte, Porch's fields come first, in its order, as Go marshals them.
        porch_part = porchgit.porch_line(
            decoded["package"], decoded["workspaceName"], decoded["revision"], decoded.get("task")
        )
        raw = json.loads(line[len("kpt:") :])
        own = {k: v for k, v in raw.items() if k not in commitmsg.PORCH_FIELDS}
        expected = porch_part if not own else porch_part[:-1] + "," + porchgit.go_marshal(own)[1:]
        assert line == expected
        if decoded["revision"] != "0":
            assert summary == f"Approving package revision {decoded['package']}/1"
            assert "task" not in decoded
        else:
            assert summary in {
                "Creating new empty revision",
                "Creating new revision by cloning",
                "Creating new revision by copying previous revision",
                "Upgrading revision",
                "Rendering package",
            }, summary
    tasks = {porchgit.porch_decode(line).get("task", {}).get("type") for _, line in lines}
    assert tasks >= {"init", "render", "edit", "clone", "upgrade"}
    # ... and Lanai reads it all back: workspaces, numbers, creation sources.
    listed = _listing(git)
    assert ("app", "first", "Published", 1) in listed
    assert ("down", "two", "Draft", 0) in listed


def test_lanai_still_reads_its_older_numeric_revision_line(
    server: gitserver.GitServer, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url, path = _repo(server, request)
    revisions = [PorchRevision("pkg", "first", "Published", 1, {"Kptfile": _kptfile("pkg")})]
    porchgit.write_repository(path, revisions)
    # Rewrite the approval as Lanai once wrote it: revision a JSON number, package relative.
    head = porchgit._git(path, "rev-parse", "refs/heads/main")
    old = (
        'kpt:{"approvedBy":"bob","package":"pkg","revision":1,"task":{"type":"approve"},'
        '"workspaceName":"first"}'
    )
    with pytest.raises(porchgit.Rejected):
        porchgit.porch_decode(old)  # what Porch would have dropped
    tree = porchgit._git(path, "rev-parse", f"{head}^{{tree}}")
    parent = porchgit._git(path, "rev-parse", f"{head}^")
    commit = porchgit._commit(path, tree, parent, f"Approve pkg v1\n\n{old}\n")
    porchgit._git(path, "update-ref", "refs/heads/main", commit)
    porchgit._git(path, "update-ref", "refs/tags/pkg/v1", commit)
    git = _open(url, tmp_path)
    assert ("pkg", "first", "Published", 1) in _listing(git)
    git.create_draft("pkg", "second", {"Kptfile": _kptfile("pkg").encode()}, {}, AUTHOR)
    assert git.approve("pkg", "second", AUTHOR).revision == 2


@pytest.mark.parametrize(
    ("annotation", "revision"),
    [
        ({"revision": "3"}, 3),
        ({"revision": "v4"}, 4),
        ({"revision": 5}, 5),
        ({"revision": "0"}, None),
        ({"revision": 0}, None),
        ({"revision": True}, None),
        ({"revision": "main"}, None),
        ({}, None),
    ],
)
def test_revision_numbers_read_from_either_form(
    annotation: dict[str, object], revision: int | None
) -> None:
    assert commitmsg.revision_of(annotation) == revision


@pytest.mark.parametrize(
    ("annotation", "source", "upstream"),
    [
        ({"task": {"type": "init", "init": {}}}, "init", ()),
        ({"task": {"type": "edit", "edit": {"sourceRef": {"name": "r.p.v1"}}}}, "copy", ()),
        ({"task": {"type": "edit"}}, "", ()),
        (
            {"task": {"type": "render"}, "source": "clone", "upstream": ["u.p.v1"]},
            "clone",
            ("u.p.v1",),
        ),
        (
            {"task": {"type": "clone", "clone": {"upstreamRef": {"upstreamRef": {"name": "u"}}}}},
            "clone",
            ("u",),
        ),
        ({"task": {"type": "copy", "copyFrom": {"name": "x"}}}, "copy", ()),
        (
            {
                "task": {
                    "type": "upgrade",
                    "upgrade": {"oldUpstreamRef": {"name": "o"}, "newUpstreamRef": {"name": "n"}},
                }
            },
            "upgrade",
            ("o", "n"),
        ),
    ],
)
def test_creation_source_and_upstreams_from_porch_or_lanai_lines(
    annotation: dict[str, object], source: str, upstream: tuple[str, ...]
) -> None:
    assert commitmsg.creation_source(annotation) == source
    assert commitmsg.upstream_names(annotation) == upstream


def test_go_encoding_and_field_order() -> None:
    line = commitmsg.line(
        {"zeta": 1, "task": {"type": "init"}, "revision": 2, "package": "a<b>&c\u2028é"}
    )
    assert line == (
        'kpt:{"package":"a\\u003cb\\u003e\\u0026c\\u2028é","revision":"2",'
        '"task":{"type":"init"},"zeta":1}'
    )
    assert porchgit.porch_decode(line)["revision"] == "2"
