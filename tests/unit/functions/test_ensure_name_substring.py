from __future__ import annotations

import pytest

from lanai.functions.builtin import ensure_name_substring
from lanai.kpt import fnapi
from tests.unit.functions import yamlkit

PREPEND = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {prepend: prod-}"
APPEND = (
    "apiVersion: fn.kpt.dev/v1alpha1\nkind: EnsureNameSubstring\nmetadata: {name: c}\n"
    "substring: -prod\neditMode: append"
)

RESOURCES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: the-map
  namespace: the-namespace
---
apiVersion: v1
kind: Pod
metadata:
  name: the-pod
  namespace: the-namespace
spec:
  containers:
    - name: test-container
      env:
        - name: SOME_KEY
          valueFrom:
            configMapKeyRef:
              name: the-map
              key: some-key
        - name: OUTSIDE
          valueFrom:
            configMapKeyRef:
              name: not-in-package
              key: k
---
apiVersion: v1
kind: Service
metadata:
  name: with-prod-service
  namespace: the-namespace
---
apiVersion: v1
kind: Namespace
metadata:
  name: the-namespace
"""


def test_prefix_example_with_references_and_idempotence() -> None:
    rl = yamlkit.resource_list(RESOURCES, PREPEND)
    ensure_name_substring.run(rl)
    names = [i["metadata"]["name"] for i in rl["items"]]
    assert names == ["prod-the-map", "prod-the-pod", "with-prod-service", "the-namespace"]
    env = rl["items"][1]["spec"]["containers"][0]["env"]
    assert env[0]["valueFrom"]["configMapKeyRef"]["name"] == "prod-the-map"
    assert env[1]["valueFrom"]["configMapKeyRef"]["name"] == "not-in-package"
    before = yamlkit.dump_items(rl)
    ensure_name_substring.run(rl)
    assert yamlkit.dump_items(rl) == before


def test_append_mode() -> None:
    rl = yamlkit.resource_list(RESOURCES, APPEND)
    ensure_name_substring.run(rl)
    assert rl["items"][0]["metadata"]["name"] == "the-map-prod"


def test_depends_on_and_role_refs() -> None:
    rl = yamlkit.resource_list(
        """\
        apiVersion: v1
        kind: Deployment
        metadata:
          annotations:
            config.kubernetes.io/depends-on: /namespaces/default/StatefulSet/wordpress-mysql
          name: wordpress
          namespace: default
        ---
        apiVersion: v1
        kind: StatefulSet
        metadata:
          name: wordpress-mysql
          namespace: default
        ---
        apiVersion: v1
        kind: Deployment
        metadata:
          annotations:
            config.kubernetes.io/depends-on: /namespaces/default/StatefulSet/outside-resource
          name: bar
          namespace: default
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          annotations:
            config.kubernetes.io/depends-on: rbac.authorization.k8s.io/ClusterRole/secret-reader
          name: read-secrets-global
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: secret-reader
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: secret-reader
        """,
        PREPEND,
    )
    ensure_name_substring.run(rl)
    items = rl["items"]
    key = "config.kubernetes.io/depends-on"
    assert items[0]["metadata"]["annotations"][key] == (
        "/namespaces/default/StatefulSet/prod-wordpress-mysql"
    )
    assert items[2]["metadata"]["annotations"][key] == (
        "/namespaces/default/StatefulSet/outside-resource"
    )
    assert items[3]["metadata"]["annotations"][key] == (
        "rbac.authorization.k8s.io/ClusterRole/prod-secret-reader"
    )
    assert items[3]["roleRef"]["name"] == "prod-secret-reader"


def test_additional_name_fields() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: dev.example.com/v1\nkind: MyResource\nmetadata: {name: the-cr}\n"
        "spec: {name: foo}\n",
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: EnsureNameSubstring\nmetadata: {name: c}\n"
        "substring: prod-\nadditionalNameFields:\n- {kind: MyResource, path: spec/name}\n",
    )
    ensure_name_substring.run(rl)
    assert rl["items"][0]["spec"]["name"] == "prod-foo"


@pytest.mark.parametrize(
    "config",
    [
        None,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {prepend: a, append: b}",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {middle: a}",
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: EnsureNameSubstring\nsubstring: ''",
    ],
)
def test_config_errors(config: str | None) -> None:
    with pytest.raises(fnapi.FunctionError):
        ensure_name_substring.run(yamlkit.resource_list(RESOURCES, config))


def test_an_unknown_edit_mode_changes_nothing() -> None:
    rl = yamlkit.resource_list(
        RESOURCES,
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: EnsureNameSubstring\nsubstring: a-\neditMode: x",
    )
    before = yamlkit.dump_items(rl)
    ensure_name_substring.run(rl)
    assert yamlkit.dump_items(rl) == before
