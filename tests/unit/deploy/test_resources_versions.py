"""PackageRevisionResources is served at v1alpha2 and, for Porch's clients, v1alpha1: one
stored object, ``conversion: None``. That is lossless only while the two schemas are
the same (the API server prunes what a version's schema lacks when it converts), and it
serves porchctl only while Porch's v1alpha1 fields are all there and optional on update."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CRD = ROOT / "crds" / "porch.kpt.dev_packagerevisionresources.yaml"
POLICY = ROOT / "config" / "policy" / "resources-names.yaml"

PORCH_V1ALPHA1_SPEC = {"packageName", "workspaceName", "revision", "repository", "resources"}
PORCH_V1ALPHA1_COLUMNS = [
    ("Package", ".spec.packageName"),
    ("WorkspaceName", ".spec.workspaceName"),
    ("Revision", ".spec.revision"),
    ("Repository", ".spec.repository"),
    ("Files", ".status.fileCount"),
]


def _versions() -> dict[str, dict[str, Any]]:
    crd = yaml.safe_load(CRD.read_text())
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    return {v["name"]: v for v in crd["spec"]["versions"]}


def test_both_versions_served_one_stored_same_schema() -> None:
    versions = _versions()
    assert set(versions) == {"v1alpha1", "v1alpha2"}
    assert all(v["served"] for v in versions.values())
    assert [n for n, v in versions.items() if v["storage"]] == ["v1alpha2"]
    assert versions["v1alpha1"]["schema"] == versions["v1alpha2"]["schema"]
    assert versions["v1alpha1"]["subresources"] == versions["v1alpha2"]["subresources"]
    assert versions["v1alpha1"]["selectableFields"] == versions["v1alpha2"]["selectableFields"]


def test_porchs_v1alpha1_fields_and_columns() -> None:
    v1 = _versions()["v1alpha1"]
    schema = v1["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]
    assert set(spec["properties"]) >= PORCH_V1ALPHA1_SPEC
    assert "required" not in spec  # porchctl's PUT carries only spec.resources
    assert spec["properties"]["revision"]["type"] == "integer"
    assert "renderStatus" in schema["properties"]["status"]["properties"]
    columns = [(c["name"], c["jsonPath"]) for c in v1["additionalPrinterColumns"]]
    assert columns == PORCH_V1ALPHA1_COLUMNS


def test_the_names_policy_restores_what_an_update_leaves_out() -> None:
    policy, binding = yaml.safe_load_all(POLICY.read_text())
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules == [
        {
            "apiGroups": ["porch.kpt.dev"],
            "apiVersions": ["*"],
            "operations": ["UPDATE"],
            "resources": ["packagerevisionresources"],
        }
    ]
    expression = policy["spec"]["mutations"][0]["jsonPatch"]["expression"]
    for field in ("packageName", "repository", "workspaceName", "revision"):
        assert f"value: oldObject.spec.{field}" in expression
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    kustomization = yaml.safe_load((POLICY.parent / "kustomization.yaml").read_text())
    assert POLICY.name in kustomization["resources"]
