"""The Go rules the builtins share: how yaml.v3 and kyaml write values, key order of
re-marshalled maps, Go's quoting and number formats, the SDK's notion of a kind."""

from __future__ import annotations

import pytest

from lanai.functions.builtin import gomarshal, kyaml, sdk
from lanai.kpt import yamlio


def written(value: object) -> str:
    return yamlio.dump_document({"k": value}).removeprefix("k: ").rstrip("\n")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("backend", "backend"),
        ("true", '"true"'),
        ("1", '"1"'),
        ("1.5", '"1.5"'),
        ("0x1F", '"0x1F"'),
        ("2024-01-02", '"2024-01-02"'),
        ("", '""'),
        ("~", '"~"'),
        ("yes", "yes"),  # YAML 1.2: a string; yaml.v3 leaves it plain
        ("a\nb\n", "|\n  a\n  b"),
    ],
)
def test_new_strings_are_quoted_only_where_yaml_v3_would(value: str, shown: str) -> None:
    assert written(sdk.go_string(value)) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [("yes", '"yes"'), ("0755", '"0755"'), ("a: b", '"a: b"'), ("plain", "plain")],
)
def test_kyaml_quotes_what_yaml_11_would_misread(value: str, shown: str) -> None:
    assert written(kyaml.new_string(value)) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [("on", '"on"'), ("1:30", '"1:30"'), ("x", "x"), ("true", '"true"')],
)
def test_marshal_quotes_yaml_11_booleans_and_base_60(value: str, shown: str) -> None:
    assert written(gomarshal.string(value)) == shown


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (0.5, "0.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (-2.5, "-2.5"),
        (float("inf"), ".inf"),
    ],
)
def test_floats_in_gos_shortest_form(value: float, text: str) -> None:
    assert gomarshal.go_float_text(value) == text


def test_a_whole_float_reads_back_as_an_int() -> None:
    assert gomarshal.number(3.0) == 3
    assert isinstance(gomarshal.number(3.0), int)


def test_marshal_sorts_keys_naturally() -> None:
    keys = ["b", "a10", "a2", "A", "_x", "image", "name", "ports", "a"]
    assert gomarshal.sorted_keys(keys) == [
        "_x",
        "A",
        "a",
        "a2",
        "a10",
        "b",
        "image",
        "name",
        "ports",
    ]


@pytest.mark.parametrize(
    ("api_version", "kind", "selector", "selected"),
    [
        ("apps/v1", "Deployment", ("", "", "Deployment"), True),
        ("extensions/v1beta1", "Deployment", ("", "", "Deployment"), True),
        ("v1", "Service", ("", "v1", "Service"), True),
        ("v2", "Service", ("", "v1", "Service"), False),
        ("v1", "StatefulSet", ("apps", "", "StatefulSet"), True),  # no group matches any
        ("", "", ("apps", "v1", "Deployment"), True),  # nothing written matches anything
    ],
)
def test_the_sdks_loose_kind_match(
    api_version: str, kind: str, selector: tuple[str, str, str], selected: bool
) -> None:
    resource = {"apiVersion": api_version, "kind": kind}
    assert sdk.is_gvk(resource, *selector) is selected


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("staging", '"staging"'), ('a"b', '"a\\"b"'), ("tab\there", '"tab\\there"')],
)
def test_go_quote(value: str, quoted: str) -> None:
    assert sdk.go_quote(value) == quoted


def test_put_drops_the_old_quoting_and_tightens_the_comment() -> None:
    doc = yamlio.load_document("labels:\n  tier: 'frontend'    # note\n")
    sdk.put(doc["labels"], "tier", "backend")
    assert yamlio.dump_document(doc) == "labels:\n  tier: backend # note\n"
