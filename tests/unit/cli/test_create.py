from __future__ import annotations

from typing import Any

import pytest

from lanai.cli import create, kube


def test_the_name_is_derived_as_the_crd_expects() -> None:
    body = create.revision_body("team", "blueprints", "network/basens", "v1", {"init": {}})
    assert body["metadata"] == {"name": "blueprints.network.basens.v1", "namespace": "team"}
    assert body["spec"]["lifecycle"] == "Draft"
    assert body["apiVersion"] == "porch.kpt.dev/v1alpha2"


@pytest.mark.parametrize(("package", "workspace"), [("Bad_Name", "v1"), ("ok", "V 1")])
def test_invalid_package_or_workspace_names_fail_before_the_server(
    package: str, workspace: str
) -> None:
    with pytest.raises(kube.Failure):
        create.revision_body("team", "r", package, workspace, {})


def test_init_source_defaults_description_and_splits_keywords() -> None:
    assert create.init_source("basens", None, [], None) == {
        "init": {"description": "basens description"}
    }
    assert create.init_source("p", "d", ["a,b", "c"], "https://x")["init"] == {
        "description": "d",
        "keywords": ["a", "b", "c"],
        "site": "https://x",
    }


@pytest.mark.parametrize("source", ["https://github.com/x/y.git", "http://h/r"])
def test_urls_clone_from_git(source: str) -> None:
    found = create.clone_source(source, ref="main", directory="pkg", secret="creds")
    assert found == {
        "cloneFrom": {
            "type": "git",
            "git": {
                "repo": source,
                "ref": "main",
                "directory": "pkg",
                "secretRef": {"name": "creds"},
            },
        }
    }


@pytest.mark.parametrize(
    "source",
    [
        "git@github.com:x/y",
        "ssh://h/r",
        "y.git",
        "file:///var/cache/lanai/abc",
        "/var/cache/lanai/abc",
        "ext::sh -c id",
        "git://h/r.git",
        "https://bob:hunter2@h/r.git",
    ],
)
def test_other_git_sources_are_refused_with_the_allowed_forms(source: str) -> None:
    with pytest.raises(kube.Failure, match="must be an https:// or http:// URL") as raised:
        create.clone_source(source, ref=None, directory=None, secret=None)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("source", "ref", "directory", "expected"),
    [
        ("https://h/b.git/basens@basens/v1", None, None, ("basens/v1", "basens")),
        ("https://h/b.git/net/basens", "main", None, ("main", "net/basens")),
        ("https://h/b.git@v2", None, "basens", ("v2", "basens")),
        ("https://h/b.git/basens@v1", "v1", "/basens", ("v1", "/basens")),
    ],
)
def test_a_package_url_carries_its_directory_and_ref(
    source: str, ref: str | None, directory: str | None, expected: tuple[str, str]
) -> None:
    git = create.clone_source(source, ref=ref, directory=directory, secret=None)["cloneFrom"]["git"]
    assert (git["repo"], git["ref"], git["directory"]) == ("https://h/b.git", *expected)


def test_a_flag_contradicting_the_package_url_is_refused() -> None:
    with pytest.raises(kube.Usage, match="--directory contradicts directory basens"):
        create.clone_source("https://h/b.git/basens@v1", ref=None, directory="x", secret=None)
    with pytest.raises(kube.Usage, match="--ref contradicts ref v1"):
        create.clone_source("https://h/b.git/basens@v1", ref="v2", directory=None, secret=None)


def test_names_clone_from_a_registered_revision() -> None:
    assert create.clone_source("blueprints.base.v1", ref=None, directory=None, secret=None) == {
        "cloneFrom": {"upstreamRef": {"name": "blueprints.base.v1"}}
    }
    with pytest.raises(kube.Usage):
        create.clone_source("blueprints.base.v1", ref="main", directory=None, secret=None)
    with pytest.raises(kube.Failure, match="OCI"):
        create.clone_source("oci://r/p", ref=None, directory=None, secret=None)


def _rev(
    name: str,
    package: str,
    revision: int = 0,
    lifecycle: str = "Published",
    source: dict[str, Any] | None = None,
    lock: dict[str, Any] | None = None,
    repository: str = "blueprints",
) -> dict[str, Any]:
    status: dict[str, Any] = {"revision": revision}
    if lock:
        status["upstreamLock"] = lock
    spec: dict[str, Any] = {
        "packageName": package,
        "repository": repository,
        "lifecycle": lifecycle,
    }
    if source:
        spec["source"] = source
    return {"metadata": {"name": name}, "spec": spec, "status": status}


BASE1 = _rev("blueprints.base.v1", "base", 1)
BASE2 = _rev("blueprints.base.v2", "base", 2)
BASE3_DRAFT = _rev("blueprints.base.v3", "base", 0, "Draft")
CLONE = _rev(
    "deploy.edge.v1",
    "edge",
    1,
    source={"cloneFrom": {"upstreamRef": {"name": BASE1["metadata"]["name"]}}},
    repository="deploy",
)
COPY = _rev(
    "deploy.edge.v2",
    "edge",
    2,
    source={"copyFrom": {"name": "deploy.edge.v1"}},
    repository="deploy",
)
UPGRADED = _rev(
    "deploy.edge.v3",
    "edge",
    3,
    source={"upgrade": {"newUpstream": {"name": "blueprints.base.v2"}}},
    repository="deploy",
)
FOUND_IN_GIT = _rev(
    "deploy.edge.main",
    "edge",
    4,
    lock={
        "type": "git",
        "git": {"repo": "https://git/bp.git", "ref": "base/v2", "directory": "base"},
    },
    repository="deploy",
)
REPOSITORIES = [
    {"metadata": {"name": "blueprints"}, "spec": {"git": {"repo": "https://git/bp.git"}}}
]
ALL = [BASE1, BASE2, BASE3_DRAFT, CLONE, COPY, UPGRADED, FOUND_IN_GIT]


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (CLONE, "blueprints.base.v1"),
        (COPY, "blueprints.base.v1"),
        (UPGRADED, "blueprints.base.v2"),
        (FOUND_IN_GIT, "blueprints.base.v2"),
        (BASE1, None),
    ],
)
def test_the_upstream_is_found_from_the_source_or_the_lock(
    current: dict[str, Any], expected: str | None
) -> None:
    assert create.upstream_of(current, ALL, REPOSITORIES) == expected


def test_a_copy_cycle_does_not_loop() -> None:
    a = _rev("r.p.a", "p", source={"copyFrom": {"name": "r.p.b"}})
    b = _rev("r.p.b", "p", source={"copyFrom": {"name": "r.p.a"}})
    assert create.upstream_of(a, [a, b]) is None


def test_the_new_upstream_is_the_latest_published_or_the_asked_revision() -> None:
    assert create.newer_upstream(BASE1, ALL, None) is BASE2
    assert create.newer_upstream(BASE1, ALL, 1) is BASE1
    assert create.newer_upstream(BASE1, ALL, 3) is None


def test_upgrade_source_names_all_three_revisions() -> None:
    assert create.upgrade_source("o", "n", "c", "copy-merge") == {
        "upgrade": {
            "oldUpstream": {"name": "o"},
            "newUpstream": {"name": "n"},
            "currentPackage": {"name": "c"},
            "strategy": "copy-merge",
        }
    }
