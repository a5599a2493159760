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

from pathlib import Path

import pytest

from lanai.local import gitserver
from tests.support import blueprints
from tests.support.cluster import Cluster, load_yaml
from tests.support.gitwork import GIT_PASSWORD, GIT_USER
from tests.support.operator import OperatorProcess
from tests.support.rpkgcli import Cli
from tests.support.team import APPROVER, AUTHOR, REPO, Team, make_team

HEADER = ["NAME", "PACKAGE", "WORKSPACENAME", "REVISION", "LATEST", "LIFECYCLE", "REPOSITORY"]
BLUEPRINTS = blueprints.NAME


@pytest.fixture(scope="module")
def team(cluster: Cluster, git_server: gitserver.GitServer, operator: OperatorProcess) -> Team:
    """One team for the module's scenarios (they use distinct package names)."""
    return make_team(cluster, cluster.new_namespace("porch"), git_server)


@pytest.fixture(scope="module")
def blueprints_url(
    git_server: gitserver.GitServer, tmp_path_factory: pytest.TempPathFactory
) -> str:
    return blueprints.ensure(git_server, tmp_path_factory.mktemp("blueprints") / "work")


@pytest.fixture
def cli(team: Team) -> Cli:
    return Cli(team.cluster, team.namespace)


def _register_blueprints(cli: Cli, url: str) -> None:
    """The scenarios' ``porchctl repo register ... --name=test-blueprints``."""
    cli(
        "repo", "register", f"--repo-basic-password={GIT_PASSWORD}",
        f"--repo-basic-username={GIT_USER}", url, f"--name={BLUEPRINTS}",
        "--description", "Test Blueprints",
    )  # fmt: skip


@pytest.fixture(scope="module")
def with_blueprints(team: Team, blueprints_url: str) -> str:
    """The module's team with ``test-blueprints`` registered too; its URL."""
    _register_blueprints(Cli(team.cluster, team.namespace), blueprints_url)
    return blueprints_url


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


def _table(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_rpkg_get(cluster: Cluster, operator: OperatorProcess, blueprints_url: str) -> None:
    """rpkg-get, in a namespace of its own: its first listing is of every revision there."""
    cli = Cli(cluster, cluster.new_namespace("rpkg-get"))
    _register_blueprints(cli, blueprints_url)

    # the scenario (v1alpha1) reads .spec.revision: v1alpha2 keeps the revision in status
    columns = "NAME:.metadata.name,PKG:.spec.packageName,REPO:.spec.repository,REV:.status.revision"
    listed = cli("rpkg", "get", f"--output=custom-columns={columns}")
    expected = [["NAME", "PKG", "REPO", "REV"]]
    for package, versions in (
        ("basens", 4), ("bucket", 1), ("empty", 1), ("redis-bucket", 1), ("unready", 1),
        ("update", 2),
    ):  # fmt: skip
        expected.append([f"{BLUEPRINTS}.{package}.main", package, BLUEPRINTS, "-1"])
        expected += [
            [f"{BLUEPRINTS}.{package}.v{n}", package, BLUEPRINTS, str(n)]
            for n in range(1, versions + 1)
        ]
    assert _table(listed.stdout) == expected

    one = cli("rpkg", "get", f"{BLUEPRINTS}.basens.v1")
    assert _table(one.stdout) == [
        HEADER,
        [f"{BLUEPRINTS}.basens.v1", "basens", "v1", "1", "false", "Published", BLUEPRINTS],
    ]
    package = cli("rpkg", "get", "--name=basens")
    assert _table(package.stdout) == [
        HEADER,
        [f"{BLUEPRINTS}.basens.main", "basens", "main", "-1", "false", "Published", BLUEPRINTS],
        *(
            [f"{BLUEPRINTS}.basens.v{n}", "basens", f"v{n}", str(n), str(n == 4).lower(),
             "Published", BLUEPRINTS]
            for n in range(1, 5)
        ),
    ]  # fmt: skip

    kptfile = cli("rpkg", "get", "--show-kptfile", f"{BLUEPRINTS}.basens.v1")
    assert load_yaml(kptfile.stdout) == {
        "apiVersion": "kpt.dev/v1",
        "info": {"description": "sample description"},
        "kind": "Kptfile",
        "metadata": {"name": "basens"},
    }
    alone = cli("rpkg", "get", "--show-kptfile", ok=False)
    assert (alone.returncode, _stderr(alone)) == (
        1,
        "error: --show-kptfile requires exactly one package revision name as an argument",
    )
    filtered = cli("rpkg", "get", "--show-kptfile", "--name=basens", f"{BLUEPRINTS}.basens.v1",
                   ok=False)  # fmt: skip
    assert (filtered.returncode, _stderr(filtered)) == (
        1,
        "error: --show-kptfile cannot be combined with --name, --revision, or --workspace",
    )
    everywhere = cli("rpkg", "get", "--show-kptfile", "--all-namespaces",
                     f"{BLUEPRINTS}.basens.v1", ok=False)  # fmt: skip
    assert (everywhere.returncode, _stderr(everywhere)) == (
        1,
        "error: --show-kptfile cannot be combined with --all-namespaces",
    )
