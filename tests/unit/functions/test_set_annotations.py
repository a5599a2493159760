"""set-annotations behaves as the catalog's: kustomize's commonAnnotations field specs with
``create: true``, local-config resources included, one result per annotated map."""

from __future__ import annotations

import pytest

from lanai.functions.builtin import set_annotations
from tests.unit.functions import fncase

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: function-input}
data:
  foo: bar
"""


def at(
    path: str, field: str = "metadata.annotations", index: int = 0, values: str = '{"foo":"bar"}'
) -> dict[str, object]:
    where: dict[str, object] = {"path": path}
    if index:
        where["index"] = index
    return {"message": f"set annotations: {values}", "field": {"path": field}, "file": where}


def test_a_deployment_without_template_gets_one() -> None:
    outcome = fncase.run(
        set_annotations.run,
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: nginx-deployment
          annotations:
            internal.config.kubernetes.io/path: resources.yaml
            internal.config.kubernetes.io/index: '0'
        spec:
          replicas: 3
        ---
        apiVersion: custom.io/v1
        kind: Custom
        metadata:
          name: custom
          annotations:
            internal.config.kubernetes.io/path: resources.yaml
            internal.config.kubernetes.io/index: '1'
        """,
        CONFIG,
    )
    assert outcome.items == fncase.yaml(
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: nginx-deployment
          annotations:
            internal.config.kubernetes.io/path: resources.yaml
            internal.config.kubernetes.io/index: '0'
            foo: bar
        spec:
          replicas: 3
          template:
            metadata:
              annotations:
                foo: bar
        ---
        apiVersion: custom.io/v1
        kind: Custom
        metadata:
          name: custom
          annotations:
            internal.config.kubernetes.io/path: resources.yaml
            internal.config.kubernetes.io/index: '1'
            foo: bar
        """
    )
    assert outcome.results == [
        at("resources.yaml"),
        at("resources.yaml", "spec.template.metadata.annotations"),
        at("resources.yaml", index=1),
    ]


def test_local_config_is_annotated_and_results_sort_by_file() -> None:
    outcome = fncase.run(
        set_annotations.run,
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: the-map
          annotations:
            config.kubernetes.io/path: resources.yaml
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: local
          annotations:
            config.kubernetes.io/local-config: "true"
            config.kubernetes.io/path: local-config.yaml
        """,
        """\
        apiVersion: fn.kpt.dev/v1alpha1
        kind: SetAnnotations
        metadata: {name: c}
        annotations:
          fruit: apple
          color: orange
        additionalAnnotationFields:
          - path: data/selector/annotations
            kind: ConfigMap
            create: true
        """,
    )
    values = '{"color":"orange","fruit":"apple"}'
    assert outcome.results == [
        at("local-config.yaml", "data.selector.annotations", values=values),
        at("local-config.yaml", values=values),
        at("resources.yaml", "data.selector.annotations", values=values),
        at("resources.yaml", values=values),
    ]
    assert "    color: orange\n    fruit: apple\n" in outcome.items
    assert "data:\n  selector:\n    annotations:\n      color: orange\n" in outcome.items


def test_two_resources_at_the_same_relative_path_share_a_result() -> None:
    kptfile = """\
        apiVersion: kpt.dev/v1
        kind: Kptfile
        metadata:
          name: {name}
          annotations:
            internal.config.kubernetes.io/path: Kptfile
        """
    outcome = fncase.run(
        set_annotations.run,
        kptfile.format(name="root") + "---\n" + kptfile.format(name="sub"),
        CONFIG,
    )
    assert outcome.results == [at("Kptfile")]
    assert outcome.items.count("foo: bar") == 2


def test_existing_values_keep_their_quoting_new_ones_quote_yaml11_words() -> None:
    outcome = fncase.run(
        set_annotations.run,
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: m
          annotations:
            a: 'old' # keep
        """,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
        "data: {a: new, b: 'yes', c: '0755'}\n",
    )
    assert outcome.items == fncase.yaml(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: m
          annotations:
            a: 'new' # keep
            b: "yes"
            c: "0755"
        """
    )


def test_cronjob_templates_are_created() -> None:
    outcome = fncase.run(
        set_annotations.run,
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\n"
        "spec:\n  schedule: '* * * * *'\n",
        CONFIG,
    )
    assert outcome.items == fncase.yaml(
        """\
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: c
          annotations:
            foo: bar
        spec:
          schedule: '* * * * *'
          jobTemplate:
            metadata:
              annotations:
                foo: bar
            spec:
              template:
                metadata:
                  annotations:
                    foo: bar
        """
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            None,
            "failed to configure function: `functionConfig` must be a `ConfigMap` or "
            "`SetAnnotations`",
        ),
        (
            "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetAnnotations\nmetadata: {name: c}\n"
            "annotations: {}\n",
            "failed to configure function: input annotation list cannot be empty",
        ),
        (
            "apiVersion: fn.kpt.dev/v1alpha1\nkind: SetAnnotations\nmetadata: {name: c}\n"
            "annotations: {a: b}\nfieldSpecs: []\nadditionalAnnotationFields: []\n",
            "failed to configure function: `fieldSpecs` has been deprecated, please rename it "
            "to `additionalAnnotationFields`",
        ),
    ],
)
def test_configuration_errors(config: str | None, message: str) -> None:
    outcome = fncase.run(
        set_annotations.run, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n", config
    )
    assert outcome.error is not None
    assert outcome.results == [{"message": message, "severity": "error"}]
    assert outcome.stderr == f"[error]: {message}"


def test_legacy_config_kind_and_field_specs() -> None:
    outcome = fncase.run(
        set_annotations.run,
        "apiVersion: dev.example.com/v1\nkind: MyResource\nmetadata:\n  name: r\n",
        """\
        apiVersion: fn.kpt.dev/v1alpha1
        kind: SetAnnotationConfig
        metadata: {name: c}
        annotations: {color: orange}
        fieldSpecs:
          - kind: MyResource
            group: dev.example.com
            version: v1
            path: spec/selector/annotations
            create: true
        """,
    )
    assert "spec:\n  selector:\n    annotations:\n      color: orange\n" in outcome.items
