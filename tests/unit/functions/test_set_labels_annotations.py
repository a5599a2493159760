from __future__ import annotations

import pytest

from lanai.functions.builtin import set_annotations, set_labels
from lanai.kpt import fnapi
from tests.unit.functions import yamlkit

SET_LABELS = """\
apiVersion: fn.kpt.dev/v1alpha1
kind: SetLabels
metadata:
  name: my-config
labels:
  color: orange
  fruit: apple
  app: new
"""

# (input, expected) pairs from the catalog's set-labels-full-coverage example.
LABEL_CASES = {
    "service": (
        """\
        apiVersion: v1
        kind: Service
        metadata:
          name: my-service
        spec:
          selector:
            app: MyApp
        """,
        """\
        apiVersion: v1
        kind: Service
        metadata:
          name: my-service
          labels:
            app: new
            color: orange
            fruit: apple
        spec:
          selector:
            app: new
            color: orange
            fruit: apple
        """,
    ),
    "replicaset": (
        """\
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: frontend
          labels:
            app: guestbook
            tier: frontend
        spec:
          selector:
            matchLabels:
              tier: frontend
          template:
            metadata:
              labels:
                tier: frontend
        """,
        """\
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: frontend
          labels:
            app: new
            tier: frontend
            color: orange
            fruit: apple
        spec:
          selector:
            matchLabels:
              tier: frontend
              app: new
              color: orange
              fruit: apple
          template:
            metadata:
              labels:
                tier: frontend
                app: new
                color: orange
                fruit: apple
        """,
    ),
    "job-selector-untouched": (
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
                color: pi
        """,
        """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: pi
          labels:
            app: new
            color: orange
            fruit: apple
        spec:
          selector:
            matchLabels:
              name: pi
          template:
            metadata:
              labels:
                color: orange
                app: new
                fruit: apple
        """,
    ),
    "statefulset-volume-claims": (
        """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: web
        spec:
          volumeClaimTemplates:
            - metadata:
                name: www
        """,
        """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: web
          labels:
            app: new
            color: orange
            fruit: apple
        spec:
          volumeClaimTemplates:
            - metadata:
                name: www
                labels:
                  app: new
                  color: orange
                  fruit: apple
          selector:
            matchLabels:
              app: new
              color: orange
              fruit: apple
          template:
            metadata:
              labels:
                app: new
                color: orange
                fruit: apple
        """,
    ),
    "network-policy-untouched": (
        """\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: p
        spec:
          podSelector:
            matchLabels:
              role: db
        """,
        """\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: p
          labels:
            app: new
            color: orange
            fruit: apple
        spec:
          podSelector:
            matchLabels:
              role: db
        """,
    ),
}


@pytest.mark.parametrize("case", sorted(LABEL_CASES))
def test_set_labels_catalog_cases(case: str) -> None:
    given, expected = LABEL_CASES[case]
    rl = yamlkit.resource_list(given, SET_LABELS)
    set_labels.run(rl)
    assert yamlkit.dump_items(rl) == yamlkit.expect(expected)
    assert yamlkit.messages(rl) == ["set 3 labels in total"]


def test_set_labels_configmap_config_and_cronjob() -> None:
    rl = yamlkit.resource_list(
        """\
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: hello}
        spec:
          jobTemplate:
            metadata:
              labels: {env: dev}
            spec:
              template:
                metadata:
                  labels: {k: v}
        """,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {color: orange}",
    )
    set_labels.run(rl)
    job = rl["items"][0]["spec"]["jobTemplate"]
    assert dict(job["metadata"]["labels"]) == {"env": "dev", "color": "orange"}
    assert dict(job["spec"]["template"]["metadata"]["labels"]) == {"k": "v", "color": "orange"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "`FunctionConfig` is not given"),
        (
            "apiVersion: fn.kpt.dev/v1alpha1\nkind: BadKind\nmetadata: {name: x}",
            "unknown FunctionConfig `BadKind.fn.kpt.dev`, expect `SetLabels.fn.kpt.dev` or "
            "`ConfigMap.v1`",
        ),
        ("apiVersion: fn.kpt.dev/v1alpha1\nkind: SetLabels\nlabels: [a, b]", "labels must be"),
    ],
)
def test_set_labels_config_errors(config: str | None, message: str) -> None:
    rl = yamlkit.resource_list("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}", config)
    with pytest.raises(fnapi.FunctionError, match=message.replace("`", ".")[:20]):
        set_labels.run(rl)


def test_set_labels_warns_on_empty_labels() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}",
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetLabels\nmetadata: {name: x}\nlabels: {}",
    )
    set_labels.run(rl)
    assert rl["results"][0]["severity"] == "warning"


def test_set_annotations_advanced_example() -> None:
    rl = yamlkit.resource_list(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: the-map
        data:
          some-key: some-value
        ---
        apiVersion: dev.example.com/v1
        kind: MyResource
        metadata:
          name: the-service
          namespace: the-namespace
        spec:
          selector:
            annotations:
              foo: bar
        """,
        """\
        apiVersion: fn.kpt.dev/v1alpha1
        kind: SetAnnotations
        metadata:
          name: my-func-config
        annotations:
          color: orange
          fruit: apple
        additionalAnnotationFields:
          - kind: MyResource
            create: true
            group: dev.example.com
            path: spec/selector/annotations
            version: v1
        """,
    )
    set_annotations.run(rl)
    assert yamlkit.dump_items(rl) == yamlkit.expect(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: the-map
          annotations:
            color: orange
            fruit: apple
        data:
          some-key: some-value
        ---
        apiVersion: dev.example.com/v1
        kind: MyResource
        metadata:
          name: the-service
          namespace: the-namespace
          annotations:
            color: orange
            fruit: apple
        spec:
          selector:
            annotations:
              foo: bar
              color: orange
              fruit: apple
        """
    )
    assert yamlkit.messages(rl) == ['set annotations: {"color":"orange","fruit":"apple"}'] * 2


def test_set_annotations_reaches_pod_templates_and_keeps_local_config() -> None:
    rl = yamlkit.resource_list(
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: d
          annotations:
            config.kubernetes.io/local-config: "true"
        spec:
          template:
            spec: {}
        """,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {color: orange}",
    )
    set_annotations.run(rl)
    deployment = rl["items"][0]
    assert deployment["metadata"]["annotations"]["color"] == "orange"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["color"] == "orange"


def test_set_annotations_rejects_empty_list() -> None:
    rl = yamlkit.resource_list(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}",
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetAnnotations\nmetadata: {name: x}",
    )
    with pytest.raises(fnapi.FunctionError, match="input annotation list cannot be empty"):
        set_annotations.run(rl)
