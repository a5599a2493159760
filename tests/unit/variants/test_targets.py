"""A PackageVariantSet's targets: Porch's validatePackageVariantSet cases, label
selectors, unrolling into (repository, package) pairs, and the names of the variants."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.variants import naming, targets
from lanai.variants.targets import ObjectView

UP = {"repo": "b", "package": "foo", "revision": 1}
T = "spec.targets[0].template"


@pytest.mark.parametrize(
    ("spec", "problems"),
    [
        (
            {},
            ["spec.upstream is a required field", "must specify at least one item in spec.targets"],
        ),
        (
            {"upstream": {}, "targets": [{"repositories": [{"name": "r"}]}]},
            ["spec.upstream.package is a required field", "spec.upstream.repo is a required field"],
        ),
        (
            {"upstream": UP, "targets": [{}]},
            [
                "spec.targets[0] must specify one of `repositories`, `repositorySelector`, "
                "or `objectSelector`"
            ],
        ),
        (
            {
                "upstream": UP,
                "targets": [{"repositories": [{"name": "r"}], "repositorySelector": {}}],
            },
            [
                "spec.targets[0] must specify one of `repositories`, `repositorySelector`, "
                "or `objectSelector`"
            ],
        ),
        (
            {"upstream": UP, "targets": [{"repositories": []}]},
            ["spec.targets[0].repositories must not be an empty list if specified"],
        ),
        (
            {
                "upstream": UP,
                "targets": [{"repositories": [{"name": ""}, {"name": "r", "packageNames": [""]}]}],
            },
            [
                "spec.targets[0].repositories[0].name cannot be empty",
                "spec.targets[0].repositories[1].packageNames[0] cannot be empty",
            ],
        ),
        (
            {"upstream": UP, "targets": [{"objectSelector": {}}]},
            [
                "spec.targets[0].objectselector.apiVersion cannot be empty",
                "spec.targets[0].objectselector.kind cannot be empty",
            ],
        ),
        (
            {
                "upstream": UP,
                "targets": [
                    {"repositorySelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}
                ],
            },
            ["spec.targets[0].repositorySelector.matchExpressions[0] needs values for In"],
        ),
        (
            {
                "upstream": UP,
                "targets": [
                    {
                        "repositories": [{"name": "r"}],
                        "template": {
                            "adoptionPolicy": "x",
                            "deletionPolicy": "y",
                            "downstream": {
                                "repo": "a",
                                "repoExpr": "b",
                                "package": "c",
                                "packageExpr": "d",
                            },
                            "labelExprs": [
                                {"key": "a", "keyExpr": "b", "value": "c", "valueExpr": "d"}
                            ],
                            "injectors": [{"name": "a", "nameExpr": "b"}, {}],
                            "pipeline": {"mutators": [{"name": "a.b"}]},
                        },
                    }
                ],
            },
            [
                'spec.targets[0].template.adoptionPolicy can only be "adoptNone" or '
                '"adoptExisting"',
                'spec.targets[0].template.deletionPolicy can only be "orphan" or "delete"',
                "spec.targets[0].template may specify only one of `downstream.repo` and "
                "`downstream.repoExpr`",
                "spec.targets[0].template may specify only one of `downstream.package` and "
                "`downstream.packageExpr`",
                f"{T}.labelExprs[0] may specify only one of `key` and `keyExpr`",
                f"{T}.labelExprs[0] may specify only one of `value` and `valueExpr`",
                f"{T}.injectors[0] may specify only one of `name` and `nameExpr`",
                "spec.targets[0].template.injectors[1] must specify either `name` or `nameExpr`",
                "spec.targets[0].template.pipeline.mutators[0].image must not be empty",
                "spec.targets[0].template.pipeline.mutators[0].name must not contain '.'",
            ],
        ),
        (
            {
                "upstream": {"repo": "b", "package": "foo"},
                "targets": [{"repositories": [{"name": "r"}]}],
            },
            [],
        ),
        (
            {
                "upstream": {**UP, "revision": "latest"},
                "targets": [{"repositories": [{"name": "r"}]}],
            },
            ["spec.upstream.revision must be a number such as 3 or v3, not 'latest'"],
        ),
    ],
)
def test_validation_cases(spec: dict[str, Any], problems: list[str]) -> None:
    assert targets.problems(spec) == problems


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ({}, {}, True),
        ({"matchLabels": {"env": "prod"}}, {"env": "prod", "x": "y"}, True),
        ({"matchLabels": {"env": "prod"}}, {"env": "dev"}, False),
        (
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]},
            {"env": "b"},
            True,
        ),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        (
            {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]},
            {"env": "a"},
            False,
        ),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": ""}, True),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": ""}, False),
    ],
)
def test_label_selectors(selector: dict[str, Any], labels: dict[str, str], selected: bool) -> None:
    assert targets.selector_matches(selector, labels) is selected


def test_selectors_as_query_parameters() -> None:
    selector = {
        "matchLabels": {"tier": "edge", "env": "prod"},
        "matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["b", "a"]},
            {"key": "old", "operator": "NotIn", "values": ["x"]},
            {"key": "owner", "operator": "Exists"},
            {"key": "frozen", "operator": "DoesNotExist"},
        ],
    }
    assert targets.selector_query(selector) == (
        "env=prod,tier=edge,zone in (a,b),old notin (x),owner,!frozen"
    )


def test_unrolling_lists_and_selections() -> None:
    spec = {
        "upstream": UP,
        "targets": [
            {
                "repositories": [
                    {"name": "cluster-01"},
                    {"name": "cluster-03", "packageNames": ["foo-a", "foo-b"]},
                ]
            },
            {
                "repositorySelector": {"matchLabels": {"env": "prod"}},
                "template": {"labels": {"a": "b"}},
            },
        ],
    }
    selected = {1: [ObjectView("cluster-02", labels={"env": "prod"})]}
    found = targets.unroll(spec, selected)
    assert [(t.index, t.repo_default, t.package_default) for t in found] == [
        (0, "cluster-01", "foo"),
        (0, "cluster-03", "foo-a"),
        (0, "cluster-03", "foo-b"),
        (1, "cluster-02", "foo"),
    ]
    assert found[0].variables() == {"repo": "cluster-01", "package": "foo"}
    assert found[3].variables()["labels"] == {"env": "prod"}
    assert found[3].template == {"labels": {"a": "b"}}


def test_repository_selection_kinds() -> None:
    assert targets.selects_repositories({"repositorySelector": {}})
    assert targets.selects_repositories(
        {"objectSelector": {"apiVersion": "config.porch.kpt.dev/v1alpha1", "kind": "Repository"}}
    )
    assert not targets.selects_repositories(
        {"objectSelector": {"apiVersion": "v1", "kind": "ConfigMap"}}
    )
    views = [ObjectView("a"), ObjectView("b")]
    assert targets.filter_by_name({"name": "b"}, views) == [views[1]]
    assert targets.filter_by_name({}, views) == views


@pytest.mark.parametrize(
    ("parts", "name"),
    [
        (("pvs", "repo", "pkg"), "pvs-repo-pkg"),
        (
            ("a" * 40, "b" * 20, "c" * 10),
            "a" * 40 + "-" + "b" * 13 + "-07ae5d19",
        ),  # Porch: 54 characters, a dash, 8 of a sha1
        (("pvs", "repo", "net/basens"), "pvs-repo-net-basens-cbe2701b"),
    ],
)
def test_variant_names(parts: tuple[str, str, str], name: str) -> None:
    assert naming.variant_name(*parts) == name
    assert naming.is_valid_name(name)


def test_variant_names_are_always_valid_and_distinct() -> None:
    made = {naming.variant_name("Set", r, p) for r in ("r.", "-r", "R") for p in ("a/b", ".x", "y")}
    assert len(made) == 9
    assert all(naming.is_valid_name(n) for n in made)
