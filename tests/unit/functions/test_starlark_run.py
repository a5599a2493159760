"""starlark behaves as the catalog's: what the script sees, what it writes back (as Go
re-marshals it and kpt restores comments and order), its libraries, its errors."""

from __future__ import annotations

import pytest

from lanai.functions.builtin import starlark_run
from lanai.kpt import fnapi
from tests.unit.functions import fncase

APP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: my-cm # the map
  annotations:
    internal.config.kubernetes.io/id: '1'
data:
  some-key: 'some-value'
  flow: [a, b]
---
apiVersion: foo.com/v1
kind: Bar
metadata:
  name: my-bar
  annotations:
    internal.config.kubernetes.io/id: '2'
spec:
  featureA: true
"""


def config(source: str, name: str = "fn", params: str = "") -> str:
    indented = "\n".join("  " + line for line in source.splitlines())
    return (
        f"apiVersion: fn.kpt.dev/v1alpha1\nkind: StarlarkRun\nmetadata:\n  name: {name}\n"
        + params
        + "source: |\n"
        + indented
        + "\n"
    )


def test_kept_keys_keep_place_and_comments_values_are_rewritten_as_go_does() -> None:
    source = """\
for r in ctx.resource_list["items"]:
  if r["kind"] != "StarlarkRun":
    r["metadata"]["namespace"] = "prod"
    r["metadata"]["labels"] = {"z": "1", "a": "yes", "b": "x"}
"""
    outcome = fncase.run(starlark_run.run, APP, config(source))
    assert outcome.error is None
    # Output items are sorted (apiVersion, kind, namespace, name) as the SDK writes them.
    assert outcome.items == fncase.yaml(
        """\
        apiVersion: foo.com/v1
        kind: Bar
        metadata:
          name: my-bar
          annotations:
            internal.config.kubernetes.io/id: "2"
          labels:
            a: "yes"
            b: x
            z: "1"
          namespace: prod
        spec:
          featureA: true
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: my-cm # the map
          annotations:
            internal.config.kubernetes.io/id: "1"
          labels:
            a: "yes"
            b: x
            z: "1"
          namespace: prod
        data:
          some-key: some-value
          flow:
          - a
          - b
        """
    )


def test_new_resources_have_their_keys_sorted() -> None:
    source = """\
ctx.resource_list["items"].append({
  "kind": "Deployment", "apiVersion": "apps/v1",
  "metadata": {"name": "httpbin"},
  "spec": {"replicas": 4, "template": {"spec": {"containers": [
    {"name": "httpbin", "image": "kennethreitz/httpbin", "ports": [{"containerPort": 9876}]}]}}},
})
"""
    outcome = fncase.run(starlark_run.run, "", config(source))
    assert outcome.items == fncase.yaml(
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: httpbin
        spec:
          replicas: 4
          template:
            spec:
              containers:
              - image: kennethreitz/httpbin
                name: httpbin
                ports:
                - containerPort: 9876
        """
    )


def test_items_are_sorted_and_removed_ones_go() -> None:
    source = """\
items = ctx.resource_list["items"]
keep = [r for r in items if r["kind"] != "Bar"]
keep.append({"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": ctx.resource_list["functionConfig"]["params"]["name"]}})
ctx.resource_list["items"] = keep
"""
    rl = fncase.resource_list(APP, config(source, params="params:\n  name: a-new-cm\n"))
    starlark_run.run(rl)
    assert [i["metadata"]["name"] for i in rl["items"]] == ["a-new-cm", "my-cm"]


def test_configmap_config_data_and_print_to_stderr() -> None:
    outcome = fncase.run(
        starlark_run.run,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 3}\n",
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: set-replicas}
        data:
          replicas: "5"
          source: |
            replicas = int(ctx.resource_list["functionConfig"]["data"]["replicas"])
            print("setting", replicas, {"a": [1, None, True]})
            for r in ctx.resource_list["items"]:
              r["spec"]["replicas"] = replicas
        """,
    )
    assert "replicas: 5" in outcome.items
    assert outcome.stderr == 'setting 5 {"a": [1, None, True]}'


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "# AND conditional has syntax error\ndef isHTTPBin(r):\n"
            '  return r["apiVersion"] == "apps/v1" and r["kind"] == "Deployment" and \n'
            '  r["metadata"]["name"] == "httpbin"\n',
            "httpbin-gen:3:73: got newline, want primary expression",
        ),
        ('fail("could not find httpbin deployment")\n', "fail: could not find httpbin deployment"),
        ('load("http.star", "http")\n', "cannot load http.star"),
    ],
)
def test_errors_read_as_the_catalogs(source: str, message: str) -> None:
    outcome = fncase.run(starlark_run.run, APP, config(source, name="httpbin-gen"))
    assert outcome.error is not None
    assert outcome.results[0]["message"].startswith(message)
    assert outcome.results[0]["severity"] == "error"
    assert outcome.stderr.endswith("failed to evaluate function: error: function failure")


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        (None, "FunctionConfig is missing. Expect `ConfigMap` or `StarlarkRun`"),
        (
            "apiVersion: fn.kpt.dev/v1alpha1\nkind: StarlarkRun\nmetadata: {name: x}\nsource: ''\n",
            "`source` must not be empty",
        ),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n",
            "`functionConfig` must be either /v1, Kind=ConfigMap or fn.kpt.dev/v1alpha1, "
            "Kind=StarlarkRun, but we got: /v1, Kind=Secret",
        ),
    ],
)
def test_configuration_errors(config_text: str | None, message: str) -> None:
    outcome = fncase.run(starlark_run.run, APP, config_text)
    assert outcome.results == [{"message": message, "severity": "error"}]


def test_catalog_libraries_load() -> None:
    source = """\
load('encoding/json.star', 'json')
load('encoding/yaml.star', 'yaml')
load('encoding/base64.star', 'base64')
load('hash.star', 'hash')
load('re.star', 're')
load('krmfn.star', 'krmfn')
for r in ctx.resource_list["items"]:
  if krmfn.match_gvk(r, "v1", "ConfigMap") and krmfn.match_name(r, "my-cm"):
    r["data"]["json"] = json.encode({"b": 1, "a": [True, None]})
    r["data"]["back"] = json.decode('{"x": 2}')["x"]
    r["data"]["b64"] = base64.encode("hi")
    r["data"]["sha"] = hash.sha256("x")[:8]
    r["data"]["yaml"] = yaml.dumps({"b": 1, "a": "x"})
    r["data"]["found"] = re.findall("[a-z]+", "ab 12 cd")
"""
    rl = fncase.resource_list(APP, config(source))
    starlark_run.run(rl)
    data = rl["items"][1]["data"]
    assert data["json"] == '{"a":[true,null],"b":1}'
    assert data["back"] == 2
    assert data["b64"] == "aGk="
    assert data["sha"] == "2d711642"
    assert data["yaml"] == "a: x\nb: 1\n"
    assert list(data["found"]) == ["ab", "cd"]


def test_runaway_script_times_out() -> None:
    source = "def f():\n  for i in range(1000000000):\n    pass\nf()\n"
    rl = fncase.resource_list(APP, config(source))
    with pytest.raises(fnapi.FunctionLimitExceeded, match=r"exceeded its 0\.2 s time limit"):
        starlark_run.run(rl, timeout=0.2)


def test_the_environment_is_empty() -> None:
    source = 'ctx.resource_list["items"][0]["data"]["env"] = str(len(ctx.environment))\n'
    rl = fncase.resource_list(APP, config(source))
    starlark_run.run(rl)
    assert rl["items"][1]["data"]["env"] == "0"
