"""Porch's own CLI scenarios (``test/e2e/cli/testdata/<scenario>/config.yaml`` in
nephio-project/porch), followed step by step with ``lanai rpkg``/``lanai repo`` (kubectl
where the scenario uses kubectl).

The team's Repository ``blueprints`` stands for the scenarios' ``git`` repository; the
module shares one team (its scenarios use distinct package names). ``test-blueprints`` is
a repository of our own (tests/support/blueprints.py: the packages and tags the scenarios
read, written by hand). Scenarios that list a whole namespace (rpkg-get, repo-register,
rpkg-upgrade) get a namespace of their own. Where Lanai differs on purpose the step says
so; in short: an unpublished revision has no ``status.revision`` and v1alpha2 keeps it in
status (porchctl prints ``<none>`` where the v1alpha1 scenarios print 0 or read
``.spec.revision``); clones from the blueprints URL name a Secret (our Git server has no
anonymous read); Lanai's clone writes kpt's ``updateStrategy``; a refused push stays in
the resources object (not in Git); porchctl's ``upgrade --discover`` is not offered.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lanai.cli import repo
from lanai.cli.table import dump_yaml
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
    """The module's team with ``test-blueprints`` registered too; its URL. The author may
    read the Secret ``repo register`` made, to name it in clones from the URL."""
    _register_blueprints(Cli(team.cluster, team.namespace), blueprints_url)
    team.let_read_secret(BLUEPRINTS_SECRET)
    return blueprints_url


BLUEPRINTS_SECRET = repo.secret_name(BLUEPRINTS)
# Porch's Gitea serves test-blueprints to anyone; our Git server asks everyone for
# credentials, so clones from its URL add ``--secret-ref`` (the Secret repo register made)
BY_URL = ("--secret-ref", BLUEPRINTS_SECRET)


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
    assert approved.stdout == f"{name} approved\n"
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


def _items(cli: Cli, name: str) -> dict[str, dict[str, Any]]:
    """``rpkg pull NAME`` to stdout, by path; the KptRevisionMetadata item checked."""
    pulled = load_yaml(cli("rpkg", "pull", name, user=AUTHOR).stdout)
    assert (pulled["apiVersion"], pulled["kind"]) == ("config.kubernetes.io/v1", "ResourceList")
    by_path = {
        item["metadata"]["annotations"]["config.kubernetes.io/path"]: item
        for item in pulled["items"]
    }
    mark = by_path.pop(".KptRevisionMetadata")
    assert (mark["apiVersion"], mark["kind"]) == ("", "KptRevisionMetadata")
    assert (mark["metadata"]["name"], mark["metadata"]["namespace"]) == (name, cli.namespace)
    assert mark["metadata"]["uid"]
    return by_path


def _cloned_kptfile(kptfile: dict[str, Any], name: str, description: str, url: str,
                    directory: str, commit: str) -> None:  # fmt: skip
    """The Kptfile of a clone of ``directory`` at tag ``directory/v1``, as the scenarios
    print it (kpt's upstream and upstreamLock, the upstream-identifier annotation)."""
    assert kptfile["metadata"]["name"] == name
    assert kptfile["metadata"]["annotations"]["internal.kpt.dev/upstream-identifier"] == (
        f"kpt.dev|Kptfile|default|{name}"
    )
    assert kptfile["info"] == {"description": description}
    assert kptfile["status"]["conditions"] == [
        {"reason": "RenderSuccess", "status": "True", "type": "Rendered"}
    ]
    git = {"directory": directory, "ref": f"{directory}/v1", "repo": url}
    # Lanai writes the updateStrategy kpt pkg get writes; Porch's clone leaves it out
    upstream = dict(kptfile["upstream"])
    assert upstream.pop("updateStrategy") == "resource-merge"
    assert upstream == {"git": git, "type": "git"}
    assert kptfile["upstreamLock"] == {"git": {**git, "commit": commit}, "type": "git"}


def _tag_commit(git_server: gitserver.GitServer, tag: str) -> str:
    where = str(git_server.repository_path(BLUEPRINTS))
    done = subprocess.run(
        ["git", "-C", where, "rev-parse", f"{tag}^{{commit}}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _basens_namespace(item: dict[str, Any]) -> None:
    assert (item["apiVersion"], item["kind"], item["metadata"]["name"]) == (
        "v1", "Namespace", "example"
    )  # fmt: skip
    assert item["metadata"]["annotations"]["internal.kpt.dev/upstream-identifier"] == (
        "|Namespace|default|example"
    )


def test_rpkg_clone(
    cli: Cli, team: Team, with_blueprints: str, git_server: gitserver.GitServer
) -> None:
    url = with_blueprints
    made = cli(
        "rpkg", "clone", f"{url}/basens@basens/v1", f"--repository={REPO}",
        "--workspace=clone-2", "basens-clone", *BY_URL, user=AUTHOR,
    )  # fmt: skip
    assert made.stdout == f"{REPO}.basens-clone.clone-2 created\n"
    again = cli(
        "rpkg", "clone", f"{url}/basens@basens/v1", f"--repository={REPO}",
        "--workspace=clone-3", "basens-clone", *BY_URL, user=AUTHOR, ok=False,
    )  # fmt: skip
    assert again.returncode == 1
    assert _stderr(again).endswith(
        f'`clone` cannot create a new revision for package "basens-clone" that already '
        f'exists in repo "{REPO}"; make subsequent revisions using `copy`'
    )
    # the scenario registers test-blueprints here: the module's fixture did (with_blueprints)
    found = cli("rpkg", "get", "--name=empty", "--revision=1", "--output=jsonpath={.metadata.name}")
    assert found.stdout == f"{BLUEPRINTS}.empty.v1\n"
    made = cli(
        "rpkg", "clone", f"{BLUEPRINTS}.empty.v1", f"--repository={REPO}",
        "--workspace=clone-1", "empty-clone", user=AUTHOR,
    )  # fmt: skip
    assert made.stdout == f"{REPO}.empty-clone.clone-1 created\n"

    items = _items(cli, f"{REPO}.basens-clone.clone-2")
    assert sorted(items) == ["Kptfile", "namespace.yaml"]
    _cloned_kptfile(items["Kptfile"], "basens-clone", "sample description", url, "basens",
                    _tag_commit(git_server, "basens/v1"))  # fmt: skip
    _basens_namespace(items["namespace.yaml"])

    items = _items(cli, f"{REPO}.empty-clone.clone-1")
    assert sorted(items) == ["Kptfile"]
    _cloned_kptfile(items["Kptfile"], "empty-clone", "Empty Blueprint", url, "empty",
                    _tag_commit(git_server, "empty/v1"))  # fmt: skip


def test_rpkg_copy(
    cli: Cli, team: Team, with_blueprints: str, git_server: gitserver.GitServer
) -> None:
    url = with_blueprints
    made = cli(
        "rpkg", "clone", url, "--directory=basens", "--ref=basens/v1", f"--repository={REPO}",
        "--workspace=copy-1", "basens-edit", *BY_URL, user=AUTHOR,
    )  # fmt: skip
    name = f"{REPO}.basens-edit.copy-1"
    assert made.stdout == f"{name} created\n"
    assert cli("rpkg", "propose", name, user=AUTHOR).stdout == f"{name} proposed\n"
    assert cli("rpkg", "approve", name, user=APPROVER).stdout == f"{name} approved\n"
    copied = cli("rpkg", "copy", "--workspace=copy-2", name, user=AUTHOR)
    assert copied.stdout == f"{REPO}.basens-edit.copy-2 created\n"

    items = _items(cli, f"{REPO}.basens-edit.copy-2")
    assert sorted(items) == ["Kptfile", "namespace.yaml"]
    _cloned_kptfile(items["Kptfile"], "basens-edit", "sample description", url, "basens",
                    _tag_commit(git_server, "basens/v1"))  # fmt: skip
    _basens_namespace(items["namespace.yaml"])


def test_rpkg_push(cli: Cli, team: Team, tmp_path: Path) -> None:
    name = f"{REPO}.test-package.push"
    made = cli("rpkg", "init", f"--repository={REPO}", "--workspace=push", "test-package",
               user=AUTHOR)  # fmt: skip
    assert made.stdout == f"{name} created\n"
    items = _items(cli, name)
    assert sorted(items) == ["Kptfile", "package-context.yaml"]
    kptfile = items["Kptfile"]
    # lanai rpkg init without --description writes none (porchctl: "sample description")
    assert kptfile["metadata"]["annotations"]["config.kubernetes.io/local-config"] == "true"
    assert kptfile["status"]["conditions"] == [
        {"reason": "RenderSuccess", "status": "True", "type": "Rendered"}
    ]

    listed = cli("rpkg", "pull", name, user=AUTHOR).stdout
    document = load_yaml(listed)
    del document["items"][0]["metadata"]["resourceVersion"]
    no_version = cli("rpkg", "push", name, "-", user=AUTHOR, input=json.dumps(document), ok=False)
    assert (no_version.returncode, _stderr(no_version)) == (
        1, "error: resourceVersion must be specified for an update"
    )  # fmt: skip

    directory = tmp_path / "rpkg-push"
    assert cli("rpkg", "pull", name, str(directory), user=AUTHOR).stdout == ""
    # the scenario's `kpt fn eval search-replace` edit, made with Python
    edited = load_yaml((directory / "Kptfile").read_text())
    edited.setdefault("info", {})["description"] = "Updated Test Package Description"
    (directory / "Kptfile").write_text(dump_yaml(edited))
    assert cli("rpkg", "push", name, str(directory), user=AUTHOR).stdout == f"{name} pushed\n"
    items = _items(cli, name)
    assert items["Kptfile"]["info"]["description"] == "Updated Test Package Description"

    stale = load_yaml(listed)
    stale["items"][0]["metadata"]["resourceVersion"] = "1"
    conflict = cli("rpkg", "push", name, "-", user=AUTHOR, input=json.dumps(stale), ok=False)
    assert conflict.returncode == 1
    assert _stderr(conflict).startswith(
        f'error: Operation cannot be fulfilled on packagerevisionresources.porch.kpt.dev "{name}": '
        "the object has been modified; please apply your changes to the latest version and "
        "try again"
    )

    invalid = tmp_path / "testing-invalid-render"
    cli("rpkg", "pull", name, str(invalid), user=AUTHOR)
    with (invalid / "Kptfile").open("a") as kptfile_text:
        kptfile_text.write(
            "pipeline:\n  mutators:\n"
            "  - image: ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.0\n"
            "    configMap:\n      namespace: example-ns\n"
            "  - image: ghcr.io/kptdev/krm-functions-catalog/set-annotations:v0.1.4\n"
        )
    refused = cli("rpkg", "push", name, str(invalid), user=AUTHOR, ok=False)
    assert refused.returncode == 1
    assert (
        "error rendering package in kpt function pipeline. Package NOT pushed to remote. "
        "Fix locally (until 'kpt fn render' succeeds) and retry."
    ) in _stderr(refused)


def test_repo_register(cluster: Cluster, operator: OperatorProcess, blueprints_url: str) -> None:
    """repo-register, in a namespace of its own: it lists every Repository there."""
    cli = Cli(cluster, cluster.new_namespace("repo-register"))
    _register_blueprints(cli, blueprints_url)
    columns = (
        "NAME:.metadata.name,ADDRESS:.spec.git.repo,BRANCH:.spec.git.branch,DIR:.spec.git.directory"
    )
    shown = cli("repo", "get", f"--output=custom-columns={columns}")
    assert _table(shown.stdout) == [
        ["NAME", "ADDRESS", "BRANCH", "DIR"], [BLUEPRINTS, blueprints_url, "main", "/"]
    ]  # fmt: skip
    shown = cli("repo", "get", "--output=custom-columns=NAME:.metadata.name,DESC:.spec.description")
    assert shown.stdout == (f"NAME              DESC\n{BLUEPRINTS}   Test Blueprints\n")
    columns = (
        "NAME:.metadata.name,TYPE:.spec.type,CONTENT:.spec.content,"
        "READY:.status.conditions[?(@.type=='Ready')].status,ADDRESS:.spec.git.repo,"
        "BRANCH:.spec.git.branch"
    )
    shown = cli("repo", "get", f"--output=custom-columns={columns}")
    assert _table(shown.stdout) == [
        ["NAME", "TYPE", "CONTENT", "READY", "ADDRESS", "BRANCH"],
        [BLUEPRINTS, "git", "Package", "True", blueprints_url, "main"],
    ]
    cli("repo", "unregister", BLUEPRINTS)
    # the scenario sleeps 2 s, then lists: lanai repo unregister waits until it is gone
    listed = cli("repo", "get")
    assert (listed.stdout, _stderr(listed)) == (
        "",
        f"No resources found in {cli.namespace} namespace.",
    )


def test_rpkg_init_deploy(cli: Cli, team: Team, git_server: gitserver.GitServer) -> None:
    # the scenario's deployment repository is its only one (`git`); here it is `deploy`,
    # beside the module's others, so `repo get` names it
    url = git_server.create_repository(f"{team.namespace}-deploy")
    cli(
        "repo", "register", "--name=deploy", "--deployment",
        f"--repo-basic-password={GIT_PASSWORD}", f"--repo-basic-username={GIT_USER}", url,
    )  # fmt: skip
    shown = cli(
        "repo",
        "get",
        "deploy",
        "--output=custom-columns=NAME:.metadata.name,DEPLOYMENT:.spec.deployment",
    )
    assert _table(shown.stdout) == [["NAME", "DEPLOYMENT"], ["deploy", "true"]]
    name = "deploy.deploy-package.deploy"
    made = cli(
        "rpkg", "init", "--description", "Test Package Description", "--keywords=test,package",
        "--site", "http://kpt.dev/deploy-package", "--repository=deploy", "--workspace=deploy",
        "deploy-package", user=AUTHOR,
    )  # fmt: skip
    assert made.stdout == f"{name} created\n"
    items = _items(cli, name)
    assert sorted(items) == ["Kptfile", "package-context.yaml"]
    kptfile = items["Kptfile"]
    assert kptfile["info"] == {
        "description": "Test Package Description",
        "keywords": ["test", "package"],
        "site": "http://kpt.dev/deploy-package",
    }
    assert kptfile["metadata"]["name"] == "deploy-package"
    assert kptfile["metadata"]["annotations"]["config.kubernetes.io/local-config"] == "true"
    assert kptfile["status"]["conditions"] == [
        {"reason": "RenderSuccess", "status": "True", "type": "Rendered"}
    ]
    context = items["package-context.yaml"]
    assert (context["kind"], context["metadata"]["name"], context["data"]) == (
        "ConfigMap", "kptfile.kpt.dev", {"name": "example"}
    )  # fmt: skip
    columns = (
        "NAME:.metadata.name,TYPE:.spec.type,DEPLOYMENT:.spec.deployment,"
        "READY:.status.conditions[?(@.type=='Ready')].status,ADDRESS:.spec.git.repo,"
        "BRANCH:.spec.git.branch"
    )
    shown = cli("repo", "get", "deploy", f"--output=custom-columns={columns}")
    assert _table(shown.stdout) == [
        ["NAME", "TYPE", "DEPLOYMENT", "READY", "ADDRESS", "BRANCH"],
        ["deploy", "git", "true", "True", url, "main"],
    ]


BROKEN_PIPELINE = "pipeline:\n  mutators:\n  - image: quay.io/invalid/nonexistent-fn:v0.0.1\n"


def test_rpkg_push_on_render_failure(cli: Cli, team: Team, tmp_path: Path) -> None:
    for package, annotation, pushed in (
        ("test-push-true", "true", True),
        ("test-push-false", "false", False),
        ("test-no-annotation", None, False),
    ):
        name = f"{REPO}.{package}.v1"
        made = cli("rpkg", "init", f"--repository={REPO}", "--workspace=v1", package, user=AUTHOR)
        assert made.stdout == f"{name} created\n"
        if annotation is not None:
            # the scenario annotates packagerevisions.v1alpha1: Lanai serves them at v1alpha2
            done = team.cluster.kubectl(
                "annotate", "packagerevisions.porch.kpt.dev", name, "-n", team.namespace,
                f"porch.kpt.dev/push-on-render-failure={annotation}", user=AUTHOR,
            )  # fmt: skip
            assert done.stdout == f"packagerevision.porch.kpt.dev/{name} annotated\n"
        directory = tmp_path / package
        cli("rpkg", "pull", name, str(directory), user=AUTHOR)
        with (directory / "Kptfile").open("a") as kptfile:
            kptfile.write(BROKEN_PIPELINE)
        refused = cli("rpkg", "push", name, str(directory), user=AUTHOR, ok=False)
        assert refused.returncode == 1
        said = "Package pushed to remote despite render failure" if pushed else (
            "Package NOT pushed to remote"
        )  # fmt: skip
        assert said in _stderr(refused)
        # Porch's scenario pulls again to verify. Lanai differs by design: the resources
        # object keeps what was submitted, with a condition that it was not committed, so a
        # pull shows the refused edit (to fix and push again); Git is what is checked here.
        in_git = team.show(f"refs/heads/drafts/{package}/v1", f"{package}/Kptfile")
        assert ("nonexistent-fn" in in_git) is pushed


def test_rpkg_unready(cli: Cli, team: Team, with_blueprints: str, tmp_path: Path) -> None:
    name = f"{REPO}.unready-edit.clone-1"
    made = cli(
        "rpkg", "clone", f"{with_blueprints}/unready@unready/v1", f"--repository={REPO}",
        "--workspace=clone-1", "unready-edit", *BY_URL, user=AUTHOR,
    )  # fmt: skip
    assert made.stdout == f"{name} created\n"
    directory = tmp_path / "pkg-unready"
    cli("rpkg", "pull", name, str(directory), user=AUTHOR)
    # the scenario's `kpt fn eval search-replace` sets status.conditions[0].status: here the
    # gate's condition is found by its type (Lanai's render adds Rendered beside it)
    kptfile = load_yaml((directory / "Kptfile").read_text())
    gate = next(c for c in kptfile["status"]["conditions"] if c["type"] == blueprints.UNREADY_GATE)
    assert gate["status"] == "False"
    gate["status"] = "True"
    (directory / "Kptfile").write_text(dump_yaml(kptfile))
    assert cli("rpkg", "push", name, str(directory), user=AUTHOR).stdout == f"{name} pushed\n"
    assert cli("rpkg", "propose", name, user=AUTHOR).stdout == f"{name} proposed\n"
    assert cli("rpkg", "approve", name, user=APPROVER).stdout == f"{name} approved\n"
    copy = f"{REPO}.unready-edit.copy-2"
    made = cli("rpkg", "copy", "--workspace=copy-2", name, user=AUTHOR)
    assert made.stdout == f"{copy} created\n"
    assert cli("rpkg", "propose", copy, user=AUTHOR).stdout == f"{copy} proposed\n"
    assert cli("rpkg", "approve", copy, user=APPROVER).stdout == f"{copy} approved\n"


STARLARK = "ghcr.io/kptdev/krm-functions-catalog/starlark:v0.5"


def _starlark_copy(name: str, source_map: str, target_map: str) -> str:
    """A StarlarkRun (ours) that copies three keys of ConfigMap ``source_map`` into
    ConfigMap ``target_map``: the scenario's parameter passing, parent to subpackage."""
    script = (
        "def data_of(name):\n"
        "  for r in ctx.resource_list['items']:\n"
        "    if r['kind'] == 'ConfigMap' and r['metadata']['name'] == name:\n"
        "      return r\n"
        "  return None\n"
        f"source = data_of('{source_map}')\n"
        f"target = data_of('{target_map}')\n"
        "if source and target:\n"
        "  for key in ['key1', 'key2', 'parent']:\n"
        "    if key in source['data']:\n"
        "      target['data'][key] = source['data'][key]\n"
    )
    body = "".join(f"  {line}\n" for line in script.splitlines())
    return (
        "apiVersion: fn.kpt.dev/v1alpha1\nkind: StarlarkRun\nmetadata:\n"
        f'  name: {name}\n  annotations:\n    config.kubernetes.io/local-config: "true"\n'
        f"source: |\n{body}"
    )


def _params(name: str, key1: str, key2: str, parent: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
        f"data:\n  key1: {key1}\n  key2: {key2}\n  parent: {parent}\n"
    )


def _nested_kptfile(name: str, config: str, bfs: bool) -> str:
    order = '    kpt.dev/bfs-rendering: "true"\n' if bfs else ""
    return (
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n"
        f'  name: {name}\n  annotations:\n    config.kubernetes.io/local-config: "true"\n'
        f"{order}info:\n  description: sample description\n"
        f"pipeline:\n  mutators:\n  - image: {STARLARK}\n    configPath: {config}\n"
    )


PARENT_PKG = {
    "Kptfile": _nested_kptfile("customized-package", "fn-pass-parameters.yaml", bfs=True),
    "fn-pass-parameters.yaml": _starlark_copy(
        "fn-pass-parameters", "parent-parameters", "subpackage-parameters"
    ),
    "parent-parameters.yaml": _params("parent-parameters", "value1", "value2", "parent-value"),
}
NESTED_PKG = {
    "Kptfile": _nested_kptfile("sample-package", "fn-config.yaml", bfs=False),
    "fn-config.yaml": _starlark_copy("starlark-fn", "subpackage-parameters", "my-config"),
    "subpackage-parameters.yaml": _params(
        "subpackage-parameters", "value01", "value02", "child-value"
    ),
    "configmap.yaml": _params("my-config", "v01", "v02", "tobe-updated"),
}


def test_rpkg_nested_package(cli: Cli, team: Team, tmp_path: Path) -> None:
    name = f"{REPO}.root.1"
    made = cli("rpkg", "init", "root", f"--repository={REPO}", "--workspace=1", user=AUTHOR)
    assert made.stdout == f"{name} created\n"
    directory = tmp_path / "a00"
    cli("rpkg", "pull", name, str(directory), user=AUTHOR)
    # the scenario copies Porch's test_pkgs/nested-packages: ours do the same (see above)
    for relative, files in (("", PARENT_PKG), ("s", NESTED_PKG)):
        (directory / relative).mkdir(exist_ok=True)
        for file, text in files.items():
            (directory / relative / file).write_text(text)
    pushed = cli("rpkg", "push", name, str(directory), user=AUTHOR)
    assert pushed.stdout == f"{name} pushed\n"
    # porchctl prints `[RUNNING] "image"` per function; lanai prints kpt fn render's lines
    assert pushed.stderr.count(f'[PASS] "{STARLARK}"') == 2
    result = tmp_path / "nested-pkg-result"
    cli("rpkg", "pull", name, str(result), user=AUTHOR)
    # parent first (kpt.dev/bfs-rendering): its value reached the subpackage's ConfigMap
    assert "parent: parent-value" in (result / "s" / "configmap.yaml").read_text()


SETTERS_PIPELINE = (
    "pipeline:\n  mutators:\n  - image: apply-setters:v0.2\n    configPath: setters.yaml\n"
)


def _add_setter(directory: Path, configmap: str, key: str, default: str, value: str) -> None:
    """The scenario's shell step: a ConfigMap with a kpt-set setter, its value in
    setters.yaml, and apply-setters (kpt's short image name) in the pipeline."""
    (directory / f"cm{configmap[-1]}.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {configmap}\n"
        f'data:\n  {key}: "{default}" # kpt-set: ${{{key}}}\n'
    )
    (directory / "setters.yaml").write_text(
        f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: setters\ndata:\n  {key}: "{value}"\n'
    )
    with (directory / "Kptfile").open("a") as kptfile:
        kptfile.write(SETTERS_PIPELINE)


def test_rpkg_upgrade(
    cluster: Cluster, operator: OperatorProcess, git_server: gitserver.GitServer,
    blueprints_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    """rpkg-upgrade, in a namespace of its own (it lists every revision there). Its
    deployment repository ``git`` (directory ``upstream``) is registered as a team's."""
    team = make_team(
        cluster, cluster.new_namespace("rpkg-upgrade"), git_server, repository="git",
        deployment=True, directory="upstream",
    )  # fmt: skip
    cli = Cli(cluster, team.namespace)
    _register_blueprints(cli, blueprints_url)
    team.let_read_secret(BLUEPRINTS_SECRET)

    def publish(name: str) -> None:
        assert cli("rpkg", "propose", name, user=AUTHOR).stdout == f"{name} proposed\n"
        assert cli("rpkg", "approve", name, user=APPROVER).stdout == f"{name} approved\n"

    made = cli(
        "rpkg", "clone", blueprints_url, "--directory=basens", "--ref=basens/v1",
        "--repository=git", "--workspace=v1", "upgrade-orig", *BY_URL, user=AUTHOR,
    )  # fmt: skip
    assert made.stdout == "git.upgrade-orig.v1 created\n"
    publish("git.upgrade-orig.v1")
    # porchctl ignores --directory/--ref with a revision as the source; lanai refuses
    # flags that would do nothing, so this step leaves them out
    made = cli(
        "rpkg", "clone", "git.upgrade-orig.v1", "--repository=git", "--workspace=v1",
        "upgrade-downstream", user=AUTHOR,
    )  # fmt: skip
    assert made.stdout == "git.upgrade-downstream.v1 created\n"
    downstream = tmp_path / "upgrade-downstream-v1"
    cli("rpkg", "pull", "git.upgrade-downstream.v1", str(downstream), user=AUTHOR)
    _add_setter(downstream, "configmap1", "foo", "bar", "baz")
    pushed = cli("rpkg", "push", "git.upgrade-downstream.v1", str(downstream), user=AUTHOR)
    assert pushed.stdout == "git.upgrade-downstream.v1 pushed\n"
    assert "apply-setters:v0.2" in pushed.stderr
    publish("git.upgrade-downstream.v1")

    copied = cli("rpkg", "copy", "--workspace=v2", "git.upgrade-orig.v1", user=AUTHOR)
    assert copied.stdout == "git.upgrade-orig.v2 created\n"
    orig = tmp_path / "upgrade-orig-v2"
    cli("rpkg", "pull", "git.upgrade-orig.v2", str(orig), user=AUTHOR)
    _add_setter(orig, "configmap2", "fruit", "apple", "pear")
    pushed = cli("rpkg", "push", "git.upgrade-orig.v2", str(orig), user=AUTHOR)
    assert pushed.stdout == "git.upgrade-orig.v2 pushed\n"
    publish("git.upgrade-orig.v2")

    # the scenario lists the whole namespace; test-blueprints is registered here too (to
    # clone from its URL with its Secret), so the two packages are listed by name
    listed = cli("rpkg", "get", "--name=upgrade-downstream").stdout.splitlines()[1:]
    listed += cli("rpkg", "get", "--name=upgrade-orig").stdout.splitlines()[1:]
    assert [row.split() for row in listed] == [
        [f"git.{package}.{workspace}", package, workspace, revision, latest, "Published", "git"]
        for package, workspace, revision, latest in (
            ("upgrade-downstream", "main", "-1", "false"),
            ("upgrade-downstream", "v1", "1", "true"),
            ("upgrade-orig", "main", "-1", "false"),
            ("upgrade-orig", "v1", "1", "false"),
            ("upgrade-orig", "v2", "2", "true"),
        )
    ]
    # porchctl's `rpkg upgrade --discover=upstream|downstream` (a report of available
    # upgrades) is not offered by lanai rpkg upgrade: those three steps are left out
    upgraded = cli("rpkg", "upgrade", "git.upgrade-downstream.v1", "--workspace=v2", user=AUTHOR)
    assert upgraded.stdout == "git.upgrade-downstream.v1 upgraded to git.upgrade-downstream.v2\n"

    for repository in ("downstream1", "downstream2"):
        cli(
            "repo", "register", f"--name={repository}", f"--repo-basic-password={GIT_PASSWORD}",
            f"--repo-basic-username={GIT_USER}", "--deployment", f"--directory={repository}",
            team.url,
        )  # fmt: skip
        name = f"{repository}.upgrade-orig.v1"
        made = cli(
            "rpkg", "clone", "git.upgrade-orig.v1", f"--repository={repository}",
            "--workspace=v1", "upgrade-orig", user=AUTHOR,
        )  # fmt: skip
        assert made.stdout == f"{name} created\n"
        publish(name)
        upgraded = cli("rpkg", "upgrade", name, "--workspace=v2", user=AUTHOR)
        assert upgraded.stdout == f"{name} upgraded to {repository}.upgrade-orig.v2\n"
        # the scenario reads .spec.tasks[0].upgrade.newUpstreamRef.name (v1alpha1);
        # v1alpha2 names the new upstream in .spec.source.upgrade.newUpstream
        new = cli(
            "rpkg", "get", f"{repository}.upgrade-orig.v2",
            "-o=jsonpath={.spec.source.upgrade.newUpstream.name}",
        )  # fmt: skip
        assert new.stdout == "git.upgrade-orig.v2\n"
        publish(f"{repository}.upgrade-orig.v2")
