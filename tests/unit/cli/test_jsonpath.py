"""kubectl's JSONPath subset that ``get -o jsonpath=`` and ``-o custom-columns=`` use."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.cli import jsonpath, table

REPO: dict[str, Any] = {
    "metadata": {"name": "blueprints"},
    "spec": {"git": {"repo": "http://x/b.git", "branch": "main"}, "deployment": False},
    "status": {
        "conditions": [
            {"type": "Synced", "status": "False"},
            {"type": "Ready", "status": "True"},
        ]
    },
}


@pytest.mark.parametrize(
    ("template", "printed"),
    [
        ("{.metadata.name}", "blueprints"),
        (".metadata.name", "blueprints"),
        ("name={.metadata.name} branch={.spec.git.branch}", "name=blueprints branch=main"),
        ("{.status.conditions[?(@.type=='Ready')].status}", "True"),
        ('{.status.conditions[?(@.type=="Synced")].status}', "False"),
        ("{.status.conditions[0].type}", "Synced"),
        ("{.status.conditions[-1].type}", "Ready"),
        ("{.status.conditions[*].type}", "Synced Ready"),
        ("{.spec.deployment}", "false"),
        ("{.spec.missing}", ""),
        ("{.spec.git}", '{"repo":"http://x/b.git","branch":"main"}'),
    ],
)
def test_render(template: str, printed: str) -> None:
    assert jsonpath.render(REPO, template) == printed


def test_columns_print_none_for_nothing_and_split_outside_filters() -> None:
    spec = "NAME:.metadata.name,READY:.status.conditions[?(@.type=='Ready')].status,X:.spec.x"
    pairs = jsonpath.columns(spec)
    assert [header for header, _ in pairs] == ["NAME", "READY", "X"]
    assert [jsonpath.column(REPO, path) for _, path in pairs] == ["blueprints", "True", "<none>"]


@pytest.mark.parametrize(
    "value",
    ["custom-columns=NAME", "custom-columns=:.a", "jsonpath={..name}", "jsonpath={.a[1:2]}"],
)
def test_unsupported_templates_are_refused(value: str) -> None:
    with pytest.raises(jsonpath.Unsupported, match=r"HEADER:JSONPATH|unsupported JSONPath"):
        table.output_format(value)


def test_format_names_pass() -> None:
    assert table.output_format("yaml") == "yaml"
    with pytest.raises(ValueError, match="wide"):
        table.output_format("wide")
