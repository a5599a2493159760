from __future__ import annotations

import pytest

from lanai.functions.builtin import search_replace
from lanai.kpt import fnapi
from tests.unit.functions import yamlkit

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: the-deployment
  namespace: my-space
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: a
          ports:
            - containerPort: 80
        - name: b
          ports:
            - containerPort: 8080
"""


def run(data: dict[str, str], items: str = DEPLOYMENT) -> yamlkit.CommentedMap:
    config = yamlkit.load("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {}")
    for key, value in data.items():
        config["data"][key] = value
    rl = yamlkit.resource_list(items)
    rl["functionConfig"] = config
    search_replace.run(rl)
    return rl


def test_catalog_simple_example() -> None:
    rl = run(
        {"by-path": "metadata.name", "by-value": "the-deployment", "put-value": "my-deployment"}
    )
    assert rl["items"][0]["metadata"]["name"] == "my-deployment"
    assert rl["items"][0]["metadata"]["namespace"] == "my-space"


@pytest.mark.parametrize(
    ("data", "paths"),
    [
        ({"by-value": "3"}, ["spec.replicas"]),
        ({"by-value-regex": "the-.*"}, ["metadata.name"]),
        ({"by-value-regex": "the"}, []),
        (
            {"by-path": "spec.**.containerPort", "by-value": "80"},
            ["spec.template.spec.containers[0].ports[0].containerPort"],
        ),
        (
            {"by-path": "spec.template.spec.containers[1].name"},
            ["spec.template.spec.containers[1].name"],
        ),
        (
            {"by-path": "spec.template.spec.containers[*].name"},
            [
                "spec.template.spec.containers[0].name",
                "spec.template.spec.containers[1].name",
            ],
        ),
        ({"by-path": "metadata.*"}, ["metadata.name", "metadata.namespace"]),
    ],
)
def test_search_only_reports_matches(data: dict[str, str], paths: list[str]) -> None:
    rl = run(data)
    found = [r["field"]["path"] for r in rl["results"] if r["message"] == "Matched field"]
    assert found == paths
    if not paths:
        assert yamlkit.messages(rl) == ["no matches"]


def test_regex_capture_groups_in_put_value_and_put_comment() -> None:
    items = (
        "apiVersion: v1\nkind: K\nmetadata:\n  name: something-foo\n  namespace: something-bar\n"
    )
    rl = run({"by-value-regex": "something-(.*)", "put-value": "my-project-id-${1}"}, items)
    meta = rl["items"][0]["metadata"]
    assert (meta["name"], meta["namespace"]) == ("my-project-id-foo", "my-project-id-bar")
    out = yamlkit.dump_items(rl)
    rl = run(
        {"by-value-regex": "my-project-id-(.*)", "put-comment": "kpt-set: ${project-id}-${1}"},
        out,
    )
    text = yamlkit.dump_items(rl)
    assert "name: my-project-id-foo # kpt-set: ${project-id}-foo" in text
    assert "namespace: my-project-id-bar # kpt-set: ${project-id}-bar" in text


def test_put_comment_replaces_an_existing_comment() -> None:
    rl = run(
        {"by-path": "spec.replicas", "put-comment": "kpt-set: ${replicas}"},
        "apiVersion: v1\nkind: K\nmetadata: {name: a}\nspec:\n  replicas: 3 # old\n",
    )
    assert "replicas: 3 # kpt-set: ${replicas}\n" in yamlkit.dump_items(rl)


def test_put_value_keeps_scalar_kind_and_creates_plain_paths() -> None:
    rl = run({"by-path": "spec.replicas", "put-value": "5"})
    assert rl["items"][0]["spec"]["replicas"] == 5
    rl = run(
        {"by-path": "metadata.namespace", "put-value": "bookstore"},
        "apiVersion: v1\nkind: K\nmetadata: {name: a}\n",
    )
    assert rl["items"][0]["metadata"]["namespace"] == "bookstore"


def test_by_file_path() -> None:
    items = """\
    apiVersion: v1
    kind: K
    metadata:
      name: project-id
      annotations: {internal.config.kubernetes.io/path: foo/bar/setters.yaml}
    ---
    apiVersion: v1
    kind: K
    metadata:
      name: project-id
      annotations: {internal.config.kubernetes.io/path: other.yaml}
    """
    rl = run(
        {"by-value": "project-id", "by-file-path": "**/setters.yaml", "put-value": "new-project"},
        items,
    )
    assert [i["metadata"]["name"] for i in rl["items"]] == ["new-project", "project-id"]
    assert rl["results"][0]["file"] == {"path": "foo/bar/setters.yaml"}


@pytest.mark.parametrize(
    ("pattern", "path", "ok"),
    [
        ("**/baz.yaml", "foo/bar/baz.yaml", True),
        ("**/baz.yaml", "baz.yaml", True),
        ("**/baz.yaml", "foo/bar/bat.yaml", False),
        ("foo/**/baz.yaml", "foo/bar/bor/baz.yaml", True),
        ("foo/**/baz.yaml", "bar/baz.yaml", False),
        ("foo/*/baz.yaml", "foo/bar/baz.yaml", True),
        ("foo/*/baz.yaml", "foo/bar/bor/baz.yaml", False),
        ("foo/bar/*.yaml", "foo/bar/bat.yaml", True),
        ("foo/bar/*.yaml", "baz.yaml", False),
        ("a/{b,c}.yaml", "a/c.yaml", True),
        ("a/[!x].yaml", "a/x.yaml", False),
    ],
)
def test_file_path_patterns(pattern: str, path: str, ok: bool) -> None:
    assert search_replace.file_matches(pattern, path) is ok


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"put-value": "x"},
        {"by-value": "a", "by-value-regex": "b"},
        {"by-value-regex": "("},
        {"by-value": "a", "unknown": "b"},
    ],
)
def test_config_errors(data: dict[str, str]) -> None:
    with pytest.raises(fnapi.FunctionError):
        run(data)
