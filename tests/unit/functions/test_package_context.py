from __future__ import annotations

import pytest
from ruamel.yaml.comments import CommentedMap

from lanai.functions import builtin_runtime
from lanai.kpt import fnapi, render

KPTFILE = b"""apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: edge-site
pipeline:
  mutators:
  - image: gcr.io/kpt-fn/generate-kpt-pkg-context:v0.1
  - image: set-namespace:v0.4.1
    configPath: package-context.yaml
"""
CONFIGMAP = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
STALE = b"""apiVersion: v1
kind: ConfigMap
metadata:
  name: kptfile.kpt.dev
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  name: old
"""


def test_the_generator_writes_the_context_that_set_namespace_then_reads() -> None:
    tree = {"Kptfile": KPTFILE, "cm.yaml": CONFIGMAP}
    result = render.render(tree, builtin_runtime.BuiltinRuntime())
    assert result.ok, result.error
    generated = result.tree["package-context.yaml"].decode()
    assert "name: kptfile.kpt.dev" in generated
    assert "name: edge-site" in generated
    assert 'config.kubernetes.io/local-config: "true"' in generated
    assert "namespace: edge-site" in result.tree["cm.yaml"].decode()


def test_a_stale_context_is_replaced() -> None:
    tree = {"Kptfile": KPTFILE, "cm.yaml": CONFIGMAP, "package-context.yaml": STALE}
    result = render.render(tree, builtin_runtime.BuiltinRuntime())
    assert result.ok, result.error
    text = result.tree["package-context.yaml"].decode()
    assert "name: edge-site" in text
    assert "old" not in text


def test_without_a_kptfile_item_it_fails_clearly() -> None:
    resource_list = CommentedMap(apiVersion="config.kubernetes.io/v1", kind="ResourceList")
    resource_list["items"] = []
    fn = fnapi.FunctionRef(image="generate-kpt-pkg-context:v0.1")
    with pytest.raises(fnapi.FunctionError, match="root Kptfile"):
        builtin_runtime.BuiltinRuntime().evaluate(fn, resource_list)
