"""PackageVariant spec checks: Porch's validation cases (validatePackageVariant,
isValidUpstream) in our words, plus Porch's revision strings."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.variants import spec

UP = {"repo": "blueprints", "package": "foo", "revision": 1}
DOWN = {"repo": "deployments", "package": "foo"}


@pytest.mark.parametrize(
    ("given", "problems"),
    [
        ({}, ["missing required field spec.upstream", "missing required field spec.downstream"]),
        (
            {"upstream": {"revision": 1, "repo": "blueprints"}, "downstream": {"repo": "d"}},
            [
                "missing required field spec.upstream.package",
                "missing required field spec.downstream.package",
            ],
        ),
        ({"upstream": UP, "downstream": DOWN}, []),
        (
            {"upstream": UP, "downstream": DOWN, "adoptionPolicy": "x", "deletionPolicy": "y"},
            [
                'spec.adoptionPolicy field can only be "adoptNone" or "adoptExisting"',
                'spec.deletionPolicy can only be "orphan" or "delete"',
            ],
        ),
        (
            {
                "upstream": UP,
                "downstream": DOWN,
                "adoptionPolicy": "adoptExisting",
                "deletionPolicy": "orphan",
            },
            [],
        ),
        (
            {
                "upstream": UP,
                "downstream": DOWN,
                "packageContext": {"data": {"foo": "bar"}, "removeKeys": ["bar"]},
            },
            [],
        ),
        (
            {"upstream": UP, "downstream": DOWN, "packageContext": {"data": {"name": "x"}}},
            ['spec.packageContext.data must not contain the key "name"'],
        ),
        (
            {"upstream": UP, "downstream": DOWN, "packageContext": {"removeKeys": ["name"]}},
            ['spec.packageContext.removeKeys must not contain the key "name"'],
        ),
        (
            {"upstream": UP, "downstream": DOWN, "packageContext": {"data": {"package-path": "x"}}},
            ['spec.packageContext.data must not contain the key "package-path"'],
        ),
        (
            {
                "upstream": UP,
                "downstream": DOWN,
                "packageContext": {"removeKeys": ["package-path"]},
            },
            ['spec.packageContext.removeKeys must not contain the key "package-path"'],
        ),
        (
            {
                "upstream": UP,
                "downstream": DOWN,
                "injectors": [
                    {"group": "porch.kpt.dev", "kind": "Repository", "name": "foo"},
                    {"name": "bar"},
                ],
            },
            [],
        ),
        (
            {
                "upstream": UP,
                "downstream": DOWN,
                "injectors": [{"kind": "X", "name": "a"}, {"name": ""}],
            },
            ["spec.injectors[1].name must not be empty"],
        ),
    ],
)
def test_porch_validation_cases(given: dict[str, Any], problems: list[str]) -> None:
    parsed, found = spec.parse(given)
    assert found == problems
    assert (parsed is None) == bool(problems)


def test_defaults_are_adopt_none_and_delete() -> None:
    parsed, _ = spec.parse({"upstream": UP, "downstream": DOWN})
    assert parsed is not None
    assert (parsed.adoption, parsed.deletion) == ("adoptNone", "delete")
    assert not parsed.adopts
    assert not parsed.orphans


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (None, None),
        ("", None),
        (0, None),
        (-1, None),
        ("-1", None),
        (1, 1),
        (3, 3),
        ("3", 3),
        ("v3", 3),
        ("v12", 12),
    ],
)
def test_revision_numbers_and_porch_strings(value: Any, number: int | None) -> None:
    """Porch's docs write v1; its CRD says integer; -1 and absent mean the latest."""
    assert spec.parse_revision(value) == number


@pytest.mark.parametrize("value", ["latest", "v", "1.2", True, -2, "v-2"])
def test_other_revisions_are_refused_with_the_field_named(value: Any) -> None:
    with pytest.raises(spec.SpecError, match=r"spec\.upstream\.revision"):
        spec.parse_revision(value)


def test_function_names_with_dots_are_refused() -> None:
    """A dot would make Lanai's step name ambiguous (PackageVariant.<pv>.<fn>.<n>)."""
    given = {"upstream": UP, "downstream": DOWN, "pipeline": {"mutators": [{"name": "a.b"}]}}
    _parsed, problems = spec.parse(given)
    assert problems == [
        "spec.pipeline.mutators[0].name must not contain '.': Lanai names the step "
        "PackageVariant.<variant>.<name>.<position>"
    ]


def test_upstream_descriptions() -> None:
    assert "latest published" in spec.Upstream("r", "p").describe()
    assert "revision 2" in spec.Upstream("r", "p", 2).describe()
    assert "workspace ws" in spec.Upstream("r", "p", None, "ws").describe()
