"""The operator renders a Draft exactly as ``lanai fn render`` renders the same package.

Teams render on their laptops and the operator renders again on every edit: if the two
disagreed, every Draft would show a diff nobody made. Each test sends a Draft's files
through its resources object, writes the same files to a directory, runs the CLI there,
and compares every file (the Kptfile's ``Rendered`` condition and ``renderStatus``
included) and the results the PackageRevision reports with those the CLI wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.support.cluster import condition
from tests.support.team import AUTHOR, REPO, Team, edit, init_spec
from tests.support.waiting import wait_for

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  size: '1'\n"
SERVICE = """\
# the web front
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    tier: front
  ports:
  - port: 80
"""
SUCCEEDS = """pipeline:
  mutators:
  - image: set-labels:v0.2.0
    configMap:
      app: web
  - image: set-namespace:v0.4.1
    configMap:
      namespace: shop
  validators:
  - image: ensure-name-substring:v0.2.0
    configMap:
      prepend: we
"""
FAILS = """pipeline:
  mutators:
  - image: set-labels:v0.2.0
    configMap:
      app: web
  - image: starlark:v0.5.0
    configMap:
      source: |
        fail("no shop namespace yet")
"""


def _cli_render(files: dict[str, str], where: Path) -> tuple[int, dict[str, str], Any]:
    """``lanai fn render`` over ``files`` written to a directory: its exit code, the
    files afterwards and the results it wrote."""
    package = where / "pkg"
    for path, text in files.items():
        target = package / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "lanai", "fn", "render", str(package),
         "--results-dir", str(where / "results")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    rendered = {
        str(path.relative_to(package)): path.read_text()
        for path in sorted(package.rglob("*"))
        if path.is_file()
    }
    results = YAML(typ="safe").load((where / "results" / "results.yaml").read_text())
    return done.returncode, rendered, results


def _submitted(team: Team, name: str, pipeline: str) -> dict[str, str]:
    """The Draft's files with ``pipeline`` appended to its Kptfile and two resources."""
    current = wait_for(lambda: team.get(name, "prr"), what=f"resources of {name}")
    files = dict(current["spec"]["resources"])
    files["Kptfile"] += pipeline
    files["cm.yaml"] = CONFIGMAP
    files["svc.yaml"] = SERVICE
    return files


def _rendered_after(team: Team, name: str, generation: int) -> dict[str, Any]:
    """The resources object once the edit after ``generation`` was rendered."""
    return wait_for(
        lambda: (
            (o := team.get(name, "prr"))
            and o["metadata"]["generation"] > generation
            and (o.get("status") or {}).get("observedGeneration") == o["metadata"]["generation"]
            and o
        ),
        what=f"the edit of {name} to be rendered",
    )


def test_a_draft_renders_as_the_cli_renders(team: Team, tmp_path: Path) -> None:
    name = f"{REPO}.parity.v1"
    team.create(name, init_spec("parity", "v1"))
    team.settled(name)
    files = _submitted(team, name, SUCCEEDS)
    exit_code, expected, results = _cli_render(files, tmp_path)
    assert exit_code == 0

    edit(team, name, files)
    resources = team.get(name, "prr") or {}
    assert resources["spec"]["resources"] == expected
    head = team.refs()["refs/heads/drafts/parity/v1"]
    for path, text in expected.items():
        assert team.show(head, f"parity/{path}") == text, path
    assert "namespace: shop" in expected["svc.yaml"]
    assert "RenderSuccess" in expected["Kptfile"]

    assert resources["status"]["renderStatus"] == {"error": "", "result": results}
    revision = team.settled(name)
    assert condition(revision, "Rendered")["status"] == "True"  # type: ignore[index]
    assert revision["status"]["renderStatus"] == {"error": "", "result": results}


def test_a_failed_render_records_what_the_cli_records(team: Team, tmp_path: Path) -> None:
    name = f"{REPO}.parityfail.v1"
    team.create(name, init_spec("parityfail", "v1"))
    team.settled(name)
    team.cluster.kubectl(
        "annotate", "-n", team.namespace, "rpkg", name,
        "porch.kpt.dev/push-on-render-failure=true", user=AUTHOR,
    )  # fmt: skip
    files = _submitted(team, name, FAILS)
    exit_code, expected, results = _cli_render(files, tmp_path)
    assert exit_code == 1
    assert expected["cm.yaml"] == CONFIGMAP  # a failed render changes no resource
    assert "RenderFailed" in expected["Kptfile"]
    assert "errorSummary" in expected["Kptfile"]

    generation = (team.get(name, "prr") or {})["metadata"]["generation"]
    team.cluster.kubectl(
        "patch", "-n", team.namespace, "prr", name, "--type=merge",
        "-p", json.dumps({"spec": {"resources": files}}), user=AUTHOR, check=False,
    )  # fmt: skip
    resources = _rendered_after(team, name, generation)
    head = wait_for(
        lambda: (
            (ref := team.refs()["refs/heads/drafts/parityfail/v1"])
            and "RenderFailed" in team.show(ref, "parityfail/Kptfile")
            and ref
        ),
        what="the failed render to be pushed",
    )
    for path, text in expected.items():
        assert team.show(head, f"parityfail/{path}") == text, path

    render_status = resources["status"]["renderStatus"]
    assert render_status["result"] == results
    assert render_status["error"].startswith("error rendering package in kpt function pipeline")
    revision = wait_for(
        lambda: (
            (r := team.get(name))
            and (c := condition(r, "Rendered"))
            and c["status"] == "False"
            and r
        ),
        what="the PackageRevision to report the failed render",
    )
    assert revision["status"]["renderStatus"]["result"] == results
    message = condition(revision, "Rendered")["message"]  # type: ignore[index]
    assert message == render_status["error"]
    assert "starlark" in message
