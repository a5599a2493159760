"""PackageVariantSet templates rendered with CEL: Porch's renderPackageVariantSpec,
evalExpr and copyAndOverlayMapExpr cases, and the bounds on user expressions."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.variants import templates
from lanai.variants.targets import ObjectView, Target

UPSTREAM_SPEC = {"repo": "up-repo", "package": "up-pkg", "revision": 2}
UPSTREAM = ObjectView(
    "p",
    "default",
    {"vendor": "bigco.com", "product": "snazzy", "version": "1.6.8"},
    {"bigco.com/team": "us-platform"},
)
REPOSITORIES = {
    "my-repo-1": ObjectView("my-repo-1", "default", {"abc": "def", "efg": "hij", "foo": "bar"}),
    "my-repo-2": ObjectView("my-repo-2", "default", {"abc": "def", "efg": "hij"}),
}
EVALUATOR = templates.Evaluator()


def render(template: dict[str, Any] | None) -> dict[str, Any]:
    target = Target(0, "my-repo-1", "p", template)
    return templates.render(UPSTREAM_SPEC, target, UPSTREAM, REPOSITORIES, EVALUATOR)


BASE = {"upstream": UPSTREAM_SPEC, "downstream": {"repo": "my-repo-1", "package": "p"}}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (None, {}),
        (
            {"downstream": {"repo": "my-repo-2"}},
            {"downstream": {"repo": "my-repo-2", "package": "p"}},
        ),
        (
            {"downstream": {"package": "new-p"}},
            {"downstream": {"repo": "my-repo-1", "package": "new-p"}},
        ),
        (
            {"adoptionPolicy": "adoptExisting", "deletionPolicy": "delete"},
            {"adoptionPolicy": "adoptExisting", "deletionPolicy": "delete"},
        ),
        (
            {"labels": {"foo": "bar", "hello": "there"}, "annotations": {"foobar": "barfoo"}},
            {"labels": {"foo": "bar", "hello": "there"}, "annotations": {"foobar": "barfoo"}},
        ),
        (
            {
                "packageContext": {
                    "data": {"foo": "bar", "hello": "there"},
                    "removeKeys": ["foobar", "barfoo"],
                }
            },
            {
                "packageContext": {
                    "data": {"foo": "bar", "hello": "there"},
                    "removeKeys": ["barfoo", "foobar"],
                }
            },
        ),
        (
            {
                "downstream": {
                    "repoExpr": "'my-repo-2'",
                    "packageExpr": "repoDefault + '-' + packageDefault",
                }
            },
            {"downstream": {"repo": "my-repo-2", "package": "my-repo-1-p"}},
        ),
        (
            {
                "downstream": {
                    "repoExpr": "'my-repo-2'",
                    "packageExpr": "repoDefault + '-' + packageDefault",
                },
                "labels": {"foo": "bar", "hello": "there"},
                "labelExprs": [
                    {"key": "foo", "valueExpr": "repoDefault"},
                    {
                        "keyExpr": "repository.labels['efg']",
                        "valueExpr": "packageDefault + '-' + repository.name",
                    },
                    {"key": "hello", "value": "goodbye"},
                ],
                "annotations": {
                    "bigco.com/sample-annotation": "some-annotation",
                    "foo.org/id": "123456",
                },
                "annotationExprs": [
                    {"key": "foo.org/id", "value": "54321"},
                    {
                        "key": "bigco.com/team",
                        "valueExpr": "upstream.annotations['bigco.com/team']",
                    },
                ],
            },
            {
                "downstream": {"repo": "my-repo-2", "package": "my-repo-1-p"},
                "labels": {"foo": "my-repo-1", "hello": "goodbye", "hij": "p-my-repo-2"},
                "annotations": {
                    "bigco.com/sample-annotation": "some-annotation",
                    "foo.org/id": "54321",
                    "bigco.com/team": "us-platform",
                },
            },
        ),
        (
            {
                "packageContext": {
                    "data": {"foo": "bar", "hello": "there"},
                    "dataExprs": [
                        {"key": "foo", "valueExpr": "upstream.name"},
                        {"keyExpr": "upstream.namespace", "valueExpr": "upstream.name"},
                        {"keyExpr": "upstream.name", "value": "foo"},
                    ],
                    "removeKeys": ["foobar", "barfoo"],
                    "removeKeyExprs": ["repository.labels['abc']"],
                }
            },
            {
                "packageContext": {
                    "data": {"foo": "p", "hello": "there", "default": "p", "p": "foo"},
                    "removeKeys": ["barfoo", "def", "foobar"],
                }
            },
        ),
        (
            {
                "injectors": [
                    {"group": "kpt.dev", "version": "v1alpha1", "kind": "Foo", "name": "bar"},
                    {
                        "group": "kpt.dev",
                        "version": "v1alpha1",
                        "kind": "Foo",
                        "nameExpr": "repository.labels['abc']",
                    },
                    {"nameExpr": "repository.name + '-test'"},
                ]
            },
            {
                "injectors": [
                    {"group": "kpt.dev", "version": "v1alpha1", "kind": "Foo", "name": "bar"},
                    {"group": "kpt.dev", "version": "v1alpha1", "kind": "Foo", "name": "def"},
                    {"name": "my-repo-1-test"},
                ]
            },
        ),
        (
            {
                "pipeline": {
                    "validators": [
                        {"image": "foo:bar", "name": "hey"},
                        {
                            "image": "foo:bar",
                            "configMap": {"k1": "v1", "k2": "v2"},
                            "configMapExprs": [
                                {"key": "k1", "valueExpr": "repository.name"},
                                {"keyExpr": "'k3'", "value": "bar"},
                            ],
                        },
                    ],
                    "mutators": [
                        {"image": "mutates", "configMapExprs": [{"key": "k1", "value": "yo"}]}
                    ],
                }
            },
            {
                "pipeline": {
                    "validators": [
                        {"image": "foo:bar", "name": "hey"},
                        {
                            "image": "foo:bar",
                            "configMap": {"k1": "my-repo-1", "k2": "v2", "k3": "bar"},
                        },
                    ],
                    "mutators": [{"image": "mutates", "configMap": {"k1": "yo"}}],
                }
            },
        ),
    ],
)
def test_porch_render_cases(template: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    assert render(template) == {**BASE, **expected}


def test_the_target_variable_of_each_kind_of_target() -> None:
    listed = Target(
        0,
        "my-repo-1",
        "my-package",
        {"downstream": {"packageExpr": "target.repo + '/' + target.package"}},
    )
    selected = Target(
        1,
        "my-repo-1",
        "p",
        {"downstream": {"packageExpr": "target.name + '-' + target.labels['foo']"}},
        ObjectView("my-repo-1", "default", {"foo": "bar"}),
    )
    assert (
        (templates.render(UPSTREAM_SPEC, listed, UPSTREAM, REPOSITORIES, EVALUATOR)["downstream"])[
            "package"
        ]
        == "my-repo-1/my-package"
    )
    assert (
        (
            templates.render(UPSTREAM_SPEC, selected, UPSTREAM, REPOSITORIES, EVALUATOR)[
                "downstream"
            ]
        )["package"]
        == "my-repo-1-bar"
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("badvar", "undeclared reference to 'badvar'"),
        ("/", "syntax error at column 1"),
        ("target.labels['no-such-label']", "no such key: no-such-label"),
        ("1 + 1", "expression returned non-string value: 2"),
        ("[1, 2].map(x, x * 2)", "the macro map() is not allowed"),
        ("['a'].exists(x, x == 'a') ? 'y' : 'n'", "the macro exists() is not allowed"),
        ("x" * 1100, "longer than 1024 characters"),
    ],
)
def test_bad_expressions_say_what_and_where(expression: str, message: str) -> None:
    template = {"downstream": {"packageExpr": expression}}
    with pytest.raises(templates.ExpressionError) as caught:
        templates.render(
            UPSTREAM_SPEC,
            Target(0, "my-repo-1", "p", template, ObjectView("my-repo-1", labels={"foo": "bar"})),
            UPSTREAM,
            REPOSITORIES,
            EVALUATOR,
        )
    assert message in str(caught.value)
    assert str(caught.value).startswith("spec.targets[0].template.downstream.packageExpr")


def test_a_missing_downstream_repository_is_a_template_error() -> None:
    with pytest.raises(templates.TemplateError, match='repository "nowhere" could not be loaded'):
        render({"downstream": {"repo": "nowhere"}})


@pytest.mark.parametrize(
    ("static", "expressions", "expected"),
    [
        (
            {},
            [
                {"key": "foo", "value": "bar"},
                {"keyExpr": "repoDefault", "value": "barbar"},
                {"key": "bar", "valueExpr": "packageDefault"},
            ],
            {"foo": "bar", "my-repo-1": "barbar", "bar": "p"},
        ),
        (
            {"foo": "bar", "bar": "foo"},
            [{"key": "foo", "value": "new-bar"}, {"key": "foofoo", "value": "barbar"}],
            {"foo": "new-bar", "bar": "foo", "foofoo": "barbar"},
        ),
        (
            {"foo": "bar", "bar": "foo"},
            [
                {"keyExpr": "'foo'", "value": "new-bar"},
                {"key": "bar", "valueExpr": "packageDefault"},
            ],
            {"foo": "new-bar", "bar": "p"},
        ),
    ],
)
def test_expressions_overlay_static_entries(
    static: dict[str, str], expressions: list[dict[str, str]], expected: dict[str, str]
) -> None:
    assert render({"labels": static, "labelExprs": expressions})["labels"] == expected
