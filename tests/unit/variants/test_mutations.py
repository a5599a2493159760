"""The variant's edits of its downstream: Porch's ensurePackageContext and
ensureKRMFunctions cases (and function naming), checked on data and for idempotence."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.kpt import yamlio
from lanai.variants import mutations

KPTFILE = """apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: prr
  annotations:
    config.kubernetes.io/local-config: "true"
info:
  description: Example
"""
CONTEXT = """apiVersion: v1
kind: ConfigMap
metadata:
  name: kptfile.kpt.dev
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  name: example
"""


def data_of(text: str) -> Any:
    return yamlio.to_plain(yamlio.load_document(text))


@pytest.mark.parametrize(
    ("initial", "data", "remove", "expected"),
    [
        ({}, {}, [], {}),
        ({}, {"foo": "bar"}, [], {"foo": "bar"}),
        ({}, {"foo": "bar", "foobar": "barfoo"}, [], {"foo": "bar", "foobar": "barfoo"}),
        ({"hello": "there"}, {"foo": "bar"}, [], {"hello": "there", "foo": "bar"}),
        ({"foo": "there"}, {"foo": "bar"}, [], {"foo": "bar"}),
        ({"hello": "there"}, {}, ["hello"], {}),
        ({"hello": "there", "foo": "bar"}, {}, ["hello"], {"foo": "bar"}),
        (
            {"hello": "there", "foo": "bar"},
            {"foobar": "barfoo", "there": "hello"},
            ["hello"],
            {"foo": "bar", "foobar": "barfoo", "there": "hello"},
        ),
    ],
)
def test_package_context_cases(
    initial: dict[str, str], data: dict[str, str], remove: list[str], expected: dict[str, str]
) -> None:
    context = CONTEXT + "".join(f"  {k}: {v}\n" for k, v in initial.items())
    files = {"Kptfile": KPTFILE, "package-context.yaml": context}
    result = mutations.package_context(files, data, remove)
    assert data_of(result["package-context.yaml"])["data"] == {"name": "example", **expected}
    # existing keys keep their place, new ones follow
    assert list(data_of(result["package-context.yaml"])["data"]) == ["name", *expected]
    again = mutations.package_context(result, data, remove)
    assert again == result


def test_package_context_keeps_the_file_exactly_when_nothing_changes() -> None:
    context = CONTEXT.replace("name: example", "name: example   # keep me") + "  foo: bar\n"
    files = {"package-context.yaml": context}
    assert mutations.package_context(files, {"foo": "bar"}, ["absent"]) == files


def test_package_context_values_stay_strings() -> None:
    files = {"package-context.yaml": CONTEXT}
    result = mutations.package_context(files, {"replicas": "3", "enabled": "true"}, [])
    assert data_of(result["package-context.yaml"])["data"]["replicas"] == "3"
    assert data_of(result["package-context.yaml"])["data"]["enabled"] == "true"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "package-context.yaml not found in the downstream package: Lanai writes it"),
        ({"package-context.yaml": "kind: Secret\nmetadata: {name: x}\n"}, "does not hold"),
        (
            {"package-context.yaml": CONTEXT.replace("data:\n  name: example\n", "data: [1]\n")},
            "is not a map",
        ),
    ],
)
def test_package_context_refusals(files: dict[str, str], message: str) -> None:
    with pytest.raises(mutations.MutationError, match=message):
        mutations.package_context(files, {"a": "b"}, [])


def kptfile_with(pipeline: str) -> dict[str, str]:
    return {"Kptfile": KPTFILE + (f"pipeline:\n{pipeline}" if pipeline else "")}


def steps(files: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    found = data_of(files["Kptfile"]).get("pipeline") or {}
    return {k: [(f.get("name", ""), f.get("image", "")) for f in v] for k, v in found.items()}


SET_LABELS = "  - image: set-labels:v0.1\n    name: set-labels\n    configMap:\n      app: foo\n"
SET_ANNOTATIONS = "  - image: set-annotations:v0.1\n    name: set-annotations\n"


@pytest.mark.parametrize(
    ("initial", "mutators", "validators", "expected"),
    [
        (
            "  mutators:\n" + SET_LABELS + SET_ANNOTATIONS,
            [
                {
                    "image": "set-namespace:v0.1",
                    "name": "set-namespace",
                    "configMap": {"namespace": "n"},
                }
            ],
            [],
            {
                "mutators": [
                    ("PackageVariant.my-pv.set-namespace.0", "set-namespace:v0.1"),
                    ("set-labels", "set-labels:v0.1"),
                    ("set-annotations", "set-annotations:v0.1"),
                ]
            },
        ),
        (
            "  mutators:\n" + SET_LABELS,
            [{"image": "ns", "name": "set-namespace"}, {"image": "format", "name": "format"}],
            [],
            {
                "mutators": [
                    ("PackageVariant.my-pv.set-namespace.0", "ns"),
                    ("PackageVariant.my-pv.format.1", "format"),
                    ("set-labels", "set-labels:v0.1"),
                ]
            },
        ),
        (
            "",
            [{"image": "ns", "name": "set-namespace"}],
            [],
            {"mutators": [("PackageVariant.my-pv.set-namespace.0", "ns")]},
        ),
        ("  mutators:\n" + SET_LABELS, [], [], {"mutators": [("set-labels", "set-labels:v0.1")]}),
        (
            "  validators:\n  - image: gk\n    name: gatekeeper\n",
            [],
            [{"image": "vn", "name": "validate-name"}],
            {"validators": [("PackageVariant.my-pv.validate-name.0", "vn"), ("gatekeeper", "gk")]},
        ),
        (
            "  validators:\n  - image: v1\n    name: val1\n"
            "  mutators:\n  - image: m1\n    name: mut1\n",
            [{"image": "m3", "name": "mut3"}],
            [{"image": "v3", "name": "val3"}],
            {
                "validators": [("PackageVariant.my-pv.val3.0", "v3"), ("val1", "v1")],
                "mutators": [("PackageVariant.my-pv.mut3.0", "m3"), ("mut1", "m1")],
            },
        ),
        ("  mutators:\n  - image: mut:v1\n    name: PackageVariant.my-pv.mut.0\n", [], [], {}),
        ("  validators:\n  - image: val:v1\n    name: PackageVariant.my-pv.val.0\n", [], [], {}),
        (
            "  validators:\n  - image: v\n    name: PackageVariant.my-pv.val.0\n"
            "  - image: v\n    name: non-pv-val\n",
            [],
            [],
            {"validators": [("non-pv-val", "v")]},
        ),
        (
            "  mutators:\n  - image: other\n    name: PackageVariant.other-pv.x.0\n",
            [{"image": "mine", "name": "x"}],
            [],
            {
                "mutators": [
                    ("PackageVariant.my-pv.x.0", "mine"),
                    ("PackageVariant.other-pv.x.0", "other"),
                ]
            },
        ),
    ],
)
def test_pipeline_cases(
    initial: str,
    mutators: list[dict[str, Any]],
    validators: list[dict[str, Any]],
    expected: dict[str, list[tuple[str, str]]],
) -> None:
    result = mutations.pipeline(kptfile_with(initial), "my-pv", mutators, validators)
    assert steps(result) == expected
    assert mutations.pipeline(result, "my-pv", mutators, validators) == result  # idempotent


def test_pipeline_keeps_comments_of_the_package_steps() -> None:
    initial = "  mutators:\n  - image: set-labels:v0.1\n    # this is a comment\n    name: l\n"
    result = mutations.pipeline(kptfile_with(initial), "my-pv", [{"image": "ns", "name": "n"}], [])
    assert "# this is a comment" in result["Kptfile"]


def test_a_step_keeps_its_config_and_gets_its_name_first() -> None:
    function = {
        "image": "ns",
        "name": "n",
        "configMap": {"namespace": "x"},
        "selectors": [{"kind": "A"}],
    }
    result = mutations.pipeline(kptfile_with(""), "pv", [function], [])
    step = data_of(result["Kptfile"])["pipeline"]["mutators"][0]
    assert list(step) == ["name", "image", "configMap", "selectors"]
    assert step["configMap"] == {"namespace": "x"}


def test_pipeline_needs_a_kptfile() -> None:
    with pytest.raises(mutations.MutationError, match="Kptfile not found"):
        mutations.pipeline({}, "pv", [], [])


@pytest.mark.parametrize(
    ("function", "variant", "position", "name"),
    [
        ("my-func", "my-pv", 3, "PackageVariant.my-pv.my-func.3"),
        ("", "my-pv", 0, "PackageVariant.my-pv..0"),
    ],
)
def test_function_names(function: str, variant: str, position: int, name: str) -> None:
    assert mutations.function_name(function, variant, position) == name


@pytest.mark.parametrize(
    ("name", "variant", "ours"),
    [
        ("PackageVariant.my-pv.my-func.0", "my-pv", True),
        (None, "my-pv", False),
        ("PackageVariant.too.many.dots.0", "too", False),
        ("PackageVariant.not-enough.dots", "not-enough", False),
        ("noprefix.my-pv.my-func.0", "my-pv", False),
        ("PackageVariant.my-pv.my-func.0", "actually-a-different-pv", False),
        ("PackageVariant.my-pv..0", "my-pv", True),
        ("PackageVariant.my-pv.my-func.str", "my-pv", False),
        # a variant name with dots (valid for an object) is still recognised
        ("PackageVariant.a.b.f.0", "a.b", True),
        ("PackageVariant.a.b.f.0", "a", False),
    ],
)
def test_variant_functions_are_recognised_by_name(name: Any, variant: str, ours: bool) -> None:
    assert mutations.is_variant_function(name, variant) is ours


def test_a_file_written_differently_with_the_same_content_is_no_change() -> None:
    """A render writes the Kptfile as kpt does (key order, its status); the variant's
    own spelling of the same content must not be sent again as an edit."""
    shown = {
        "Kptfile": "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: app\n"
        'status:\n  conditions:\n  - type: Rendered\n    status: "True"\n',
        "cm.yaml": "kind: ConfigMap\napiVersion: v1\n",
    }
    wanted = {
        "Kptfile": "kind: Kptfile\napiVersion: kpt.dev/v1\nmetadata: {name: app}\n",
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
    }
    assert mutations.changed(shown, wanted) == {"cm.yaml": wanted["cm.yaml"]}
