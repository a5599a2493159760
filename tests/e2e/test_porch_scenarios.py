"""Porch's own CLI scenarios (``test/e2e/cli/testdata/<scenario>/config.yaml`` in
nephio-project/porch), followed step by step with ``lanai rpkg`` (and kubectl where
porchctl prints with kubectl's ``custom-columns``, which ``lanai rpkg get`` does not offer).

Each step names the scenario's step it follows. The team's Repository ``blueprints``
stands for the scenarios' ``git`` repository (registered by the team fixture, as the
scenarios' first step registers theirs). Where Lanai differs on purpose the step says so:
an unpublished revision has no ``status.revision`` (Porch's v1alpha2 objects; porchctl
prints ``<none>``, where the scenarios, written for v1alpha1, print 0), and
``lanai rpkg approve`` adds the revision it published to porchctl's line.
"""

from __future__ import annotations

import pytest

from tests.support.cluster import load_yaml
from tests.support.rpkgcli import Cli
from tests.support.team import APPROVER, AUTHOR, REPO, Team

HEADER = ["NAME", "PACKAGE", "WORKSPACENAME", "REVISION", "LATEST", "LIFECYCLE", "REPOSITORY"]


@pytest.fixture
def cli(team: Team) -> Cli:
    return Cli(team.cluster, team.namespace)


def _row(cli: Cli, name: str) -> list[str]:
    header, row = cli("rpkg", "get", name).stdout.splitlines()
    assert header.split() == HEADER
    return row.split()


def _state(cli: Cli, name: str, package: str, workspace: str) -> tuple[str, str, str]:
    """REVISION, LATEST and LIFECYCLE of ``lanai rpkg get NAME`` (the other columns checked)."""
    row = _row(cli, name)
    assert (row[0], row[1], row[2], row[6]) == (name, package, workspace, REPO)
    return row[3], row[4], row[5]


def _stderr(done: object) -> str:
    return str(getattr(done, "stderr", "")).strip()


def test_rpkg_lifecycle(cli: Cli, team: Team) -> None:
    name = f"{REPO}.lifecycle-package.lifecycle"
    init = cli(
        "rpkg", "init", "--repository", REPO, "--workspace=lifecycle", "lifecycle-package",
        user=AUTHOR,
    )  # fmt: skip
    assert init.stdout == f"{name} created\n"
    assert cli("rpkg", "propose", name, user=AUTHOR).stdout == f"{name} proposed\n"

    not_published = (
        f"{name} failed (can only propose published packages for deletion; "
        f"package {name} is not published)"
    )
    refused = cli("rpkg", "propose-delete", name, user=APPROVER, ok=False)
    assert refused.returncode == 1
    assert not_published in _stderr(refused)

    columns = (
        "NAME:.metadata.name,PKG:.spec.packageName,REV:.status.revision,LIFECYCLE:.spec.lifecycle"
    )
    shown = team.cluster.kubectl(
        "get", "packagerevisions", name, "-n", team.namespace, f"--output=custom-columns={columns}"
    ).stdout.splitlines()
    assert [line.split() for line in shown] == [
        ["NAME", "PKG", "REV", "LIFECYCLE"],
        [name, "lifecycle-package", "<none>", "Proposed"],
    ]

    rejected = cli("rpkg", "reject", name, user=AUTHOR)
    assert rejected.stdout == f"{name} no longer proposed for approval\n"
    # the scenario (v1alpha1) prints revision 0: Lanai's v1alpha2 objects have none
    assert _state(cli, name, "lifecycle-package", "lifecycle") == ("<none>", "false", "Draft")
    refused = cli("rpkg", "propose-delete", name, user=APPROVER, ok=False)
    assert not_published in _stderr(refused)

    assert cli("rpkg", "propose", name, user=AUTHOR).stdout == f"{name} proposed\n"
    assert _state(cli, name, "lifecycle-package", "lifecycle") == ("<none>", "false", "Proposed")
    approved = cli("rpkg", "approve", name, user=APPROVER)
    assert approved.stdout.startswith(f"{name} approved")
    assert _state(cli, name, "lifecycle-package", "lifecycle") == ("1", "true", "Published")

    refused = cli("rpkg", "delete", name, user=APPROVER, ok=False)
    assert f'packagerevisions.porch.kpt.dev "{name}" is forbidden: ' in _stderr(refused)
    assert (
        "published PackageRevisions must be proposed for deletion by setting spec.lifecycle "
        "to 'DeletionProposed' prior to deletion"
    ) in _stderr(refused)

    proposed = cli("rpkg", "propose-delete", name, user=APPROVER)
    assert proposed.stdout == f"{name} proposed for deletion\n"
    again = cli("rpkg", "propose-delete", name, user=APPROVER)
    assert (again.returncode, again.stdout) == (0, "")
    assert _stderr(again) == f"{name} is already proposed for deletion"
    assert _state(cli, name, "lifecycle-package", "lifecycle") == ("1", "true", "DeletionProposed")

    rejected = cli("rpkg", "reject", name, user=APPROVER)
    assert rejected.stdout == f"{name} no longer proposed for deletion\n"
    refused = cli("rpkg", "reject", name, user=APPROVER, ok=False)
    assert f"{name} failed (cannot reject {name} with lifecycle 'Published')" in _stderr(refused)
    assert _state(cli, name, "lifecycle-package", "lifecycle") == ("1", "true", "Published")

    cli("rpkg", "propose-delete", name, user=APPROVER)
    assert _state(cli, name, "lifecycle-package", "lifecycle") == ("1", "true", "DeletionProposed")
    assert cli("rpkg", "delete", name, user=APPROVER).stdout == f"{name} deleted\n"
    gone = cli("rpkg", "get", name, ok=False)
    assert gone.returncode == 1
    assert f'packagerevisions.porch.kpt.dev "{name}" not found' in _stderr(gone)


def test_rpkg_init(cli: Cli, team: Team) -> None:
    name = f"{REPO}.init-package.init-1"
    made = cli(
        "rpkg", "init", "--description", "Test Package Description", "--keywords=test,package",
        "--site", "http://kpt.dev/init-package", f"--repository={REPO}", "--workspace=init-1",
        "init-package", user=AUTHOR,
    )  # fmt: skip
    assert made.stdout == f"{name} created\n"

    pulled = load_yaml(cli("rpkg", "pull", name, user=AUTHOR).stdout)
    assert pulled["kind"] == "ResourceList"
    by_path = {
        item["metadata"]["annotations"]["config.kubernetes.io/path"]: item
        for item in pulled["items"]
    }
    kptfile = by_path["Kptfile"]
    assert kptfile["info"] == {
        "description": "Test Package Description",
        "keywords": ["test", "package"],
        "site": "http://kpt.dev/init-package",
    }
    assert kptfile["metadata"]["name"] == "init-package"
    assert kptfile["metadata"]["annotations"]["config.kubernetes.io/local-config"] == "true"
    assert kptfile["status"]["conditions"] == [
        {"type": "Rendered", "status": "True", "reason": "RenderSuccess"}
    ]
    context = by_path["package-context.yaml"]
    assert (context["kind"], context["metadata"]["name"], context["data"]) == (
        "ConfigMap",
        "kptfile.kpt.dev",
        {"name": "example"},
    )

    again = cli(
        "rpkg", "init", f"--repository={REPO}", "--workspace=init-2", "init-package",
        user=AUTHOR, ok=False,
    )  # fmt: skip
    assert again.returncode == 1
    assert _stderr(again).endswith(f'package "init-package" already exists in repository "{REPO}"')
    assert team.get(f"{REPO}.init-package.init-2") is None
