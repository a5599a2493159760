"""set-namespace behaves as the catalog's current set-namespace."""

from __future__ import annotations

import pytest

from lanai.functions.builtin import set_namespace
from tests.unit.functions import fncase

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: function-input}
data: {namespace: new-ns}
"""

SIMPLE = """\
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
  - kind: Group
    name: admins
---
apiVersion: v1
kind: Namespace
metadata:
  name: example
---
apiVersion: v1
kind: Service
metadata:
  name: the-service
  namespace: example # keep me
"""

CONFIGS = {
    "configmap": CONFIG,
    "setnamespace": (
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetNamespace\nmetadata: {name: x}\n"
        "namespace: new-ns\n"
    ),
    "package-context": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kptfile.kpt.dev\n"
        "  annotations: {config.kubernetes.io/local-config: 'true'}\ndata: {name: new-ns}\n"
    ),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_namespace_field_moves(config: str) -> None:
    outcome = fncase.run(set_namespace.run, SIMPLE, CONFIGS[config])
    assert outcome.items == SIMPLE.replace("namespace: example", "namespace: new-ns").replace(
        "name: example\n", "name: new-ns\n"
    )
    assert outcome.results == [
        {
            "message": 'namespace [example] updated to "new-ns", 5 value(s) changed',
            "severity": "info",
        },
        {
            "message": "all `depends-on` annotations are up-to-date. no `namespace` changed",
            "severity": "info",
        },
    ]


def test_a_missing_namespace_is_default_and_is_written_at_the_end() -> None:
    outcome = fncase.run(
        set_namespace.run,
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: nginx-deployment
          labels:
            app: x
        spec:
          replicas: 3
        ---
        apiVersion: custom.io/v1
        kind: Custom
        metadata:
          name: custom
        ---
        apiVersion: kpt.dev/v1
        kind: Kptfile
        metadata:
          name: app
        """,
        CONFIG,
    )
    assert outcome.items == fncase.yaml(
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: nginx-deployment
          labels:
            app: x
          namespace: new-ns
        spec:
          replicas: 3
        ---
        apiVersion: custom.io/v1
        kind: Custom
        metadata:
          name: custom
        ---
        apiVersion: kpt.dev/v1
        kind: Kptfile
        metadata:
          name: app
        """
    )
    assert outcome.messages[0] == 'namespace [default] updated to "new-ns", 1 value(s) changed'


def test_every_namespaced_value_is_rewritten_plain() -> None:
    outcome = fncase.run(
        set_namespace.run,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  namespace: 'new-ns'\n",
        CONFIG,
    )
    assert (
        outcome.items
        == "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  namespace: new-ns\n"
    )
    assert outcome.messages[0] == 'all matching namespaces are already "new-ns". no value changed'


@pytest.mark.parametrize(
    ("resource", "namespace"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "new-ns"),
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: a}\n",
            None,
        ),
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: a}\n",
            "new-ns",
        ),
        ("apiVersion: foo.com/v1\nkind: Bar\nmetadata: {name: a}\n", None),
        ("apiVersion: foo.com/v1\nkind: Bar\nmetadata: {name: a, namespace: old}\n", "new-ns"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n"
            "    config.kubernetes.io/local-config: 'true'\n",
            None,
        ),
    ],
)
def test_which_resources_are_namespaced(resource: str, namespace: str | None) -> None:
    rl = fncase.resource_list(resource, CONFIG)
    set_namespace.run(rl)
    assert rl["items"][0]["metadata"].get("namespace") == namespace


def test_role_binding_subjects_are_left_alone() -> None:
    outcome = fncase.run(
        set_namespace.run,
        """\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: rb
          namespace: old
        subjects:
          - kind: ServiceAccount
            name: default
            namespace: old
        """,
        CONFIG,
    )
    assert "  namespace: new-ns\nsubjects:" in outcome.items
    assert "    namespace: old\n" in outcome.items


def test_crds_without_a_webhook_service_and_apiservices_without_service_are_skipped() -> None:
    items = """\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: none
        spec:
          conversion:
            strategy: None
        ---
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: url
        spec:
          conversion:
            strategy: Webhook
            webhook:
              clientConfig:
                url: https://example.com/convert
        ---
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: no-ns
        spec:
          conversion:
            strategy: Webhook
            webhook:
              clientConfig:
                service:
                  name: svc
        ---
        apiVersion: apiregistration.k8s.io/v1
        kind: APIService
        metadata:
          name: local
        spec:
          group: example.com
        """
    outcome = fncase.run(set_namespace.run, items, CONFIG)
    assert outcome.items.count("namespace: new-ns") == 1
    assert "        service:\n          name: svc\n          namespace: new-ns\n" in outcome.items
    assert outcome.messages[0] == 'namespace [default] updated to "new-ns", 1 value(s) changed'


def test_namespace_matcher_and_upstream_origin() -> None:
    outcome = fncase.run(
        set_namespace.run,
        """\
        apiVersion: v1
        kind: Namespace
        metadata:
          name: example1
          annotations:
            internal.kpt.dev/upstream-identifier: "|Namespace|~C|example"
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: the-service
          namespace: example2
          annotations:
            internal.kpt.dev/upstream-identifier: "|Service|example2|the-service"
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: renamed-locally
          namespace: local-edit
          annotations:
            internal.kpt.dev/upstream-identifier: "|ConfigMap|example2|cm"
        """,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        "data: {namespace: new-ns, namespaceMatcher: example2}\n",
    )
    assert "  name: example1\n" in outcome.items
    assert outcome.items.count("namespace: new-ns") == 2
    assert outcome.messages == [
        "[Resource(apiVersion=v1, kind=Service, namespace=example2, name=the-service)] "
        "has matching origin example2",
        "[Resource(apiVersion=v1, kind=ConfigMap, namespace=local-edit, name=renamed-locally)] "
        "has matching origin example2",
        'namespace [example2 local-edit] updated to "new-ns", 2 value(s) changed',
        "all `depends-on` annotations are up-to-date. no `namespace` changed",
    ]


def test_depends_on_follows_resources_in_the_package_only() -> None:
    outcome = fncase.run(
        set_namespace.run,
        """\
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
        """,
        CONFIG,
    )
    assert "depends-on: apps/namespaces/new-ns/StatefulSet/wordpress-mysql" in outcome.items
    assert "depends-on: apps/namespaces/default/StatefulSet/outside-resource" in outcome.items
    assert outcome.messages[1] == (
        '`depends-on` annotation namespace [default] updated to "new-ns", 1 value(s) changed'
    )


@pytest.mark.parametrize(
    ("config", "message", "ref"),
    [
        (
            None,
            "FunctionConfig is missing. Expect `ConfigMap.v1` or "
            "`SetNamespace.v1alpha1.fn.kpt.dev`",
            {},
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {}\n",
            "`data.namespace` should not be empty",
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"},
        ),
        (
            "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetNamespace\nmetadata: {name: x}\n",
            "`namespace` should not be empty",
            {"apiVersion": "fn.kpt.dev/v1alpha1", "kind": "SetNamespace", "name": "x"},
        ),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n",
            "unknown functionConfig Kind=Secret ApiVersion=v1, expect `ConfigMap.v1` or "
            "`SetNamespace.v1alpha1.fn.kpt.dev`",
            {"apiVersion": "v1", "kind": "Secret", "name": "x"},
        ),
    ],
)
def test_configuration_errors_are_reported_not_failed(
    config: str | None, message: str, ref: dict[str, str]
) -> None:
    outcome = fncase.run(
        set_namespace.run, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", config
    )
    # the catalog's function reports the problem and succeeds: its Run returns true
    assert outcome.error is None
    assert outcome.items == "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    assert outcome.results == [
        {"message": message, "severity": "error", "resourceRef": ref, "file": {"index": -1}}
    ]
