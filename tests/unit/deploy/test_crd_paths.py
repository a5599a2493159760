"""The API server's rules on PackageRevisionResources keys are the operator's own: every
served version carries the CEL written from lanai.trust, and the key count and size
limits match the ones the operator reads Git with."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from lanai.trust import sizes
from tools import crdpaths


def _versions() -> list[dict[str, Any]]:
    crd = YAML(typ="safe").load(crdpaths.CRD.read_text())
    return [v for v in crd["spec"]["versions"] if v.get("served")]


def _resources(version: dict[str, Any]) -> dict[str, Any]:
    schema = version["schema"]["openAPIV3Schema"]
    resources: dict[str, Any] = schema["properties"]["spec"]["properties"]["resources"]
    return resources


def test_the_generated_rules_are_up_to_date() -> None:
    assert crdpaths.main(["--check"]) == 0, "run: python -m tools.crdpaths"


def test_every_served_version_refuses_bad_keys_and_oversized_objects() -> None:
    versions = _versions()
    assert versions
    for version in versions:
        resources = _resources(version)
        assert resources["x-kubernetes-validations"] == crdpaths.rules(), version["name"]
        assert resources["maxProperties"] == sizes.PACKAGE_FILES


def test_the_size_rule_counts_to_the_trust_limit() -> None:
    (size_rule,) = [r for r in crdpaths.rules() if "sum()" in r["rule"]]
    assert size_rule["rule"].endswith(f"<= {sizes.RESOURCES_CHARACTERS}")
    assert "too large" in size_rule["messageExpression"]  # resources.show falls back on it
