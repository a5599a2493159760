"""Repository spec options that change where and how Lanai writes to Git.

``git.createBranch`` (a branch made with an initial commit), ``git.directory`` (packages
under a folder; a leading ``/`` is ignored; a folder without packages is fine) and
``git.author``/``git.email`` (who the commits are attributed to).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lanai.local import gitserver
from tests.support import gitwork, manifests
from tests.support.cluster import Cluster
from tests.support.operator import OperatorProcess
from tests.support.team import APPROVER, AUTHOR, Team, init_spec, make_team, publish
from tests.support.waiting import wait_for


def _server_git(path: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_create_branch_makes_the_branch_with_an_initial_commit(
    cluster: Cluster, namespace: str, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    team = make_team(cluster, namespace, git_server, "sites", branch="deploy", createBranch=True)
    head = _server_git(team.git_dir, "rev-parse", "refs/heads/deploy")
    assert _server_git(team.git_dir, "rev-list", "--count", head) == "1"  # a root commit
    assert _server_git(team.git_dir, "ls-tree", head) == ""  # with an empty tree
    repo = cluster.get("repository", "sites", namespace)
    assert repo is not None
    assert repo["status"]["gitCommitHash"] == head
    assert repo["status"]["packageCount"] == 0

    # Packages are made on that branch: the draft branches from it, approval lands on it.
    name = "sites.edge.v1"
    team.create(name, init_spec("edge", "v1", repository="sites"))
    publish(team, name)
    refs = team.refs()
    assert refs["refs/tags/edge/v1"] == refs["refs/heads/deploy"]
    assert _server_git(team.git_dir, "merge-base", "--is-ancestor", head, "refs/heads/deploy") == ""


def test_a_leading_slash_in_the_directory_is_ignored(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    url = git_server.create_repository(f"{namespace}-catalog")
    app = {"Kptfile": gitwork.KPTFILE.format(name="app")}
    gitwork.seed(url, tmp_path / "work", {"pkgs/app": app}, ("pkgs/app/v1",))
    manifests.register(cluster, namespace, "catalog", url, directory="/pkgs")

    found = wait_for(
        lambda: (
            (r := manifests.revisions(cluster, namespace))
            and {"catalog.app.v1", "catalog.app.main"} <= set(r)
            and all((o.get("status") or {}).get("selfLock") for o in r.values())
            and r
        ),
        what="the package under /pkgs mirrored as app",
    )
    published = found["catalog.app.v1"]
    assert published["spec"]["packageName"] == "app"
    assert published["status"]["revision"] == 1
    assert published["status"]["selfLock"]["git"]["directory"] == "pkgs/app"
    repo = cluster.get("repository", "catalog", namespace)
    assert repo is not None
    assert repo["status"]["packageCount"] == 1

    # New packages go under the directory too, and their refs name the full path.
    team = make_team(cluster, namespace, git_server, "catalog2", directory="/pkgs")
    team.create("catalog2.web.v1", init_spec("web", "v1", repository="catalog2"))
    draft = team.settled("catalog2.web.v1")
    assert draft["status"]["selfLock"]["git"]["directory"] == "pkgs/web"
    assert "name: web" in team.show("refs/heads/drafts/pkgs/web/v1", "pkgs/web/Kptfile")
    assert not any("//" in ref for ref in team.refs())


def test_a_directory_without_packages_is_ready_with_none(
    cluster: Cluster, namespace: str, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    team = make_team(cluster, namespace, git_server, "empty", directory="nothing/here")
    repo = cluster.get("repository", "empty", namespace)
    assert repo is not None
    assert repo["status"]["packageCount"] == 0
    assert repo["status"]["gitCommitHash"] == team.refs()["refs/heads/main"]
    assert manifests.revisions(cluster, namespace) == {}


def test_git_author_and_email_override_the_commit_author(
    cluster: Cluster, namespace: str, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    team = make_team(
        cluster, namespace, git_server, "signed", author="Blueprint Bot", email="bot@example.com"
    )
    name = "signed.app.v1"
    team.create(name, init_spec("app", "v1", repository="signed"), user=AUTHOR)
    team.settled(name)
    assert team.author("refs/heads/drafts/app/v1") == "Blueprint Bot <bot@example.com>"
    published = publish(team, name)
    assert team.author("refs/tags/app/v1") == "Blueprint Bot <bot@example.com>"
    assert team.author("refs/heads/main") == "Blueprint Bot <bot@example.com>"
    # Who approved is still recorded, even though the commit is the bot's.
    assert published["status"]["publishedBy"] == APPROVER


def test_without_an_author_commits_are_made_as_the_acting_user(team: Team) -> None:
    name = f"{team.repository}.mine.v1"
    team.create(name, init_spec("mine", "v1"), user=AUTHOR)
    team.settled(name)
    assert team.author("refs/heads/drafts/mine/v1") == f"{AUTHOR} <{AUTHOR}>"
    publish(team, name)
    assert team.author("refs/tags/mine/v1") == f"{APPROVER} <{APPROVER}>"
