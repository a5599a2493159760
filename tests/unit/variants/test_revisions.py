"""Which revisions a PackageVariant follows, owns, adopts, lets go and upgrades: Porch's
getUpstreamPR, newWorkspaceName, getDownstreamPRs and isUpToDate cases."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.variants import revisions, spec
from lanai.variants.revisions import Revision

UID = "pv-uid"


def rev(name: str, **kw: Any) -> Revision:
    kw.setdefault("repository", "deployments")
    kw.setdefault("package", "bar")
    kw.setdefault("workspace", name)
    return Revision(name=name, **kw)


def variant(**kw: Any) -> spec.VariantSpec:
    return spec.VariantSpec(
        upstream=spec.Upstream("blueprints", "foo"),
        downstream=spec.Downstream("deployments", "bar"),
        **kw,
    )


UPSTREAMS = [
    rev(
        "b.foo.main",
        repository="blueprints",
        package="foo",
        workspace="main",
        lifecycle="Published",
        revision=-1,
    ),
    rev(
        "b.foo.v1",
        repository="blueprints",
        package="foo",
        workspace="v1",
        lifecycle="Published",
        revision=1,
    ),
    rev(
        "b.foo.v2",
        repository="blueprints",
        package="foo",
        workspace="v2",
        lifecycle="Published",
        revision=2,
    ),
    rev(
        "b.foo.v3",
        repository="blueprints",
        package="foo",
        workspace="v3",
        lifecycle="DeletionProposed",
        revision=3,
    ),
    rev("b.foo.ws", repository="blueprints", package="foo", workspace="ws", lifecycle="Draft"),
    rev(
        "b.other.v9",
        repository="blueprints",
        package="other",
        workspace="v9",
        lifecycle="Published",
        revision=9,
    ),
]


@pytest.mark.parametrize(
    ("upstream", "found"),
    [
        (spec.Upstream("blueprints", "foo"), "b.foo.v2"),  # latest Published, never -1
        (spec.Upstream("blueprints", "foo", 1), "b.foo.v1"),
        (spec.Upstream("blueprints", "foo", 3), "b.foo.v3"),
        (spec.Upstream("blueprints", "foo", 4), None),
        (spec.Upstream("blueprints", "foo", None, "ws"), "b.foo.ws"),
        (spec.Upstream("blueprints", "foo", None, "nope"), None),
        (spec.Upstream("blueprints", "missing"), None),
        (spec.Upstream("elsewhere", "foo", 1), None),
    ],
)
def test_the_upstream_to_follow(upstream: spec.Upstream, found: str | None) -> None:
    got = revisions.find_upstream(upstream, UPSTREAMS)
    assert (got.name if got else None) == found


def test_the_placeholder_is_never_an_upstream() -> None:
    only_main = [UPSTREAMS[0]]
    assert revisions.find_upstream(spec.Upstream("blueprints", "foo"), only_main) is None
    workspace = spec.Upstream("blueprints", "foo", None, "main")
    assert revisions.find_upstream(workspace, only_main) is None


@pytest.mark.parametrize(
    ("workspaces", "expected"),
    [
        ([], "packagevariant-1"),
        (["packagevariant-1", "packagevariant-2"], "packagevariant-3"),
        (["packagevariant-1", "foo"], "packagevariant-2"),
        (["foo-1", "foo-2"], "packagevariant-1"),
        (["packagevariant-9", "packagevariant-10"], "packagevariant-11"),
    ],
)
def test_new_workspace_names(workspaces: list[str], expected: str) -> None:
    found = [rev(f"r{n}", workspace=w) for n, w in enumerate(workspaces)]
    assert revisions.new_workspace(found, "deployments", "bar") == expected


def test_new_workspace_counts_only_the_same_package() -> None:
    found = [
        rev("a", workspace="packagevariant-1"),
        rev("b", workspace="packagevariant-2", package="other"),
    ]
    assert revisions.new_workspace(found, "deployments", "bar") == "packagevariant-2"


def names(found: tuple[Revision, ...]) -> list[str]:
    return [r.name for r in found]


def test_no_revisions_no_downstreams() -> None:
    assert revisions.select(UID, variant(), []) == revisions.Selection()


def test_owned_drafts_win_over_published() -> None:
    found = [
        rev("pub", lifecycle="Published", revision=1, owners=(UID,)),
        rev("d2", lifecycle="Draft", owners=(UID,)),
        rev("d3", lifecycle="Proposed", owners=(UID,)),
        rev("foreign", lifecycle="Draft"),
    ]
    assert names(revisions.select(UID, variant(), found).targets) == ["d2", "d3"]


def test_the_latest_owned_published_revision_when_no_drafts() -> None:
    found = [
        rev("p2", lifecycle="Published", revision=2, owners=(UID,)),
        rev("p1", lifecycle="Published", revision=1, owners=(UID,)),
        rev("p3", lifecycle="Published", revision=3, owners=("other",)),
    ]
    assert names(revisions.select(UID, variant(), found).targets) == ["p2"]


def test_owned_revisions_of_another_package_are_strays() -> None:
    found = [
        rev("pub", lifecycle="Published", revision=1, owners=(UID,)),
        rev("d2", lifecycle="Draft", package="foo", owners=(UID,)),
        rev("d3", lifecycle="Draft", package="foo", owners=(UID,)),
    ]
    selected = revisions.select(UID, variant(), found)
    assert names(selected.targets) == ["pub"]
    assert names(selected.strays) == ["d2", "d3"]


def test_adoption_takes_matching_revisions_unless_someone_else_controls_them() -> None:
    found = [
        rev("mine", lifecycle="Draft", owners=(UID,)),
        rev("free", lifecycle="Draft"),
        rev("held", lifecycle="Draft", controlled_by_other=True),
        rev("elsewhere", lifecycle="Draft", package="foo"),
    ]
    none = revisions.select(UID, variant(), found)
    assert (names(none.targets), names(none.adopt)) == (["mine"], [])
    existing = revisions.select(UID, variant(adoption=spec.ADOPT_EXISTING), found)
    assert names(existing.targets) == ["free", "mine"]
    assert names(existing.adopt) == ["free"]
    assert names(existing.skipped) == ["held"]


def test_deleting_and_placeholder_revisions_are_ignored() -> None:
    found = [
        rev("going", lifecycle="Draft", owners=(UID,), deleting=True),
        rev("main", lifecycle="Published", revision=-1, owners=(UID,)),
    ]
    assert revisions.select(UID, variant(adoption=spec.ADOPT_EXISTING), found) == (
        revisions.Selection()
    )


UP_V2 = rev(
    "b.foo.v2", lifecycle="Published", revision=2, self_lock=("http://git/b.git", "foo", "foo/v2")
)


@pytest.mark.parametrize(
    ("lock", "current"),
    [
        (("", "", ""), True),  # nothing recorded (made by hand): Porch leaves it alone
        (("http://git/b.git", "foo", "foo/v2"), True),
        (("http://git/b.git", "foo", "foo/v1"), False),
        (("http://git/b.git", "foo", "drafts/foo/ws"), False),
        (("http://git/b.git", "other", "foo/v2"), False),
    ],
)
def test_up_to_date_compares_the_upstream_lock(lock: tuple[str, str, str], current: bool) -> None:
    assert revisions.up_to_date(rev("d", upstream_lock=lock), UP_V2) is current


def test_the_old_upstream_of_an_upgrade_comes_from_the_lock() -> None:
    downstream = rev("d", lifecycle="Published", revision=1, upstream_lock=("r", "foo", "foo/v1"))
    old = revisions.old_upstream(downstream, spec.Upstream("blueprints", "foo"), UPSTREAMS)
    assert old is not None
    assert old.name == "b.foo.v1"
    branch = rev("d", upstream_lock=("r", "foo", "drafts/foo/ws"))
    assert revisions.old_upstream(branch, spec.Upstream("blueprints", "foo"), UPSTREAMS) is None
    assert revisions.revision_of_ref("a/b/v12") == 12
    assert revisions.revision_of_ref("main") is None
