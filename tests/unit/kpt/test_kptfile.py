from __future__ import annotations

import pytest

from lanai.kpt import kptfile, yamlio

FULL = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: app
  annotations:
    kpt.dev/bfs-rendering: "true"
upstream:
  type: git
  git:
    repo: https://example.com/repo.git
    directory: /app
    ref: main
  updateStrategy: resource-merge
upstreamLock:
  type: git
  git:
    repo: https://example.com/repo.git
    directory: /app
    ref: main
    commit: abc123
info:
  site: https://example.com
  emails: [a@example.com]
  license: Apache-2.0
  licenseFile: LICENSE
  description: an app
  keywords: [a, b]
  man: man.md
  readinessGates:
  - conditionType: Ready
pipeline:
  mutators:
  - image: set-labels:v0.2
    configMap:
      app: x
    selectors:
    - kind: Deployment
      labels:
        tier: web
    exclude:
    - name: skip
  validators:
  - exec: ./validate
    configPath: config.yaml
    name: check
inventory:
  namespace: ns
  name: inv
  inventoryID: "1"
status:
  conditions:
  - type: Rendered
    status: "True"
    reason: RenderSuccess
  renderStatus:
    mutationSteps: []
"""


def test_full_kptfile_parses() -> None:
    model = kptfile.parse(FULL)
    assert model.upstream is not None
    assert model.upstream.update_strategy == "resource-merge"
    assert model.upstream_lock is not None
    assert model.upstream_lock.git is not None
    assert model.upstream_lock.git.commit == "abc123"
    assert model.info is not None
    assert model.info.readiness_gates is not None
    assert model.info.readiness_gates[0].condition_type == "Ready"
    assert model.mutators[0].resolved_image == (
        "ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2"
    )
    assert model.mutators[0].selectors is not None
    assert model.validators[0].config_path == "config.yaml"
    assert model.annotation(kptfile.BFS_RENDERING) == "true"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("set-labels", "ghcr.io/kptdev/krm-functions-catalog/set-labels:latest"),
        ("set-labels:v1", "ghcr.io/kptdev/krm-functions-catalog/set-labels:v1"),
        ("example.com/fn/x", "example.com/fn/x:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        ("example.com/x@sha256:abc", "example.com/x@sha256:abc"),
    ],
)
def test_normalize_image(image: str, expected: str) -> None:
    assert kptfile.normalize_image(image) == expected


def _pipeline(function: str) -> str:
    return (
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: x\n"
        f"pipeline:\n  mutators:\n  - {function}\n"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (_pipeline("image: a\n    exec: b"), "pipeline.mutators[0]: a function needs exactly one"),
        (_pipeline("name: only"), "exactly one of image and exec"),
        (_pipeline("image: a\n    configPath: c.yaml\n    configMap: {a: b}"), "not both"),
        (_pipeline("image: a\n    imag: typo"), "pipeline.mutators[0].imag: unknown field"),
        ("apiVersion: kpt.dev/v1\nkind: Kptfile\nspec: {}\n", "spec: unknown field"),
        ("apiVersion: kpt.dev/v1alpha2\nkind: Kptfile\n", "kpt.dev/v1alpha2 is deprecated"),
        ("apiVersion: kpt.dev/v1alpha1\nkind: Kptfile\n", "deprecated"),
        ("apiVersion: v1\nkind: Kptfile\n", "apiVersion must be kpt.dev/v1"),
        ("apiVersion: kpt.dev/v1\nkind: Other\n", "kind must be Kptfile"),
        (
            "apiVersion: kpt.dev/v1\nkind: Kptfile\nupstream:\n  updateStrategy: nope\n",
            "unknown updateStrategy",
        ),
        ("a: [", "sub/Kptfile"),
    ],
)
def test_strict_errors_say_what_and_where(text: str, fragment: str) -> None:
    with pytest.raises(kptfile.KptfileError) as caught:
        kptfile.parse(text, path="sub/Kptfile")
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("sub/Kptfile")


COMMENTED = """\
# the package
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: app # its name
info:
  description: hello # keep me
"""


def test_round_trip_edits_keep_comments() -> None:
    doc = yamlio.load_document(COMMENTED)
    kptfile.set_label(doc, "team", "a")
    kptfile.set_annotation(doc, "x/y", "true")
    kptfile.set_condition(doc, "Rendered", "True", "RenderSuccess")
    kptfile.set_condition(doc, "Rendered", "False", "RenderFailed", "boom")
    kptfile.set_render_status(doc, {"errorSummary": "boom"})
    kptfile.set_upstream(doc, "https://r", "/app", "main")
    kptfile.set_upstream_lock(doc, "https://r", "/app", "main", "c0ffee")
    kptfile.set_readiness_gates(doc, ["Ready", "Ready", "Tested"])
    text = yamlio.dump_document(doc)
    assert text.startswith("# the package\n")
    assert "# its name" in text
    assert "# keep me" in text
    model = kptfile.parse(text)
    assert model.metadata.labels == {"team": "a"}
    assert model.status is not None
    assert model.status.conditions is not None
    assert [(c.type, c.status, c.message) for c in model.status.conditions] == [
        ("Rendered", "False", "boom")
    ]
    assert model.info is not None
    assert model.info.readiness_gates is not None
    assert [g.condition_type for g in model.info.readiness_gates] == ["Ready", "Tested"]
    assert model.upstream_lock is not None
    assert model.upstream_lock.git is not None
    assert model.upstream_lock.git.commit == "c0ffee"
    assert kptfile.annotation(doc, "x/y") == "true"
    kptfile.remove_annotation(doc, "x/y")
    assert kptfile.annotation(doc, "x/y") is None


def test_config_map_scalars_read_as_strings() -> None:
    model = kptfile.parse(_pipeline("image: a\n    configMap:\n      replicas: 3\n      on: true"))
    assert model.mutators[0].config_map == {"replicas": "3", "on": "true"}


GATED = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: app
  labels:
    tier: web # the tier
    team: edge
  annotations:
    config.kubernetes.io/local-config: "true"
    owner: net
info:
  readinessGates:
  - conditionType: Tested # the test suite
  - conditionType: Scanned
"""


def test_readiness_gates_are_replaced_exactly_keeping_comments_of_those_that_stay() -> None:
    doc = yamlio.load_document(GATED)
    kptfile.replace_readiness_gates(doc, ["Approved", "Tested", "Approved"])
    text = yamlio.dump_document(doc)
    assert "# the test suite" in text
    model = kptfile.parse(text)
    assert model.info is not None
    assert model.info.readiness_gates is not None
    assert [g.condition_type for g in model.info.readiness_gates] == ["Approved", "Tested"]
    kptfile.replace_readiness_gates(doc, [])
    assert "readinessGates" not in yamlio.dump_document(doc)
    kptfile.replace_readiness_gates(yamlio.load_document("kind: Kptfile\n"), [])  # no info: fine


def test_labels_and_user_annotations_read_and_remove() -> None:
    doc = yamlio.load_document(GATED)
    assert kptfile.labels(doc) == {"tier": "web", "team": "edge"}
    assert kptfile.user_annotations(doc) == {"owner": "net"}  # kpt's own are not metadata
    kptfile.remove_label(doc, "tier")
    kptfile.remove_label(doc, "absent")
    assert kptfile.labels(doc) == {"team": "edge"}
    kptfile.remove_label(doc, "team")
    assert "labels" not in yamlio.dump_document(doc)
