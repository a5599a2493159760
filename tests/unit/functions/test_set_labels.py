"""set-labels behaves as the catalog's current set-labels: which label maps it creates,
which it only updates, what it skips, how it counts and how it fails."""

from __future__ import annotations

import pytest

from lanai.functions.builtin import set_labels
from tests.unit.functions import fncase

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: function-input}
data:
  tier: backend
"""

TWO = """\
apiVersion: fn.kpt.dev/v1alpha1
kind: SetLabels
metadata: {name: my-config}
labels:
  fruit: apple
  color: orange
"""

# (input items, expected items, "set N labels in total")
CASES: dict[str, tuple[str, str, int]] = {
    "deployment-without-template-gets-selector-not-template": (
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: nginx-deployment
        spec:
          replicas: 3
        """,
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: nginx-deployment
          labels:
            tier: backend
        spec:
          replicas: 3
          selector:
            matchLabels:
              tier: backend
        """,
        2,
    ),
    "deployment-template-labels-created": (
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: d
        spec:
          template:
            spec:
              containers: []
        """,
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: d
          labels:
            tier: backend
        spec:
          template:
            spec:
              containers: []
            metadata:
              labels:
                tier: backend
          selector:
            matchLabels:
              tier: backend
        """,
        3,
    ),
    "custom-resource-metadata-only": (
        """\
        apiVersion: custom.io/v1
        kind: Custom
        metadata:
          name: custom
        spec:
          selector:
            labels:
              foo: bar
        """,
        """\
        apiVersion: custom.io/v1
        kind: Custom
        metadata:
          name: custom
          labels:
            tier: backend
        spec:
          selector:
            labels:
              foo: bar
        """,
        1,
    ),
    "service-selector-created-and-updated": (
        """\
        apiVersion: v1
        kind: Service
        metadata:
          name: s
        spec:
          selector:
            tier: frontend
            app: web
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: headless
        spec:
          clusterIP: None
        """,
        """\
        apiVersion: v1
        kind: Service
        metadata:
          name: headless
          labels:
            tier: backend
        spec:
          clusterIP: None
          selector:
            tier: backend
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: s
          labels:
            tier: backend
        spec:
          selector:
            tier: backend
            app: web
        """,
        4,
    ),
    "statefulset-volume-claims-stay-a-list": (
        """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: db
        spec:
          replicas: 3
          volumeClaimTemplates:
            - metadata:
                name: www
              spec:
                accessModes: ["ReadWriteOnce"]
        """,
        """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: db
          labels:
            tier: backend
        spec:
          replicas: 3
          volumeClaimTemplates:
            - metadata:
                name: www
                labels:
                  tier: backend
              spec:
                accessModes: ["ReadWriteOnce"]
          selector:
            matchLabels:
              tier: backend
        """,
        4,
    ),
    "statefulset-without-claims-gets-none": (
        """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: db
        spec:
          replicas: 3
        """,
        """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: db
          labels:
            tier: backend
        spec:
          replicas: 3
          selector:
            matchLabels:
              tier: backend
        """,
        2,
    ),
    "job-and-pdb-selectors-only-updated": (
        """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: pi
        spec:
          selector:
            matchLabels:
              name: pi
          template:
            metadata:
              labels:
                tier: old
        ---
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata:
          name: pdb
        spec:
          selector:
            matchLabels:
              tier: old
        """,
        """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: pi
          labels:
            tier: backend
        spec:
          selector:
            matchLabels:
              name: pi
          template:
            metadata:
              labels:
                tier: backend
        ---
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata:
          name: pdb
          labels:
            tier: backend
        spec:
          selector:
            matchLabels:
              tier: backend
        """,
        5,
    ),
    "cronjob-job-template": (
        """\
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: hello
        spec:
          jobTemplate:
            spec:
              selector:
                matchLabels:
                  name: pi
              template:
                spec:
                  restartPolicy: OnFailure
        """,
        """\
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: hello
          labels:
            tier: backend
        spec:
          jobTemplate:
            spec:
              selector:
                matchLabels:
                  name: pi
              template:
                spec:
                  restartPolicy: OnFailure
                metadata:
                  labels:
                    tier: backend
            metadata:
              labels:
                tier: backend
        """,
        4,
    ),
    "network-policy-only-existing-keys": (
        """\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: np
        spec:
          podSelector:
            matchLabels:
              role: db
          ingress:
            - from:
                - podSelector:
                    matchLabels:
                      tier: old
        """,
        """\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: np
          labels:
            tier: backend
        spec:
          podSelector:
            matchLabels:
              role: db
          ingress:
            - from:
                - podSelector:
                    matchLabels:
                      tier: backend
        """,
        3,
    ),
    "topology-spread-label-selector-updated": (
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: d
        spec:
          selector:
            matchLabels:
              tier: backend
          template:
            spec:
              topologySpreadConstraints:
                - labelSelector:
                    matchLabels:
                      tier: old
                - labelSelector:
                    matchLabels:
                      app: x
        """,
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: d
          labels:
            tier: backend
        spec:
          selector:
            matchLabels:
              tier: backend
          template:
            spec:
              topologySpreadConstraints:
                - labelSelector:
                    matchLabels:
                      tier: backend
                - labelSelector:
                    matchLabels:
                      app: x
            metadata:
              labels:
                tier: backend
        """,
        5,
    ),
    # The SDK writes items sorted by apiVersion, kind, namespace and name.
    "local-config-untouched-kptfile-labelled": (
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          annotations:
            config.kubernetes.io/local-config: "true"
        ---
        apiVersion: kpt.dev/v1
        kind: Kptfile
        metadata:
          name: app
        """,
        """\
        apiVersion: kpt.dev/v1
        kind: Kptfile
        metadata:
          name: app
          labels:
            tier: backend
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          annotations:
            config.kubernetes.io/local-config: "true"
        """,
        1,
    ),
    "local-config-as-yaml-bool-is-not-local": (
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          annotations:
            config.kubernetes.io/local-config: true
        """,
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          annotations:
            config.kubernetes.io/local-config: true
          labels:
            tier: backend
        """,
        1,
    ),
    "unchanged-label-keeps-quotes-changed-one-is-rewritten-plain": (
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          labels:
            tier: 'frontend' # note
            other: "x"
        """,
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          labels:
            tier: backend # note
            other: "x"
        """,
        1,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_labels_go_where_the_catalog_puts_them(case: str) -> None:
    given, expected, count = CASES[case]
    outcome = fncase.run(set_labels.run, given, CONFIG)
    assert outcome.error is None
    assert outcome.items == fncase.yaml(expected)
    assert outcome.results == [{"message": f"set {count} labels in total", "severity": "info"}]


def test_keys_are_applied_in_sorted_order_and_appended() -> None:
    outcome = fncase.run(
        set_labels.run,
        """\
        apiVersion: v1
        kind: ReplicationController
        metadata:
          name: rc
          labels:
            color: red
        spec:
          selector:
            app: nginx
          template:
            metadata:
              labels:
                app: nginx
        """,
        TWO,
    )
    assert outcome.items == fncase.yaml(
        """\
        apiVersion: v1
        kind: ReplicationController
        metadata:
          name: rc
          labels:
            color: orange
            fruit: apple
        spec:
          selector:
            app: nginx
            color: orange
            fruit: apple
          template:
            metadata:
              labels:
                app: nginx
                color: orange
                fruit: apple
        """
    )
    assert outcome.messages == ["set 6 labels in total"]


def test_values_yaml_would_misread_are_double_quoted() -> None:
    outcome = fncase.run(
        set_labels.run,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
        "data: {a: 'true', b: '1', c: 'yes'}\n",
    )
    assert outcome.items == fncase.yaml(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: c
          labels:
            a: "true"
            b: "1"
            c: yes
        """
    )


def test_output_items_are_sorted_like_the_sdk_writes_them() -> None:
    outcome = fncase.run(
        set_labels.run,
        """\
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: a}
        """,
        CONFIG,
    )
    assert outcome.items.index("kind: Deployment") < outcome.items.index("kind: Service")


@pytest.mark.parametrize(
    ("config", "results"),
    [
        (
            None,
            [{"message": "`FunctionConfig` is not given", "severity": "info"}],
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: function-input}\ndata: {}\n",
            [{"message": "`FunctionConfig` is not given", "severity": "info"}],
        ),
        (
            "apiVersion: fn.kpt.dev/v1alpha1\nkind: BadKind\nmetadata: {name: x}\n",
            [
                {
                    "message": "unknown FunctionConfig `BadKind.fn.kpt.dev`, expect "
                    "`SetLabels.fn.kpt.dev` or `ConfigMap.v1`",
                    "severity": "error",
                }
            ],
        ),
        (
            "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetLabels\nmetadata: {name: x}\n"
            "labels:\n- color: orange\n",
            [
                {
                    "message": "unable to convert object to *setlabels.SetLabels with error: "
                    "json: cannot unmarshal array into Go struct field SetLabels.labels of "
                    "type map[string]string",
                    "severity": "error",
                }
            ],
        ),
    ],
)
def test_failures_say_function_failure(config: str | None, results: list[object]) -> None:
    outcome = fncase.run(
        set_labels.run, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n", config
    )
    assert outcome.error is not None
    assert outcome.stderr == "failed to evaluate function: error: function failure"
    assert outcome.results == results


def test_empty_labels_warn_and_pass() -> None:
    outcome = fncase.run(
        set_labels.run,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n",
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetLabels\nmetadata: {name: x}\nlabels: {}\n",
    )
    assert outcome.error is None
    assert outcome.results == [
        {"message": "no `labels` arguments are given in FunctionConfig", "severity": "warning"}
    ]


def test_no_resources_is_info_even_without_config() -> None:
    outcome = fncase.run(
        set_labels.run,
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: only-local
          annotations: {config.kubernetes.io/local-config: "true"}
        """,
        None,
    )
    assert outcome.error is None
    assert outcome.messages == ["`FunctionConfig` is not given", "no input resources"]


def test_a_non_string_label_value_is_an_error_result() -> None:
    outcome = fncase.run(
        set_labels.run,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  labels:\n    tier: 3\n",
        CONFIG,
    )
    assert outcome.error is not None
    assert outcome.results == [
        {
            "message": 'Resource(apiVersion=, kind=ConfigMap) has unmatched field type "string" '
            "in fieldpath .metadata.labels.tier",
            "severity": "error",
        },
        {"message": "set 0 labels in total", "severity": "info"},
    ]


def test_an_object_without_kind_is_labelled_like_every_kind() -> None:
    # kpt's fn-eval case krm-check-exclude-kustomize: a kustomization.yaml has no
    # apiVersion or kind, and the SDK's loose kind match takes it for a Service and a
    # Deployment alike.
    outcome = fncase.run(set_labels.run, "resources:\n- resources.yaml\n", CONFIG)
    assert outcome.items == fncase.yaml(
        """\
        resources:
        - resources.yaml
        metadata:
          labels:
            tier: backend
        spec:
          selector:
            tier: backend
            matchLabels:
              tier: backend
        """
    )
