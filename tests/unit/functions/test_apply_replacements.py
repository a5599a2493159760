from __future__ import annotations

import re

import pytest

from lanai.functions.builtin import apply_replacements
from lanai.kpt import fnapi
from tests.unit.functions import yamlkit


def config(replacements: str) -> str:
    return (
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: ApplyReplacements\n"
        "metadata: {name: r}\nreplacements:\n" + replacements
    )


def test_catalog_simple_example_creates_the_target_field() -> None:
    rl = yamlkit.resource_list(
        """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: hello
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: my-pod
        spec:
          containers:
            - image: busybox
              name: myapp-container
          restartPolicy: OnFailure
        """,
        config(
            """\
  - source:
      kind: Pod
      name: my-pod
      fieldPath: spec
    targets:
      - select:
          name: hello
          kind: Job
        fieldPaths:
          - spec.template.spec
        options:
          create: true
"""
        ),
    )
    apply_replacements.run(rl)
    job = rl["items"][0]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-api
  labels: {app: my-api}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: api
          image: myorg/my-api:1.0.0
          env:
            - name: SERVICE_NAME
              value: PLACEHOLDER # replaced
        - name: sidecar
          image: envoy:1.0
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  version: "2.1.0"
  replicas: "3"
  host: api.example.com
---
apiVersion: v1
kind: Service
metadata:
  name: svc
"""

CASES = [
    (
        "list selectors",
        """\
  - source: {kind: Service, name: svc}
    targets:
      - select: {kind: Deployment}
        fieldPaths: ["spec.template.spec.containers.[name=api].env.[name=SERVICE_NAME].value"]
""",
        "spec/template/spec/containers/0/env/0/value",
        "svc",
    ),
    (
        "bracket without dot and delimiter index",
        """\
  - source: {kind: ConfigMap, fieldPath: data.version}
    targets:
      - select: {kind: Deployment}
        fieldPaths: ["spec.template.spec.containers[name=api].image"]
        options: {delimiter: ":", index: 1}
""",
        "spec/template/spec/containers/0/image",
        "myorg/my-api:2.1.0",
    ),
    (
        "source delimiter",
        """\
  - source: {kind: ConfigMap, fieldPath: data.host, options: {delimiter: ".", index: 0}}
    targets:
      - select: {kind: Deployment}
        fieldPaths: [metadata.labels.app]
""",
        "metadata/labels/app",
        "api",
    ),
    (
        "wildcard",
        """\
  - source: {kind: ConfigMap, fieldPath: data.version}
    targets:
      - select: {kind: Deployment}
        fieldPaths: [spec.template.spec.containers.*.image]
""",
        "spec/template/spec/containers/1/image",
        "2.1.0",
    ),
    (
        "escaped dots and default target field",
        """\
  - source: {kind: Service}
    targets:
      - select: {kind: ConfigMap}
        fieldPaths: [data.some\\.dotted\\.key]
        options: {create: true}
""",
        "data/some.dotted.key",
        "svc",
    ),
    (
        "missing target without create is skipped",
        """\
  - source: {kind: Service}
    targets:
      - select: {kind: Deployment}
        fieldPaths: [spec.missing.field]
""",
        "spec/replicas",
        1,
    ),
]


def _get(node: object, dotted: str) -> object:
    for part in dotted.split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
    return node


@pytest.mark.parametrize(
    ("case", "replacements", "path", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_replacement_cases(case: str, replacements: str, path: str, expected: object) -> None:
    rl = yamlkit.resource_list(DEPLOYMENT, config(replacements))
    apply_replacements.run(rl)
    kind = "ConfigMap" if path.startswith("data") else "Deployment"
    target = next(i for i in rl["items"] if i["kind"] == kind)
    assert _get(target, path) == expected


def test_reject_and_comments_survive() -> None:
    rl = yamlkit.resource_list(
        DEPLOYMENT,
        config(
            """\
  - source: {kind: Service}
    targets:
      - select: {version: v1, group: ""}
        reject: [{kind: Service}]
        fieldPaths: [metadata.annotations.source]
        options: {create: true}
      - select: {kind: Deployment}
        fieldPaths: ["spec.template.spec.containers.[name=api].env.[name=SERVICE_NAME].value"]
"""
        ),
    )
    apply_replacements.run(rl)
    kinds = {i["kind"]: i["metadata"].get("annotations") for i in rl["items"]}
    assert kinds["ConfigMap"] == {"source": "svc"}
    assert kinds["Service"] is None
    assert kinds["Deployment"] is None
    assert re.search(r"value: svc +# replaced", yamlkit.dump_items(rl))


@pytest.mark.parametrize(
    ("replacements", "message"),
    [
        ("  - source: {kind: Nope}\n    targets: []\n", "nothing selected"),
        ("  - source: {version: v1}\n    targets: []\n", "multiple matches"),
        ("  - source: {kind: Service, fieldPath: spec.x}\n    targets: []\n", "is missing"),
        ("  - path: other.yaml\n", "not supported"),
    ],
)
def test_errors(replacements: str, message: str) -> None:
    rl = yamlkit.resource_list(DEPLOYMENT, config(replacements))
    with pytest.raises(fnapi.FunctionError, match=message):
        apply_replacements.run(rl)


def test_source_value_literal() -> None:
    rl = yamlkit.resource_list(
        DEPLOYMENT,
        config(
            "  - sourceValue: '7'\n    targets:\n      - select: {kind: Deployment}\n"
            "        fieldPaths: [spec.replicas]\n"
        ),
    )
    apply_replacements.run(rl)
    assert rl["items"][0]["spec"]["replicas"] == "7"
