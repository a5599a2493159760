"""The operator's documentation stays true: the CRD reference matches crds/, every
metric the code exports is documented, and the README links the pages."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY

from lanai.git import metrics as git_metrics
from lanai.handlers import metrics
from tools import crddocs

ROOT = Path(__file__).resolve().parents[3]


def test_crd_reference_matches_the_crds() -> None:
    assert crddocs.main(["--check"]) == 0, "run: python -m tools.crddocs"


def test_crd_reference_lists_every_field() -> None:
    for kind, crd in crddocs.load().items():
        page = (ROOT / "docs" / "crds" / crddocs.PAGES[kind]).read_text()
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        for section in ("spec", "status"):
            for path, _schema, _required in crddocs.fields(schema[section], section):
                assert f"| `{path}` |" in page, f"{kind}: {path} missing"


def test_every_lanai_metric_is_documented() -> None:
    assert metrics.RECONCILES  # imported so its metrics are registered
    assert git_metrics.GIT_SECONDS
    operations = (ROOT / "docs" / "operations.md").read_text()
    exported = {
        # prometheus-client names a counter without the _total suffix it exposes
        collector.name + ("_total" if collector.type == "counter" else "")
        for collector in REGISTRY.collect()
        if collector.name.startswith("lanai_")
    }
    assert exported, "no lanai_ metric registered"
    for name in exported:
        assert f"`{name}`" in operations, f"{name} is not in docs/operations.md"


def test_readme_links_the_documentation() -> None:
    readme = (ROOT / "README.md").read_text()
    links = set(re.findall(r"\]\(([^)#]+)\)", readme))
    pages = ["docs/operations.md", "docs/security.md"]
    for page in [*pages, *(f"docs/crds/{p}" for p in crddocs.PAGES.values())]:
        assert page in links
    for link in links:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), f"README links to a missing file: {link}"
