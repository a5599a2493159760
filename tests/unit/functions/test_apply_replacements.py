from __future__ import annotations

import re

import pytest

from lanai.functions.builtin import apply_replacements
from lanai.kpt import fnapi
from tests.unit.functions import fncase, yamlkit


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
    # An empty group selects any group, as in kustomize: the apps/v1 Deployment is a v1.
    assert kinds["ConfigMap"] == {"source": "svc"}
    assert kinds["Service"] is None
    assert kinds["Deployment"] == {"source": "svc"}
    assert re.search(r"value: svc +# replaced", yamlkit.dump_items(rl))


@pytest.mark.parametrize(
    ("replacements", "message"),
    [
        ("  - source: {kind: Nope}\n    targets: []\n", "nothing selected"),
        ("  - source: {version: v1}\n    targets: []\n", "multiple matches"),
        ("  - source: {kind: Service, fieldPath: spec.x}\n    targets: []\n", "is missing"),
        ("  - path: other.yaml\n", "replacements must specify a source and at least one target"),
        (
            "  - source: {kind: Service}\n    targets:\n      - select: {kind: Deployment}\n"
            "        fieldPaths: [spec.missing.field]\n",
            'unable to find field "spec.missing.field" in replacement target',
        ),
        (
            "  - sourceValue: '7'\n    targets:\n      - select: {kind: Deployment}\n",
            "replacements must specify a source and at least one target",
        ),
    ],
)
def test_errors(replacements: str, message: str) -> None:
    rl = yamlkit.resource_list(DEPLOYMENT, config(replacements))
    with pytest.raises(fnapi.FunctionError, match=message):
        apply_replacements.run(rl)


def test_package_context_name_into_a_group_subject() -> None:
    outcome = fncase.run(
        apply_replacements.run,
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: kptfile.kpt.dev
          annotations:
            config.kubernetes.io/local-config: "true"
        data:
          name: istio-backend1
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: app-admin
          namespace: example
        subjects:
          - kind: Group
            name: example.admin@bigco.com
            apiGroup: rbac.authorization.k8s.io
        """,
        config(
            """\
  - source: {kind: ConfigMap, name: kptfile.kpt.dev, fieldPath: data.name}
    targets:
      - select: {name: app-admin, kind: RoleBinding}
        fieldPaths: ["subjects.[kind=Group].name"]
        options: {delimiter: ".", index: 0}
"""
        ),
    )
    assert outcome.error is None
    assert "    name: istio-backend1.admin@bigco.com\n" in outcome.items
    assert outcome.results == []


def test_a_target_scalar_keeps_its_quoting_and_type() -> None:
    outcome = fncase.run(
        apply_replacements.run,
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: src
        data:
          count: "5"
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: d
          labels:
            version: 'x'
        spec:
          replicas: 1
        """,
        config(
            """\
  - source: {kind: ConfigMap, fieldPath: data.count}
    targets:
      - select: {kind: Deployment}
        fieldPaths: [spec.replicas, metadata.labels.version]
"""
        ),
    )
    assert "  replicas: 5\n" in outcome.items
    assert "    version: '5'\n" in outcome.items


def test_failures_are_the_sdks() -> None:
    outcome = fncase.run(apply_replacements.run, DEPLOYMENT, None)
    assert outcome.stderr == "failed to evaluate function: error: function failure"
    assert outcome.results == [
        {"message": "FunctionConfig is missing. Expect `ApplyReplacements`", "severity": "error"}
    ]
