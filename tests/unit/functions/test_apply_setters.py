from __future__ import annotations

import re

import pytest

from lanai.functions.builtin import apply_setters
from lanai.kpt import fnapi
from tests.unit.functions import yamlkit

RESOURCES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
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


def test_catalog_simple_example() -> None:
    rl = yamlkit.resource_list(RESOURCES, SETTERS)
    apply_setters.run(rl)
    out = yamlkit.dump_items(rl)
    assert "replicas: 3 # kpt-set: ${nginx-replicas}" in out
    assert re.search(r'image: "nginx:1.16.2" +# kpt-set: nginx:\$\{tag\}', out)
    assert "environments: # kpt-set: ${env}\n- prod\n- dev\n" in out
    assert rl["items"][0]["spec"]["replicas"] == 3
    paths = [r["field"]["path"] for r in rl["results"]]
    assert paths == ["spec.replicas", "spec.template.spec.containers[0].image", "environments"]


@pytest.mark.parametrize(
    ("field", "values", "expected"),
    [
        ("name: a # kpt-set: ${p}-${q}", {"p": "x", "q": "y"}, "x-y"),
        ("name: a # kpt-set: prefix-${p}", {"p": "1"}, "prefix-1"),
        ("replicas: 1 # kpt-set: ${p}", {"p": "5"}, 5),
        ("enabled: false # kpt-set: ${p}", {"p": "true"}, True),
        ("name: a # kpt-set: ${p}", {"p": "007"}, "007"),
        ("name: a # not a setter ${p}", {"p": "x"}, "a"),
    ],
)
def test_scalar_substitution(field: str, values: dict[str, str], expected: object) -> None:
    config = yamlkit.load("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {}")
    for key, value in values.items():
        config["data"][key] = value
    rl = yamlkit.resource_list(f"apiVersion: v1\nkind: K\n{field}\n")
    rl["functionConfig"] = config
    apply_setters.run(rl)
    key = field.split(":", 1)[0]
    assert rl["items"][0][key] == expected


def test_missing_setter_value_is_an_error() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: the-map # kpt-set: ${missing}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {other: x}",
    )
    with pytest.raises(fnapi.FunctionError, match="missing") as caught:
        apply_setters.run(rl)
    assert caught.value.results[0]["field"]["path"] == "metadata.name"
    assert caught.value.results[0]["resourceRef"]["name"] == "the-map"


def test_partial_pattern_on_a_list_is_an_error() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: v1\nkind: K\nmetadata: {name: a}\nenvs: # kpt-set: x-${env}\n  - a\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {env: '- b'}",
    )
    with pytest.raises(fnapi.FunctionError, match="whole"):
        apply_setters.run(rl)


def test_no_setter_comments_reports_no_matches() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: v1\nkind: K\nmetadata: {name: a}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {env: x}",
    )
    apply_setters.run(rl)
    assert yamlkit.messages(rl) == ["no matches for input setter(s)"]


def test_sequence_element_setter() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: v1\nkind: K\nmetadata: {name: a}\nargs:\n  - --v=1 # kpt-set: --v=${v}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {v: '4'}",
    )
    apply_setters.run(rl)
    assert re.search(r"- --v=4 +# kpt-set: --v=\$\{v\}", yamlkit.dump_items(rl))
