"""The requests porchctl makes for ``rpkg pull``, ``rpkg push`` and ``rpkg get
--show-kptfile``, sent as raw HTTP bodies: PackageRevisionResources at
``porch.kpt.dev/v1alpha1`` (Porch keeps that kind at v1alpha1, also for v1alpha2
PackageRevisions), the same stored object Lanai serves at v1alpha2.

porchctl (``pkg/cli/commands/rpkg/{pull,push,get}``) uses controller-runtime's typed
client: pull and get GET the object by name; push PUTs a body built from Porch's Go types
holding only metadata {name, namespace, resourceVersion} and spec.resources (plus the
zero values Go writes: ``creationTimestamp: null`` and an empty renderStatus).
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.team import AUTHOR, REPO, Team, init_spec
from tests.support.waiting import wait_for

V1ALPHA1 = "/apis/porch.kpt.dev/v1alpha1"


def _path(namespace: str, name: str = "") -> str:
    path = f"{V1ALPHA1}/namespaces/{namespace}/packagerevisionresources"
    return f"{path}/{name}" if name else path


def _get(team: Team, path: str) -> dict[str, Any]:
    done = team.cluster.kubectl("get", "--raw", path, user=AUTHOR)
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _put(team: Team, path: str, body: dict[str, Any]) -> tuple[int, str]:
    done = team.cluster.kubectl(
        "replace", "--raw", path, "-f", "-", input=json.dumps(body), user=AUTHOR, check=False
    )
    return done.returncode, done.stdout + done.stderr


def porchctl_push_body(namespace: str, name: str, rv: str, files: dict[str, str]) -> dict[str, Any]:
    """What ``porchctl rpkg push`` marshals (porchapi.PackageRevisionResources)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if rv:
        metadata["resourceVersion"] = rv
    metadata["creationTimestamp"] = None
    return {
        "kind": "PackageRevisionResources",
        "apiVersion": "porch.kpt.dev/v1alpha1",
        "metadata": metadata,
        "spec": {"resources": files},
        "status": {
            "renderStatus": {
                "result": {"metadata": {"creationTimestamp": None}, "exitCode": 0},
                "error": "",
            }
        },
    }


def test_porchctl_pull_get_list_and_push_at_v1alpha1(team: Team) -> None:
    name = f"{REPO}.pushed.ws"
    team.create(name, init_spec("pushed", "ws"))
    team.settled(name)
    wait_for(lambda: team.get(name, "prr"), what=f"resources of {name}")

    # rpkg pull / get --show-kptfile: GET by name at v1alpha1.
    pulled = _get(team, _path(team.namespace, name))
    assert pulled["apiVersion"] == "porch.kpt.dev/v1alpha1"
    assert pulled["kind"] == "PackageRevisionResources"
    spec = pulled["spec"]
    assert (spec["repository"], spec["packageName"], spec["workspaceName"]) == (
        REPO,
        "pushed",
        "ws",
    )
    assert "kind: Kptfile" in spec["resources"]["Kptfile"]
    # the same object at v1alpha2
    stored = team.get(name, "prr")
    assert stored is not None
    assert stored["metadata"]["uid"] == pulled["metadata"]["uid"]
    assert stored["spec"]["resources"] == spec["resources"]

    # list at v1alpha1, and kubectl's table with Porch's columns
    listed = _get(team, _path(team.namespace))
    assert name in [item["metadata"]["name"] for item in listed["items"]]
    table = team.cluster.kubectl(
        "get", "packagerevisionresources.v1alpha1.porch.kpt.dev", name, "-n", team.namespace,
        user=AUTHOR,
    ).stdout  # fmt: skip
    header = table.splitlines()[0].split()
    assert header == ["NAME", "PACKAGE", "WORKSPACENAME", "REVISION", "REPOSITORY", "FILES"]
    assert table.splitlines()[1].split()[:3] == [name, "pushed", "ws"]

    # rpkg push: PUT with only metadata {name, namespace, resourceVersion} and resources
    files = dict(spec["resources"])
    files["cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pushed\n"
    rv = pulled["metadata"]["resourceVersion"]
    code, out = _put(
        team, _path(team.namespace, name), porchctl_push_body(team.namespace, name, rv, files)
    )
    assert code == 0, out
    answered = json.loads(out)
    assert answered["apiVersion"] == "porch.kpt.dev/v1alpha1"
    # the names left out are kept (derived from the object the name names)
    kept = answered["spec"]
    assert (kept["repository"], kept["packageName"], kept["workspaceName"]) == (
        REPO,
        "pushed",
        "ws",
    )
    assert answered["status"].get("lifecycle") == "Draft"  # Lanai's status survived

    def committed() -> bool:
        return "pushed/cm.yaml" in team.files("refs/heads/drafts/pushed/ws")

    wait_for(committed, timeout=60, what="the pushed file to be committed")
    assert team.show("refs/heads/drafts/pushed/ws", "pushed/cm.yaml") == files["cm.yaml"]
    assert team.commit_message("refs/heads/drafts/pushed/ws").splitlines()[:2] == [
        "alice@example.com",
        "Rendering package",
    ]

    def acted_on() -> bool:
        now = team.get(name, "prr") or {}
        return bool(
            (now.get("status") or {}).get("observedGeneration") == now["metadata"]["generation"]
        )

    wait_for(acted_on, timeout=60, what="the push to be marked as acted on")

    # a push from a stale pull is refused with Kubernetes' (and Porch's) conflict wording
    code, out = _put(
        team, _path(team.namespace, name), porchctl_push_body(team.namespace, name, rv, files)
    )
    assert code != 0
    assert (
        f'Operation cannot be fulfilled on packagerevisionresources.porch.kpt.dev "{name}": '
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    ) in out

    # a push without a resourceVersion is refused: Kubernetes' own rule for this kind,
    # worded "metadata.resourceVersion: Invalid value: 0: must be specified for an update"
    # where Porch says "resourceVersion must be specified for an update"
    fresh = _get(team, _path(team.namespace, name))
    code, out = _put(
        team,
        _path(team.namespace, name),
        porchctl_push_body(team.namespace, name, "", dict(fresh["spec"]["resources"])),
    )
    assert code != 0
    assert "metadata.resourceVersion: Invalid value: 0: must be specified for an update" in out
    assert (
        _get(team, _path(team.namespace, name))["metadata"]["resourceVersion"]
        == (fresh["metadata"]["resourceVersion"])
    )
