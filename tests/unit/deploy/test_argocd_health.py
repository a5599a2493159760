"""The Argo CD health scripts in config/argocd, run the way Argo CD runs them.

Argo CD evaluates a health script with gopher-lua (Lua 5.1) and a small set of standard
libraries: it sets the global ``obj`` to the object (JSON numbers become Lua numbers)
and reads ``status`` and ``message`` from the table the script returns. lupa's Lua 5.1
runtime does the same here, with the libraries Argo CD leaves out removed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lupa import lua51
from ruamel.yaml import YAML

from tools import argocd_cm

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = {
    "Repository": ROOT / "config/argocd/config.porch.kpt.dev_Repository.lua",
    "PackageRevision": ROOT / "config/argocd/porch.kpt.dev_PackageRevision.lua",
}
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def _lua_value(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: _lua_value(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([_lua_value(runtime, v) for v in value])
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)  # JSON numbers reach Lua as float64, as in Argo CD
    return value


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    sandbox = runtime.globals()
    for unsafe in ("os", "io", "require", "dofile", "loadfile", "package", "debug"):
        sandbox[unsafe] = None
    sandbox["obj"] = _lua_value(runtime, obj)
    hs = runtime.execute(SCRIPTS[kind].read_text())
    assert hs is not None, "the script must return its table"
    status, message = hs["status"], hs["message"]
    assert status in ARGO_STATUSES
    assert isinstance(message, str)
    return status, message


def _object(kind: str, generation: int = 2, status: dict[str, Any] | None = None) -> dict[str, Any]:
    api = {
        "Repository": "config.porch.kpt.dev/v1alpha1",
        "PackageRevision": "porch.kpt.dev/v1alpha2",
    }[kind]
    obj: dict[str, Any] = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "blueprints", "namespace": "team-a", "generation": generation},
        "spec": {},
    }
    if status is not None:
        obj["status"] = status
    return obj


def _ready(state: str, message: str = "", reason: str = "", **extra: Any) -> dict[str, Any]:
    condition = {"type": "Ready", "status": state, "message": message, "reason": reason}
    condition.update(extra)
    return condition


def _status(*conditions: dict[str, Any], observed: int | None = 2) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": list(conditions),
        "kopf": {"progress": {}},
    }
    if observed is not None:
        status["observedGeneration"] = observed
    return status


KINDS = pytest.mark.parametrize("kind", sorted(SCRIPTS))


@KINDS
def test_no_status_yet_is_progressing(kind: str) -> None:
    status, message = health(kind, _object(kind))
    assert status == "Progressing"
    assert message.startswith("Waiting for Lanai")


@KINDS
def test_status_without_ready_is_progressing(kind: str) -> None:
    rendered = {"type": "Rendered", "status": "True", "message": "", "reason": "Rendered"}
    assert health(kind, _object(kind, status=_status(rendered))) == (
        "Progressing",
        "Waiting for the Ready condition",
    )
    assert health(kind, _object(kind, status={"kopf": {}})) == (
        "Progressing",
        "Waiting for the Ready condition",
    )


@KINDS
def test_ready_true_is_healthy(kind: str) -> None:
    ready = _ready("True", "Repository is ready", "Ready", observedGeneration=2)
    assert health(kind, _object(kind, status=_status(ready))) == ("Healthy", "Repository is ready")


@KINDS
def test_ready_true_without_message_reports_the_reason(kind: str) -> None:
    assert health(kind, _object(kind, status=_status(_ready("True", "", "Ready")))) == (
        "Healthy",
        "Ready",
    )


@KINDS
def test_ready_false_is_degraded_with_its_message(kind: str) -> None:
    cause = 'Secret "git-credentials" not found in namespace "team-a"'
    ready = _ready("False", cause, "Error", observedGeneration=2)
    rendered = {"type": "Rendered", "status": "True", "reason": "Rendered"}
    assert health(kind, _object(kind, status=_status(rendered, ready))) == ("Degraded", cause)


@KINDS
def test_ready_unknown_is_progressing(kind: str) -> None:
    assert health(kind, _object(kind, status=_status(_ready("Unknown", "", "")))) == (
        "Progressing",
        "Ready is Unknown",
    )
    assert health(kind, _object(kind, status=_status(_ready("Unknown", "pushing", "")))) == (
        "Progressing",
        "pushing",
    )


@KINDS
def test_status_behind_the_spec_is_progressing_even_when_ready(kind: str) -> None:
    stale = _object(kind, generation=3, status=_status(_ready("True", "ok", "Ready"), observed=2))
    status, message = health(kind, stale)
    assert status == "Progressing"
    assert "generation 3" in message
    assert "2" in message


@KINDS
def test_a_failure_reported_for_an_older_spec_is_not_degraded(kind: str) -> None:
    """The user fixed the spec (generation 3); the old Ready=False is not the verdict."""
    old = _ready("False", "branch missing", "Error", observedGeneration=2)
    status, message = health(kind, _object(kind, generation=3, status=_status(old, observed=None)))
    assert status == "Progressing"
    assert "generation 3" in message


@KINDS
def test_without_any_observed_generation_ready_decides(kind: str) -> None:
    """PackageRevisions mirrored from Git carry Ready but no observedGeneration."""
    mirrored = _object(
        kind, generation=1, status=_status(_ready("True", "", "Ready"), observed=None)
    )
    assert health(kind, mirrored) == ("Healthy", "Ready")


@KINDS
def test_observed_generation_ahead_or_equal_is_current(kind: str) -> None:
    ready = _ready("True", "ok", "Ready")
    assert health(kind, _object(kind, generation=2, status=_status(ready, observed=2)))[0] == (
        "Healthy"
    )


def test_configmap_patch_embeds_the_scripts_as_argo_cd_keys() -> None:
    assert argocd_cm.main(["--check"]) == 0, "run: python -m tools.argocd_cm"
    patch = YAML(typ="safe").load((ROOT / "config/argocd/argocd-cm-patch.yaml").read_text())
    assert patch["kind"] == "ConfigMap"
    assert patch["metadata"]["name"] == "argocd-cm"
    assert patch["data"] == {
        "resource.customizations.health.config.porch.kpt.dev_Repository": SCRIPTS[
            "Repository"
        ].read_text(),
        "resource.customizations.health.porch.kpt.dev_PackageRevision": SCRIPTS[
            "PackageRevision"
        ].read_text(),
    }


def test_configmap_patch_merges_into_an_existing_argocd_cm(tmp_path: Path) -> None:
    existing = tmp_path / "argocd-cm.yaml"
    existing.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\n"
        "data: {url: 'https://argocd.example.com'}\n"
    )
    done = subprocess.run(
        [
            "kubectl",
            "patch",
            "--local",
            "-f",
            str(existing),
            "--patch-file",
            str(ROOT / "config/argocd/argocd-cm-patch.yaml"),
            "-o",
            "yaml",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, KUBECONFIG=str(tmp_path / "none")),  # --local: no cluster
    )
    assert done.returncode == 0, done.stderr
    merged = YAML(typ="safe").load(done.stdout)["data"]
    assert merged["url"] == "https://argocd.example.com"
    assert set(merged) == {"url", *argocd_cm.scripts()}
