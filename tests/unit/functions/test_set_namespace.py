from __future__ import annotations

import pytest

from lanai.functions.builtin import set_namespace
from lanai.kpt import fnapi
from tests.unit.functions import yamlkit

SIMPLE_IN = """\
apiVersion: v1
kind: Service
metadata:
  name: the-service
  namespace: example # keep me
---
apiVersion: v1
kind: Namespace
metadata:
  name: example
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: the-crd
spec:
  conversion:
    strategy: Webhook
    webhook:
      clientConfig:
        service:
          name: crd-svc
          namespace: example
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: the-api-service
spec:
  service:
    name: api-svc
    namespace: example
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crb1
subjects:
  - kind: ServiceAccount
    name: default
    namespace: example
"""

SIMPLE_OUT = SIMPLE_IN.replace("namespace: example", "namespace: example-ns").replace(
    "name: example\n", "name: example-ns\n"
)

CONFIGS = {
    "configmap": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {namespace: example-ns}"
    ),
    "setnamespace": "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetNamespace\nnamespace: example-ns",
    "package-context": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kptfile.kpt.dev\n"
        "  annotations: {config.kubernetes.io/local-config: 'true'}\ndata: {name: example-ns}"
    ),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_simple_example_all_config_kinds(config: str) -> None:
    rl = yamlkit.resource_list(SIMPLE_IN, CONFIGS[config])
    set_namespace.run(rl)
    assert yamlkit.dump_items(rl) == yamlkit.expect(SIMPLE_OUT)
    assert "# keep me" in yamlkit.dump_items(rl)
    assert rl["results"][0]["severity"] == "info"


def test_namespace_matcher_only_touches_matching_values() -> None:
    items = """\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: example1
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: the-service
      namespace: example2
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata:
      name: crb1
    subjects:
      - kind: ServiceAccount
        name: default
        namespace: example5
    """
    config = """\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: c}
    data: {namespace: new-ns, namespaceMatcher: example2}
    """
    rl = yamlkit.resource_list(items, config)
    set_namespace.run(rl)
    out = rl["items"]
    assert out[0]["metadata"]["name"] == "example1"
    assert out[1]["metadata"]["namespace"] == "new-ns"
    assert out[2]["subjects"][0]["namespace"] == "example5"


def test_depends_on_follows_resources_in_the_package_only() -> None:
    items = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      annotations:
        config.kubernetes.io/depends-on: apps/namespaces/default/StatefulSet/wordpress-mysql
      name: wordpress
      namespace: default
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: wordpress-mysql
      namespace: default
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      annotations:
        config.kubernetes.io/depends-on: apps/namespaces/default/StatefulSet/outside-resource
      name: bar
      namespace: default
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata:
      annotations:
        config.kubernetes.io/depends-on: rbac.authorization.k8s.io/ClusterRole/secret-reader
      name: read-secrets-global
    """
    rl = yamlkit.resource_list(items, CONFIGS["configmap"])
    set_namespace.run(rl)
    notes = [i["metadata"].get("annotations", {}) for i in rl["items"]]
    key = "config.kubernetes.io/depends-on"
    assert notes[0][key] == "apps/namespaces/example-ns/StatefulSet/wordpress-mysql"
    assert notes[2][key] == "apps/namespaces/default/StatefulSet/outside-resource"
    assert notes[3][key] == "rbac.authorization.k8s.io/ClusterRole/secret-reader"
    assert [i["metadata"].get("namespace") for i in rl["items"]] == [
        "example-ns",
        "example-ns",
        "example-ns",
        None,
    ]


@pytest.mark.parametrize(
    ("resource", "namespace"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}", "example-ns"),
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}", "example-ns"),
        ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: a}", None),
        ("apiVersion: foo.com/v1\nkind: Bar\nmetadata: {name: a}", None),
        ("apiVersion: foo.com/v1\nkind: Bar\nmetadata: {name: a, namespace: old}", "example-ns"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n"
            "    config.kubernetes.io/local-config: 'true'",
            None,
        ),
    ],
)
def test_which_resources_are_namespaced(resource: str, namespace: str | None) -> None:
    rl = yamlkit.resource_list(resource, CONFIGS["configmap"])
    set_namespace.run(rl)
    assert rl["items"][0]["metadata"].get("namespace") == namespace


def test_namespace_is_inserted_after_name() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {x: y}\n",
        CONFIGS["configmap"],
    )
    set_namespace.run(rl)
    assert list(rl["items"][0]["metadata"]) == ["name", "namespace", "labels"]


@pytest.mark.parametrize(
    "config",
    [
        None,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {}",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}",
    ],
)
def test_bad_config_is_an_error(config: str | None) -> None:
    rl = yamlkit.resource_list("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}", config)
    with pytest.raises(fnapi.FunctionError) as caught:
        set_namespace.run(rl)
    assert caught.value.results[0]["severity"] == "error"
