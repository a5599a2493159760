"""apply-setters behaves as the catalog's: which fields a setter config touches, values
read back from the current field, lists, results (with credentials redacted)."""

from __future__ import annotations

import pytest

from lanai.functions.builtin import apply_setters
from tests.unit.functions import fncase

RESOURCES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
  annotations:
    internal.config.kubernetes.io/path: resources.yaml
spec:
  replicas: 4 # kpt-set: ${nginx-replicas}
  template:
    spec:
      containers:
        - name: nginx
          image: "nginx:1.16.1" # kpt-set: nginx:${tag}
---
apiVersion: v1
kind: MyKind
metadata:
  name: foo
  annotations:
    internal.config.kubernetes.io/path: resources.yaml
    internal.config.kubernetes.io/index: '1'
environments: # kpt-set: ${env}
  - dev
  - stage
"""

SETTERS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: setters
data:
  env: |-
    - prod
    - dev
  nginx-replicas: "3"
  tag: 1.16.2
"""


def config(**data: str) -> str:
    quoted = {k: "'" + v.replace("'", "''") + "'" for k, v in data.items()}
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata:\n" + "".join(
        f"  {k}: {v}\n" for k, v in quoted.items()
    )


def test_catalog_simple_example() -> None:
    outcome = fncase.run(apply_setters.run, RESOURCES, SETTERS)
    assert "  replicas: 3 # kpt-set: ${nginx-replicas}\n" in outcome.items
    assert '          image: "nginx:1.16.2" # kpt-set: nginx:${tag}\n' in outcome.items
    assert "environments: # kpt-set: ${env}\n  - prod\n  - dev\n" in outcome.items
    assert outcome.results == [
        {
            "message": 'set field value to "3"',
            "severity": "info",
            "resourceRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "my-nginx"},
            "field": {"path": "spec.replicas", "currentValue": "4", "proposedValue": "3"},
            "file": {"path": "resources.yaml"},
        },
        {
            "message": 'set field value to "nginx:1.16.2"',
            "severity": "info",
            "resourceRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "my-nginx"},
            "field": {
                "path": "spec.template.spec.containers[0].image",
                "currentValue": "nginx:1.16.1",
                "proposedValue": "nginx:1.16.2",
            },
            "file": {"path": "resources.yaml"},
        },
        {
            "message": 'set field value to "- prod\\n- dev"',
            "severity": "info",
            "resourceRef": {"apiVersion": "v1", "kind": "MyKind", "name": "foo"},
            "field": {
                "path": "environments",
                "currentValue": "- dev\n- stage\n",
                "proposedValue": "- prod\n- dev",
            },
            "file": {"path": "resources.yaml"},
        },
    ]


@pytest.mark.parametrize(
    ("field", "values", "expected"),
    [
        ("name: a # kpt-set: ${p}-${q}", {"p": "x", "q": "y"}, "name: x-y # kpt-set: ${p}-${q}"),
        ("name: a # kpt-set: prefix-${p}", {"p": "1"}, "name: prefix-1 # kpt-set: prefix-${p}"),
        ("replicas: 1 # kpt-set: ${p}", {"p": "5"}, "replicas: 5 # kpt-set: ${p}"),
        ("enabled: false # kpt-set: ${p}", {"p": "true"}, "enabled: true # kpt-set: ${p}"),
        ("name: 'a' # kpt-set: ${p}", {"p": "007"}, "name: '007' # kpt-set: ${p}"),
        ("name: a # kpt-set: ${p}", {"p": ""}, 'name: "" # kpt-set: ${p}'),
        ("name: a # not a setter ${p}", {"p": "x"}, "name: a # not a setter ${p}"),
        # The other setter of the pattern is read back from the current value.
        (
            "host: app.dev.example.com # kpt-set: app.${stage}.${domain}.com",
            {"stage": "prod"},
            "host: app.prod.example.com # kpt-set: app.${stage}.${domain}.com",
        ),
        # A pattern naming no setter the config gives is left alone, without error.
        ("name: a # kpt-set: ${other}", {"p": "x"}, "name: a # kpt-set: ${other}"),
    ],
)
def test_scalar_substitution(field: str, values: dict[str, str], expected: str) -> None:
    outcome = fncase.run(apply_setters.run, f"apiVersion: v1\nkind: K\n{field}\n", config(**values))
    assert outcome.error is None
    assert outcome.items == f"apiVersion: v1\nkind: K\n{expected}\n"


def test_a_setter_that_cannot_be_derived_must_be_given() -> None:
    outcome = fncase.run(
        apply_setters.run,
        "apiVersion: v1\nkind: K\nname: a # kpt-set: ${p}-${q}\n",
        config(p="x"),
    )
    assert outcome.error is not None
    assert outcome.stderr == "values for setters [${q}] must be provided"
    assert outcome.results == [
        {
            "message": "failed to apply setters: values for setters [${q}] must be provided",
            "severity": "error",
        }
    ]


def test_lists_need_a_whole_setter_and_a_yaml_list() -> None:
    partial = fncase.run(
        apply_setters.run,
        "apiVersion: v1\nkind: K\nenvs: # kpt-set: x-${env}\n- a\n",
        config(env="- b"),
    )
    assert partial.stderr == 'invalid setter pattern for array node: "x-${env}"'
    scalar = fncase.run(
        apply_setters.run,
        "apiVersion: v1\nkind: K\nenvs: # kpt-set: ${env}\n- a\n",
        config(env="b"),
    )
    assert scalar.stderr == 'input to array setter must be an array of values, but found "b"'


def test_an_empty_value_empties_the_list_in_flow_style() -> None:
    outcome = fncase.run(
        apply_setters.run, "apiVersion: v1\nkind: K\nenvs: # kpt-set: ${env}\n- a\n", config(env="")
    )
    assert outcome.items == "apiVersion: v1\nkind: K\nenvs: [] # kpt-set: ${env}\n"


def test_no_setter_comments_reports_no_matches() -> None:
    outcome = fncase.run(
        apply_setters.run, "apiVersion: v1\nkind: K\nmetadata: {name: a}\n", config(env="x")
    )
    assert outcome.results == [{"message": "no matches for input setter(s)"}]


def test_sequence_element_setter() -> None:
    outcome = fncase.run(
        apply_setters.run,
        "apiVersion: v1\nkind: K\nargs:\n- --v=1 # kpt-set: --v=${v}\n",
        config(v="4"),
    )
    assert outcome.items.endswith("args:\n- --v=4 # kpt-set: --v=${v}\n")


@pytest.mark.parametrize(
    ("value", "path", "setter", "shown"),
    [
        ("plain", "spec.image", "${image}", "plain"),
        ("hunter2", "spec.password", "${pw}", "<redacted>"),
        ("abc", "data.x", "${apiToken}", "<redacted>"),
        ("ghp_" + "a" * 36, "data.x", "${x}", "<redacted>"),
        ("x" * 130, "data.x", "${x}", "x" * 128 + "... (truncated 2 chars)"),
    ],
)
def test_results_do_not_show_credentials(value: str, path: str, setter: str, shown: str) -> None:
    assert apply_setters.sanitize(value, path, setter) == shown
