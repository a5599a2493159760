"""``lanai rpkg`` / ``lanai repo`` driven as a user would: a subprocess against the real API
server, Git server and operator, acting as the team's author and approver with ``--as``.

Each step checks what the command printed and its exit code, and where it matters what Git
holds afterwards (branches and tags through the Team helpers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lanai.local import gitserver
from tests.support.cluster import Cluster, condition, load_yaml
from tests.support.gitwork import GIT_PASSWORD, GIT_USER
from tests.support.operator import OperatorProcess
from tests.support.rpkgcli import Cli
from tests.support.team import APPROVER, AUTHOR, REPO, Team

KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  size: large\n"


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr.strip().splitlines()[-1]


def _publish(cli: Cli, package: str, workspace: str = "v1") -> str:
    name = f"{REPO}.{package}.{workspace}"
    cli("rpkg", "init", package, "--repository", REPO, "--workspace", workspace, user=AUTHOR)
    cli("rpkg", "propose", name, user=AUTHOR)
    cli("rpkg", "approve", name, user=APPROVER)
    return name


@pytest.fixture
def cli(team: Team) -> Cli:
    return Cli(team.cluster, team.namespace)


def test_repo_reg_get_sync_unreg(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    cli = Cli(cluster, namespace)
    url = git_server.create_repository(f"{namespace}-catalog")
    done = cli(
        "repo", "reg", url,
        "--repo-basic-username", GIT_USER, "--repo-basic-password", GIT_PASSWORD,
        "--description", "the catalog",
    )  # fmt: skip
    name = f"{namespace}-catalog"  # from the URL's last segment, without .git
    assert done.stdout.strip() == f"{name} registered"
    secret = cluster.get("secret", f"{name}-auth", namespace)
    assert secret is not None
    assert secret["type"] == "kubernetes.io/basic-auth"
    registered = cluster.get("repository", name, namespace)
    assert registered is not None
    assert registered["spec"]["git"]["secretRef"]["name"] == f"{name}-auth"

    header, row = cli("repo", "get").stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "CONTENT", "DEPLOYMENT", "READY", "ADDRESS"]
    assert row.split() == [name, "git", "Package", "false", "True", url]
    assert json.loads(cli("repo", "get", name, "-o", "json").stdout)["spec"]["git"]["repo"] == url
    assert cli("repo", "get", "-o", "name").stdout.strip() == (
        f"repository.config.porch.kpt.dev/{name}"
    )

    # A package pushed to Git by someone else shows up after a sync.
    work = tmp_path / "work"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(work)]
    subprocess.run(
        ["git", "clone", "-q", str(git_server.repository_path(f"{namespace}-catalog")), str(work)],
        check=True,
    )
    (work / "hello").mkdir()
    (work / "hello" / "Kptfile").write_text(KPTFILE.format(name="hello"))
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "hello"], check=True)
    subprocess.run([*git, "tag", "hello/v1"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "main", "hello/v1"], check=True)
    done = cli("repo", "sync", name)
    assert done.stdout.strip() == f"{name} synced (1 packages)"
    listed = json.loads(cli("rpkg", "get", "--name", "hello", "-o", "json").stdout)["items"]
    assert sorted(item["status"]["revision"] for item in listed) == [-1, 1]

    done = cli("repo", "unreg", name)
    assert done.stdout.strip() == f"{name} unregistered"
    assert cluster.get("repository", name, namespace) is None
    assert cluster.get("secret", f"{name}-auth", namespace) is None
    done = cli("repo", "unreg", name, ok=False)
    assert done.returncode == 1
    assert _last_line(done) == (
        f'Error from server (NotFound): repositories.config.porch.kpt.dev "{name}" not found'
    )

    # A wrong password fails the registration with Lanai's message, after one try.
    bad = cli(
        "repo", "reg", url, "--name", "wrong-password",
        "--repo-basic-username", GIT_USER, "--repo-basic-password", "nope",
        ok=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert _last_line(bad).startswith("error: wrong-password: Ready=False (Error): ")


def test_init_pull_edit_push_propose_and_approve(cli: Cli, team: Team, tmp_path: Path) -> None:
    name = f"{REPO}.basens.v1"
    done = cli(
        "rpkg", "init", "basens", "--repository", REPO, "--description", "a namespace",
        user=AUTHOR,
    )  # fmt: skip
    assert done.stdout.strip() == f"{name} created"
    assert "waiting for" in done.stderr
    assert "refs/heads/drafts/basens/v1" in team.refs()
    assert "a namespace" in team.show("refs/heads/drafts/basens/v1", "basens/Kptfile")

    header, row = cli("rpkg", "get", user=AUTHOR).stdout.splitlines()
    assert header.split() == [
        "NAME", "PACKAGE", "WORKSPACENAME", "REVISION", "LATEST", "LIFECYCLE", "REPOSITORY",
    ]  # fmt: skip
    assert row.split() == [name, "basens", "v1", "<none>", "false", "Draft", REPO]
    shown = load_yaml(cli("rpkg", "get", name, "-o", "yaml").stdout)
    assert shown["kind"] == "PackageRevision"
    assert condition(shown, "Ready")["status"] == "True"  # type: ignore[index]

    directory = tmp_path / "basens"
    done = cli("rpkg", "pull", name, str(directory), user=AUTHOR)
    assert done.stdout == ""  # as porchctl: the files are the output
    assert sorted(p.name for p in directory.iterdir()) == [
        ".KptRevisionMetadata",
        "Kptfile",
        "README.md",
        "package-context.yaml",  # as kpt's initializer writes it
    ]
    resource_list = load_yaml(cli("rpkg", "pull", name, user=AUTHOR).stdout)
    assert resource_list["kind"] == "ResourceList"
    kinds = [item["kind"] for item in resource_list["items"]]
    assert (kinds[0], sorted(kinds[1:])) == ("KptRevisionMetadata", ["ConfigMap", "Kptfile"])

    (directory / "settings.yaml").write_text(CONFIGMAP)
    (directory / "README.md").write_text("# basens\nedited with lanai rpkg push\n")
    done = cli("rpkg", "push", name, str(directory), user=AUTHOR)
    assert done.stdout.strip() == f"{name} pushed"
    assert "size: large" in team.show("refs/heads/drafts/basens/v1", "basens/settings.yaml")
    assert "edited" in team.show("refs/heads/drafts/basens/v1", "basens/README.md")
    assert team.commit_message("refs/heads/drafts/basens/v1").startswith(AUTHOR)
    # The directory's resourceVersion is now stale: a second push is refused, not merged.
    stale = cli("rpkg", "push", name, str(directory), user=AUTHOR, ok=False)
    assert "the object has been modified" in _last_line(stale)
    assert "pull it again, redo your edits and push" in _last_line(stale)
    # Through a pipe: a ResourceList on stdin replaces the KRM files, README.md stays.
    piped = cli("rpkg", "pull", name, user=AUTHOR).stdout.replace("size: large", "size: small")
    cli("rpkg", "push", name, user=AUTHOR, input=piped)
    assert "size: small" in team.show("refs/heads/drafts/basens/v1", "basens/settings.yaml")
    assert "edited" in team.show("refs/heads/drafts/basens/v1", "basens/README.md")

    assert cli("rpkg", "propose", name, user=AUTHOR).stdout.strip() == f"{name} proposed"
    refs = team.refs()
    assert "refs/heads/proposed/basens/v1" in refs
    assert "refs/heads/drafts/basens/v1" not in refs
    again = cli("rpkg", "propose", name, user=AUTHOR)
    assert again.stderr.strip() == f"{name} is already proposed"

    refused = cli("rpkg", "approve", name, user=AUTHOR, ok=False)
    assert refused.returncode == 1
    line = _last_line(refused)
    assert line.startswith("Error from server (Forbidden): ")
    assert f"{AUTHOR} may not move {name} from Proposed to Published" in line
    assert "(ask an approver)" in line
    assert "ValidatingAdmissionPolicy" not in line

    approved = cli("rpkg", "approve", name, user=APPROVER)
    assert approved.stdout == f"{name} approved\n"
    refs = team.refs()
    assert "refs/tags/basens/v1" in refs
    assert refs["refs/tags/basens/v1"] == refs["refs/heads/main"]
    assert "size: small" in team.show("refs/tags/basens/v1", "basens/settings.yaml")
    rows = cli("rpkg", "get", "--revision", "1").stdout.splitlines()[1:]
    assert [r.split()[:6] for r in rows] == [[name, "basens", "v1", "1", "true", "Published"]]

    # The proposal's resources object stays, now read-only and Published.
    cli("rpkg", "pull", name, str(tmp_path / "published"), user=AUTHOR)
    assert "size: small" in (tmp_path / "published" / "settings.yaml").read_text()
    # A published revision without one (as every revision found in Git): pull asks for it.
    team.cluster.kubectl("delete", "-n", team.namespace, "prr", name)
    cli("rpkg", "pull", name, str(tmp_path / "on-request"), user=AUTHOR)
    assert "size: small" in (tmp_path / "on-request" / "settings.yaml").read_text()
    made = team.get(name, "prr")
    assert made is not None
    assert made["status"]["lifecycle"] == "Published"
    assert made["spec"]["revision"] == 1
    assert made["metadata"]["ownerReferences"][0]["name"] == name


def test_clone_copy_reject_and_refused_moves(cli: Cli, team: Team) -> None:
    upstream = _publish(cli, "base")

    done = cli("rpkg", "clone", upstream, "edge", "--repository", REPO, user=AUTHOR)
    assert done.stdout.strip() == f"{REPO}.edge.v1 created"
    cloned = team.get(f"{REPO}.edge.v1")
    assert cloned is not None
    assert cloned["status"]["upstreamLock"]["git"]["ref"] == "base/v1"
    assert "upstreamLock:" in team.show("refs/heads/drafts/edge/v1", "edge/Kptfile")

    done = cli("rpkg", "copy", upstream, "--workspace", "v2", user=AUTHOR)
    copy = f"{REPO}.base.v2"
    assert done.stdout.strip() == f"{copy} created"
    assert "refs/heads/drafts/base/v2" in team.refs()
    cli("rpkg", "propose", copy, user=AUTHOR)
    done = cli("rpkg", "reject", copy, user=AUTHOR)
    assert done.stdout.strip() == f"{copy} no longer proposed for approval"
    refs = team.refs()
    assert "refs/heads/drafts/base/v2" in refs
    assert "refs/heads/proposed/base/v2" not in refs

    # only a proposal is rejected: refused as porchctl refuses it, in its words
    draft = cli("rpkg", "reject", copy, user=AUTHOR, ok=False)
    assert (
        _last_line(draft) == f"error: {copy} failed (cannot reject {copy} with lifecycle 'Draft')"
    )
    jump = cli("rpkg", "reject", upstream, user=APPROVER, ok=False)
    assert _last_line(jump) == (
        f"error: {upstream} failed (cannot reject {upstream} with lifecycle 'Published')"
    )
    # and the API server refuses the move itself, whoever asks
    refused = team.move(upstream, "Draft", APPROVER)
    assert "spec.lifecycle cannot move from Published to Draft" in refused
    assert "refs/tags/base/v1" in team.refs()

    unknown = cli("rpkg", "propose", f"{REPO}.nope.v1", copy, user=AUTHOR, ok=False)
    assert unknown.returncode == 1
    assert (
        f'Error from server (NotFound): packagerevisions.porch.kpt.dev "{REPO}.nope.v1" not found'
        in unknown.stderr
    )
    assert unknown.stdout.strip() == f"{copy} proposed"  # the other name still went through
    missing = cli("rpkg", "get", f"{REPO}.nope.v1", ok=False)
    assert "not found" in _last_line(missing)
    nothing = cli("rpkg", "get", "--revision", "7")
    assert nothing.stdout == ""
    assert nothing.stderr.strip() == f"No resources found in {team.namespace} namespace."
    bad_clone = cli("rpkg", "clone", f"{REPO}.nope.v1", "other", "--repository", REPO, ok=False)
    assert "error: " in _last_line(bad_clone)
    assert f"{REPO}.nope.v1" in _last_line(bad_clone)


def test_a_push_that_fails_to_render_changes_nothing_in_git(
    cli: Cli,
    team: Team,
    tmp_path: Path,
) -> None:
    name = f"{REPO}.broken.v1"
    cli("rpkg", "init", "broken", "--repository", REPO, user=AUTHOR)
    directory = tmp_path / "broken"
    cli("rpkg", "pull", name, str(directory), user=AUTHOR)
    kptfile = directory / "Kptfile"
    kptfile.write_text(
        kptfile.read_text()
        + "pipeline:\n  mutators:\n    - image: example.com/no-such-function:v1\n"
    )
    done = cli("rpkg", "push", name, str(directory), user=AUTHOR, ok=False)
    line = _last_line(done)
    assert line.startswith(  # Porch's words
        "error: error rendering package in kpt function pipeline. Package NOT pushed to remote."
    )
    assert "no-such-function" in line
    assert "pipeline" not in team.show("refs/heads/drafts/broken/v1", "broken/Kptfile")


def test_propose_delete_reject_and_del(cli: Cli, team: Team) -> None:
    name = _publish(cli, "gone")

    refused = cli("rpkg", "del", name, user=APPROVER, ok=False)
    assert "propose its deletion first" in _last_line(refused)
    not_approver = cli("rpkg", "propose-delete", name, user=AUTHOR, ok=False)
    assert "may not move" in _last_line(not_approver)

    done = cli("rpkg", "propose-delete", name, user=APPROVER)
    assert done.stdout.strip() == f"{name} proposed for deletion"
    assert "refs/heads/deletionProposed/gone/v1" in team.refs()
    done = cli("rpkg", "reject", name, user=APPROVER)
    assert done.stdout.strip() == f"{name} no longer proposed for deletion"
    assert "refs/heads/deletionProposed/gone/v1" not in team.refs()

    cli("rpkg", "propose-delete", name, user=APPROVER)
    done = cli("rpkg", "del", name, user=APPROVER)
    assert done.stdout.strip() == f"{name} deleted"
    assert team.get(name) is None
    refs = team.refs()
    assert "refs/tags/gone/v1" not in refs
    assert "refs/heads/deletionProposed/gone/v1" not in refs

    scratch = f"{REPO}.scratch.v1"
    cli("rpkg", "init", "scratch", "--repository", REPO, user=AUTHOR)
    assert cli("rpkg", "delete", scratch, user=AUTHOR).stdout.strip() == f"{scratch} deleted"
    assert "refs/heads/drafts/scratch/v1" not in team.refs()


def test_deleting_an_upstream_still_in_use_is_reported_blocked(cli: Cli, team: Team) -> None:
    upstream = _publish(cli, "shared")
    cli("rpkg", "clone", upstream, "user", "--repository", REPO, user=AUTHOR)
    cli("rpkg", "propose-delete", upstream, user=APPROVER)
    # The approver role reads Events: Lanai's DeletionBlocked event ends the wait.
    blocked = cli("rpkg", "del", upstream, user=APPROVER, ok=False)
    line = _last_line(blocked)
    assert line.startswith(f"error: {upstream} is marked for deletion but Lanai cannot delete it")
    assert "refs/tags/shared/v1" in team.refs()


def test_upgrade_merges_a_newer_upstream_revision(cli: Cli, team: Team, tmp_path: Path) -> None:
    base = _publish(cli, "base")
    cli("rpkg", "clone", base, "edge", "--repository", REPO, user=AUTHOR)
    edge = f"{REPO}.edge.v1"
    cli("rpkg", "propose", edge, user=AUTHOR)
    cli("rpkg", "approve", edge, user=APPROVER)

    newer = f"{REPO}.base.v2"
    cli("rpkg", "copy", base, "--workspace", "v2", user=AUTHOR)
    directory = tmp_path / "base"
    cli("rpkg", "pull", newer, str(directory), user=AUTHOR)
    (directory / "settings.yaml").write_text(CONFIGMAP)
    cli("rpkg", "push", newer, str(directory), user=AUTHOR)
    cli("rpkg", "propose", newer, user=AUTHOR)
    cli("rpkg", "approve", newer, user=APPROVER)

    done = cli("rpkg", "upgrade", edge, "--workspace", "v2", user=AUTHOR)
    upgraded = f"{REPO}.edge.v2"
    assert done.stdout == f"{edge} upgraded to {upgraded}\n"
    assert "size: large" in team.show("refs/heads/drafts/edge/v2", "edge/settings.yaml")
    obj = team.get(upgraded)
    assert obj is not None
    assert obj["status"]["creationSource"] == "upgrade"
    assert obj["status"]["upstreamLock"]["git"]["ref"] == "base/v2"

    draft = cli("rpkg", "upgrade", upgraded, "--workspace", "v3", ok=False)
    assert "only a published revision can be upgraded" in _last_line(draft)
    absent = cli("rpkg", "upgrade", edge, "--workspace", "v3", "--revision", "9", ok=False)
    assert _last_line(absent) == "error: the upstream package base has no published revision 9"


def test_kubectl_plugin_kubeconfig_and_usage(cli: Cli, team: Team, tmp_path: Path) -> None:
    cli("rpkg", "init", "plugged", "--repository", REPO, user=AUTHOR)
    bin_dir = str(Path(sys.executable).parent)
    path = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = cli("rpkg", "get", "-o", "name", kubectl=True, env=path)
    assert done.stdout.strip() == f"packagerevision.porch.kpt.dev/{REPO}.plugged.v1"
    plugin_help = cli("rpkg", "--help", kubectl=True, env=path)
    assert plugin_help.stdout.startswith("usage: kubectl lanai rpkg")

    # The namespace comes from the kubeconfig context when -n is not given.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(team.cluster.kubeconfig.read_text())
    team.cluster.kubectl(
        "config", "set-context", "--current", f"--namespace={team.namespace}",
        f"--kubeconfig={kubeconfig}",
    )  # fmt: skip
    anywhere = Cli(team.cluster, None)
    done = anywhere("rpkg", "get", "-o", "name", "--kubeconfig", str(kubeconfig))
    assert done.stdout.strip() == f"packagerevision.porch.kpt.dev/{REPO}.plugged.v1"
    done = anywhere("rpkg", "get", env={"KUBECONFIG": str(tmp_path / "missing")}, ok=False)
    assert _last_line(done) == f"error: kubeconfig {tmp_path / 'missing'} does not exist"

    usage = cli("rpkg", "init", "x", ok=False)
    assert usage.returncode == 2
    assert "--repository" in usage.stderr
    mixed = cli("repo", "reg", "https://h/x.git", "--repo-basic-username", "u", ok=False)
    assert mixed.returncode == 2
    assert "needs both" in _last_line(mixed)
