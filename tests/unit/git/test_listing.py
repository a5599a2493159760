"""The incremental listing against a walk over every ref, through random ref moves."""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest

from lanai.git import layout, listing
from lanai.git.storage import GitRevision

BRANCH = "main"
HEAD = f"refs/heads/{BRANCH}"


class World:
    """Refs and commits of a pretend mirror. A commit id names what it holds:
    ``c<k>`` commits are looked up in ``trees`` (package → directory id) and
    ``workspaces`` (the workspace a tag's annotation names); a package whose directory id
    starts with ``bad`` cannot be read."""

    def __init__(self) -> None:
        self.refs: dict[str, str] = {}
        self.trees: dict[str, dict[str, str]] = {}
        self.workspaces: dict[str, str] = {}
        self.reads = 0

    def commit(self, trees: Mapping[str, str], workspace: str = "") -> str:
        name = f"c{len(self.trees)}"
        self.trees[name] = dict(trees)
        self.workspaces[name] = workspace
        return name

    # -- the Reader protocol ------------------------------------------------------

    def kind_of(self, name: str, target: str) -> listing.Kind | None:
        parts = name.split("/")
        if name.startswith("refs/heads/drafts/"):
            return ("Draft", parts[3], parts[4], 0)
        if name.startswith("refs/heads/proposed/"):
            return ("Proposed", parts[3], parts[4], 0)
        if name.startswith("refs/heads/deleting/"):
            return (layout.DELETION_PROPOSED, parts[3], "", int(parts[4]))
        if name.startswith("refs/tags/"):
            n = int(parts[3])
            return (listing.TAG, parts[2], self.workspaces[target] or f"v{n}", n)
        return None

    def read_revision(
        self, package: str, workspace: str, lifecycle: str, n: int, commit: str, ref: str
    ) -> GitRevision | None:
        self.reads += 1
        tree = self.trees[commit].get(package)
        if tree is None or tree.startswith("bad"):
            return None
        return GitRevision(package, workspace, lifecycle, n, commit, ref)

    def package_trees_at(self, commit: str) -> Mapping[str, str]:
        return self.trees[commit]

    def tree_at(self, commit: str, package: str) -> str | None:
        return self.trees[commit].get(package)


def walk(world: World) -> set[tuple[str, str, str, int, str, str]]:
    """Every revision, the way a listing over every ref finds them."""
    found: list[GitRevision | None] = []
    deletion: set[tuple[str, int]] = set()
    tags = []
    for name, target in world.refs.items():
        kind = world.kind_of(name, target)
        if kind is None:
            continue
        what, package, workspace, n = kind
        if what == listing.TAG:
            tags.append((package, n, workspace, target, name))
        elif what == layout.DELETION_PROPOSED:
            deletion.add((package, n))
        else:
            found.append(world.read_revision(package, workspace, what, 0, target, name))
    latest: dict[str, tuple[int, str, str]] = {}
    for package, n, workspace, target, name in tags:
        lifecycle = "DeletionProposed" if (package, n) in deletion else "Published"
        found.append(world.read_revision(package, workspace, lifecycle, n, target, name))
        if (n, name) > latest.get(package, (0, "", ""))[:2]:
            latest[package] = (n, name, target)
    head = world.refs.get(HEAD)
    for package, tree in (world.trees[head] if head else {}).items():
        commit = head
        approved = latest.get(package)
        if approved is not None and world.tree_at(approved[2], package) == tree:
            commit = approved[2]
        found.append(world.read_revision(package, BRANCH, "Published", -1, commit, HEAD))
    return {_row(r) for r in found if r is not None}


def _row(r: GitRevision) -> tuple[str, str, str, int, str, str]:
    return (r.package, r.workspace, r.lifecycle, r.revision, r.commit, r.ref)


PACKAGES = ["a", "b", "c", "nested/d"]
WORKSPACES = ["ws1", "ws2", "v1", "main"]


