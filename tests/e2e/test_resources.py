"""A Draft's files through PackageRevisionResources: what is pushed when, and how big.

A failing pipeline pushes nothing, unless the PackageRevision asks for it with
``porch.kpt.dev/push-on-render-failure: "true"``: then the resources as submitted are
pushed, or, when the root Kptfile says ``kpt.dev/save-on-render-failure: "true"``, what
the pipeline rendered before it failed. Either way the error is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support import gitwork, manifests
from tests.support.cluster import condition
from tests.support.team import AUTHOR, REPO, Team, edit, init_spec
from tests.support.waiting import wait_for

PUSH_ON_FAILURE = {"porch.kpt.dev/push-on-render-failure": "true"}
LABEL_THEN_FAIL = """pipeline:
  mutators:
  - image: set-labels:v0.2.0
    configMap:
      app: web
  - image: example.com/no-such-function:v1
"""
CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  size: '{size}'\n"
)


def _resources(team: Team, name: str) -> dict[str, Any]:
    return wait_for(lambda: team.get(name, "prr"), what=f"resources of {name}")


def _render_failure(team: Team, name: str) -> dict[str, Any]:
    """The PackageRevision once its Rendered condition is False."""

    def failed() -> dict[str, Any] | None:
        obj = team.get(name)
        found = condition(obj, "Rendered")
        return obj if found and found["status"] == "False" else None

    return wait_for(failed, timeout=60, what=f"Rendered=False on {name}")


def test_push_on_render_failure_pushes_the_submitted_resources_and_reports(team: Team) -> None:
    name = f"{REPO}.pushed.v1"
    team.create(name, init_spec("pushed", "v1"), annotations=PUSH_ON_FAILURE)
    team.settled(name)
    head = team.refs()["refs/heads/drafts/pushed/v1"]
    kptfile = _resources(team, name)["spec"]["resources"]["Kptfile"]
    edit(team, name, {"Kptfile": kptfile + LABEL_THEN_FAIL, "cm.yaml": CONFIGMAP.format(size=1)})

    failed = _render_failure(team, name)
    message = condition(failed, "Rendered")["message"]  # type: ignore[index]
    assert "error rendering package in kpt function pipeline" in message
    assert "example.com/no-such-function:v1" in message
    pushed = team.refs()["refs/heads/drafts/pushed/v1"]
    assert pushed != head
    assert team.show(pushed, "pushed/cm.yaml") == CONFIGMAP.format(size=1)  # not rendered
    assert "no-such-function" in team.show(pushed, "pushed/Kptfile")
    resources = team.get(name, "prr") or {}
    assert "error rendering package" in resources["status"]["renderStatus"]["error"]
    assert "RenderFailed" in team.reasons(name)


def test_save_on_render_failure_pushes_the_partly_rendered_output(team: Team) -> None:
    name = f"{REPO}.saved.v1"
    team.create(name, init_spec("saved", "v1"))
    team.settled(name)
    head = team.refs()["refs/heads/drafts/saved/v1"]
    kptfile = _resources(team, name)["spec"]["resources"]["Kptfile"]
    saving = kptfile.replace(
        "  annotations:\n", '  annotations:\n    kpt.dev/save-on-render-failure: "true"\n', 1
    )
    assert saving != kptfile
    edit(team, name, {"Kptfile": saving + LABEL_THEN_FAIL, "cm.yaml": CONFIGMAP.format(size=1)})
    _render_failure(team, name)
    # Saving is what render does; pushing is the PackageRevision's decision.
    assert team.refs()["refs/heads/drafts/saved/v1"] == head

    team.cluster.kubectl(
        "annotate", "-n", team.namespace, "rpkg", name,
        "porch.kpt.dev/push-on-render-failure=true", user=AUTHOR,
    )  # fmt: skip
    edit(team, name, {"cm.yaml": CONFIGMAP.format(size=2)})
    pushed = wait_for(
        lambda: (ref := team.refs()["refs/heads/drafts/saved/v1"]) != head and ref,
        what="the partly rendered package to be pushed",
    )
    cm = team.show(pushed, "saved/cm.yaml")
    assert "app: web" in cm  # set-labels ran before the failing function
    assert "size: '2'" in cm
    failed = _render_failure(team, name)
    assert "no-such-function" in condition(failed, "Rendered")["message"]  # type: ignore[index]


def test_an_update_without_changes_succeeds_and_renders_cleanly(team: Team) -> None:
    name = f"{REPO}.same.v1"
    team.create(name, init_spec("same", "v1"))
    team.settled(name)
    kptfile = _resources(team, name)["spec"]["resources"]["Kptfile"]
    labels = (
        "pipeline:\n  mutators:\n  - image: set-labels:v0.2.0\n    configMap:\n      app: web\n"
    )
    edit(team, name, {"Kptfile": kptfile + labels, "cm.yaml": CONFIGMAP.format(size=1)})
    head = team.refs()["refs/heads/drafts/same/v1"]
    assert "app: web" in team.show(head, "same/cm.yaml")

    # The object as it is, sent back: accepted, nothing to commit.
    shown = _resources(team, name)
    replaced = team.cluster.kubectl(
        "replace", "-f", "-", input=json.dumps(shown), user=AUTHOR, check=False
    )
    assert replaced.returncode == 0, replaced.stderr
    # The files before render, sent again: they render to what Git holds already.
    edit(team, name, {"cm.yaml": CONFIGMAP.format(size=1)})
    resources = wait_for(
        lambda: (
            (o := team.get(name, "prr")) and "app: web" in o["spec"]["resources"]["cm.yaml"] and o
        ),
        what="the resources to show the rendered file again",
    )
    assert team.refs()["refs/heads/drafts/same/v1"] == head
    rendered = condition(resources, "Rendered")
    assert rendered is not None
    assert rendered["status"] == "True"
    assert resources["status"]["renderStatus"]["error"] == ""
    assert condition(team.settled(name), "Rendered")["status"] == "True"  # type: ignore[index]


def test_a_one_mebibyte_configmap_round_trips(team: Team, tmp_path: Path) -> None:
    """As large as a PackageRevisionResources object can be: it is a custom resource, so
    etcd (2 MiB per request) and the API server (3 MiB per body) bound it; Porch serves
    the kind from its own API server and takes 5 MiB."""
    name = f"{REPO}.large.v1"
    team.create(name, init_spec("large", "v1"))
    team.settled(name)
    blob = "".join(f"{index:07d}-abcdefghijklmnopqrstuvwxyz\n" for index in range(30_000))
    configmap = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: large\ndata:\n  blob: |\n"
        + "".join(f"    {line}\n" for line in blob.splitlines())
    )
    assert len(configmap) > 1024 * 1024
    files = {**_resources(team, name)["spec"]["resources"], "cm.yaml": configmap}
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"spec": {"resources": files}}))
    team.cluster.kubectl(
        "patch", "-n", team.namespace, "prr", name, "--type=merge", f"--patch-file={patch}",
        user=AUTHOR,
    )  # fmt: skip
    head = wait_for(
        lambda: (
            (ref := team.refs()["refs/heads/drafts/large/v1"])
            and "large/cm.yaml" in team.files(ref)
            and ref
        ),
        timeout=60,
        what="the large ConfigMap to be committed",
    )
    assert team.show(head, "large/cm.yaml") == configmap
    shown = wait_for(
        lambda: (
            (o := team.get(name, "prr"))
            and o["status"].get("observedGeneration") == o["metadata"]["generation"]
            and o
        ),
        what="the resources object to settle",
    )
    assert shown["spec"]["resources"]["cm.yaml"] == configmap
    assert condition(shown, "Rendered")["status"] == "True"  # type: ignore[index]


def test_files_too_large_for_the_api_are_listed_kept_in_git_and_survive_edits(
    team: Team, tmp_path: Path
) -> None:
    """A package pushed to Git with more than an API object can hold: its largest file is
    left out of the resources object (said in status and a condition), and an edit
    through the object keeps it in Git as it is."""
    name = f"{REPO}.huge.v1"
    team.create(name, init_spec("huge", "v1"))
    team.settled(name)
    branch = "drafts/huge/v1"
    work = gitwork.clone(team.url, tmp_path / "work")
    gitwork.git(work, "checkout", "-q", branch)
    blob = "".join(f"{index:08d}-abcdefghijklmnopqrstuvwxyz0123456789\n" for index in range(60_000))
    big = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: |\n" + "".join(
        f"    {line}\n" for line in blob.splitlines()
    )
    assert len(big) > 2 * 1024 * 1024
    gitwork.commit_package(work, "huge", {"big.yaml": big}, "a generated file")
    gitwork.git(work, "push", "-q", "origin", branch)
    manifests.sync_now(team.cluster, team.namespace, REPO)

    shown = wait_for(
        lambda: (o := team.get(name, "prr")) and (o.get("status") or {}).get("omittedFiles") and o,
        timeout=60,
        what="the big file listed as omitted",
    )
    assert shown["status"]["omittedFiles"] == ["big.yaml"]
    assert "big.yaml" not in shown["spec"]["resources"]
    complete = condition(shown, "Complete")
    assert complete is not None
    assert (complete["status"], complete["reason"]) == ("False", "TooLarge")
    assert "in Git, unchanged by edits here" in complete["message"]
    assert "ResourcesTooLarge" in team.reasons(name)

    edit(team, name, {"README.md": "edited while big.yaml stays in Git\n"})
    head = team.refs()[f"refs/heads/{branch}"]
    assert team.show(head, "huge/README.md") == "edited while big.yaml stays in Git\n"
    assert team.show(head, "huge/big.yaml") == big
