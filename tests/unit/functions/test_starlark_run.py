from __future__ import annotations

import pytest

from lanai.functions.builtin import starlark_run
from lanai.kpt import fnapi
from tests.unit.functions import yamlkit

APP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: my-cm # the map
data:
  some-key: some-value
---
apiVersion: foo.com/v1
kind: Bar
metadata:
  name: my-bar
spec:
  featureA: true
"""


def starlark_config(source: str, params: str = "") -> str:
    indented = "\n".join("  " + line for line in source.splitlines())
    return (
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: StarlarkRun\nmetadata:\n  name: fn\n"
        + params
        + "source: |\n"
        + indented
        + "\n"
    )


def test_catalog_set_namespace_example_keeps_comments() -> None:
    source = """\
# set the namespace on all resources except Kptfile and StarlarkRun kind.
for resource in ctx.resource_list["items"]:
  if resource.get("kind") not in ["StarlarkRun", "Kptfile"]:
    resource["metadata"]["namespace"] = "prod"
"""
    rl = yamlkit.resource_list(APP, starlark_config(source))
    starlark_run.run(rl)
    assert [i["metadata"]["namespace"] for i in rl["items"]] == ["prod", "prod"]
    assert "# the map" in yamlkit.dump_items(rl)
    assert rl["items"][1]["spec"]["featureA"] is True


def test_configmap_config_with_params_and_print() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 3}\n",
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: set-replicas}
        data:
          replicas: "5"
          source: |
            def setReplicas(resources, replicas):
              for r in resources:
                if r["apiVersion"] == "apps/v1" and r["kind"] == "Deployment":
                  r["spec"]["replicas"] = replicas
            replicas = int(ctx.resource_list["functionConfig"]["data"]["replicas"])
            print("setting", replicas)
            setReplicas(ctx.resource_list["items"], replicas)
        """,
    )
    stderr = starlark_run.run(rl)
    assert rl["items"][0]["spec"]["replicas"] == 5
    assert stderr == "setting 5"


def test_params_add_and_remove_resources() -> None:
    source = """\
items = ctx.resource_list["items"]
keep = [r for r in items if r["kind"] != "Bar"]
keep.append({"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": ctx.resource_list["functionConfig"]["params"]["name"]}})
ctx.resource_list["items"] = keep
"""
    rl = yamlkit.resource_list(APP, starlark_config(source, "params:\n  name: new-cm\n"))
    starlark_run.run(rl)
    assert [i["metadata"]["name"] for i in rl["items"]] == ["my-cm", "new-cm"]
    assert "# the map" in yamlkit.dump_items(rl)


def test_fail_becomes_function_error() -> None:
    source = """\
def contains_private_key(r):
  return r["kind"] == "ConfigMap" and "some-key" in r["data"]
for resource in ctx.resource_list["items"]:
  if contains_private_key(resource):
    fail("it is prohibited to have private key in a configmap")
"""
    rl = yamlkit.resource_list(APP, starlark_config(source))
    with pytest.raises(fnapi.FunctionError) as caught:
        starlark_run.run(rl)
    assert caught.value.message == "fail: it is prohibited to have private key in a configmap"
    assert caught.value.results[0]["severity"] == "error"


@pytest.mark.parametrize(
    "source",
    [
        'load("encoding/yaml.star", "yaml")\n',
        "open('/etc/passwd')\n",
        "this is not starlark\n",
    ],
)
def test_no_escape_hatches(source: str) -> None:
    rl = yamlkit.resource_list(APP, starlark_config(source))
    with pytest.raises(fnapi.FunctionError):
        starlark_run.run(rl)


def test_runaway_script_times_out() -> None:
    source = "def f():\n  for i in range(1000000000):\n    pass\nf()\n"
    rl = yamlkit.resource_list(APP, starlark_config(source))
    with pytest.raises(fnapi.FunctionError, match=r"exceeded its 0\.2 s time limit"):
        starlark_run.run(rl, timeout=0.2)


def test_empty_source_is_an_error() -> None:
    rl = yamlkit.resource_list(
        APP, "apiVersion: fn.kpt.dev/v1alpha1\nkind: StarlarkRun\nsource: ''"
    )
    with pytest.raises(fnapi.FunctionError, match="`source` must not be empty"):
        starlark_run.run(rl)