def _random_move(world: World, rng: random.Random) -> set[str]:
    """One push's worth of ref changes; returns the refs it touched."""
    touched: set[str] = set()
    for _ in range(rng.randint(1, 3)):
        package = rng.choice(PACKAGES)
        head = world.refs.get(HEAD)
        trees = dict(world.trees[head]) if head else {}
        choice = rng.random()
        if choice < 0.25:  # the branch moves: a package changes, appears or goes
            if rng.random() < 0.2:
                trees.pop(package, None)
            else:
                trees[package] = rng.choice(["t1", "t2", "t3", "bad1"])
            world.refs[HEAD] = world.commit(trees)
            touched.add(HEAD)
        elif choice < 0.5:  # a draft or proposal appears, moves or goes
            kind = rng.choice(["drafts", "proposed"])
            ref = f"refs/heads/{kind}/{package.replace('/', '-')}/{rng.choice(WORKSPACES)}"
            if ref in world.refs and rng.random() < 0.4:
                del world.refs[ref]
            else:
                tree = rng.choice(["t1", "t4", "bad2"])
                world.refs[ref] = world.commit({package.replace("/", "-"): tree})
            touched.add(ref)
        elif choice < 0.8:  # a tag appears, moves or goes
            name = package.replace("/", "-")
            ref = f"refs/tags/{name}/{rng.randint(1, 4)}"
            if ref in world.refs and rng.random() < 0.3:
                del world.refs[ref]
            else:
                tree = rng.choice(["t1", "t2", "bad3"])
                workspace = rng.choice([*WORKSPACES, ""])
                world.refs[ref] = world.commit({name: tree}, workspace)
            touched.add(ref)
        else:  # a deletion proposal appears or goes
            ref = f"refs/heads/deleting/{package.replace('/', '-')}/{rng.randint(1, 4)}"
            if ref in world.refs:
                del world.refs[ref]
            else:
                world.refs[ref] = world.commit({})
            touched.add(ref)
        if rng.random() < 0.1:  # a ref that names no revision
            other = f"refs/heads/other{rng.randint(1, 3)}"
            world.refs[other] = world.commit({})
            touched.add(other)
    return touched


@pytest.mark.parametrize("seed", range(40))
def test_incremental_listing_matches_a_walk_over_every_ref(seed: int) -> None:
    rng = random.Random(seed)
    world = World()
    world.refs[HEAD] = world.commit({})
    listed = listing.Listing(BRANCH)
    listed.update(world.refs, None, world)
    assert listed.take_changes() is None  # the first look: rebuild from revisions()
    mirrored = {id(r): r for r in listed.revisions()}
    for step in range(60):
        touched = _random_move(world, rng)
        # Lanai's own pushes name their refs; a fetch does not (every ref is compared).
        listed.update(world.refs, touched if rng.random() < 0.7 else None, world)
        shown = listed.revisions()
        assert {_row(r) for r in shown} == walk(world), f"step {step}"
        assert len(shown) == len({_row(r) for r in shown})
        changes = listed.take_changes()
        assert changes is not None
        added, removed = changes
        for revision in removed:
            del mirrored[id(revision)]
        mirrored.update({id(r): r for r in added})
        assert set(mirrored) == {id(r) for r in shown}, "the changes rebuild the listing"


def test_lookups_by_package_and_workspace() -> None:
    world = World()
    world.refs[HEAD] = world.commit({"a": "t1"})
    world.refs["refs/tags/a/1"] = world.commit({"a": "t1"}, "ws1")
    world.refs["refs/tags/a/3"] = world.commit({"a": "bad"}, "ws3")
    world.refs["refs/heads/drafts/a/ws2"] = world.commit({"a": "t2"})
    listed = listing.Listing(BRANCH)
    listed.update(world.refs, None, world)
    assert [r.revision for r in listed.named("a", "ws1")] == [1]
    assert listed.named("a", "ws3") == []  # unreadable: not listed, as in a walk
    assert listed.highest_tag("a") == 3  # yet its number is taken
    assert listed.highest_tag("b") == 0
    draft = listed.draft("refs/heads/drafts/a/ws2")
    assert draft is not None
    assert draft.lifecycle == "Draft"
    branch = listed.branch_revision("a")  # the branch differs from the latest tag's
    assert branch is not None
    assert branch.commit == world.refs[HEAD]
    del world.refs["refs/tags/a/3"]
    listed.update(world.refs, {"refs/tags/a/3"}, world)
    branch = listed.branch_revision("a")  # the latest tag holds what the branch holds
    assert branch is not None
    assert branch.commit == world.refs["refs/tags/a/1"]


def test_an_unmoved_ref_is_not_read_again() -> None:
    world = World()
    world.refs[HEAD] = world.commit({f"p{i}": "t" for i in range(200)})
    for i in range(200):
        world.refs[f"refs/tags/p{i}/1"] = world.commit({f"p{i}": "t"}, "v1")
    listed = listing.Listing(BRANCH)
    listed.update(world.refs, None, world)
    before = {id(r) for r in listed.revisions()}
    world.reads = 0
    world.refs["refs/heads/drafts/p7/new"] = world.commit({"p7": "t9"})
    listed.update(world.refs, {"refs/heads/drafts/p7/new"}, world)
    assert world.reads == 1
    assert before <= {id(r) for r in listed.revisions()}  # the same objects, kept
    world.reads = 0
    listed.update(world.refs, None, world)  # a fetch that found nothing new
    assert world.reads == 0
