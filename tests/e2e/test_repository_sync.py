"""Every revision in Git appears as a PackageRevision, kept current as people push.

The Git content is made with the git CLI, as a person (or Porch) would push it; the
operator only reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lanai.local import gitserver
from tests.support import manifests
from tests.support.cluster import Cluster, condition
from tests.support.gitwork import KPTFILE, commit_package, git, seed
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for


def test_git_revisions_are_mirrored_and_kept_current(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    url = git_server.create_repository(f"{namespace}-sync")
    basens = {"Kptfile": KPTFILE.format(name="basens")}
    work = seed(url, tmp_path / "work", {"net/basens": basens}, ("net/basens/v1",))
    git(work, "checkout", "-q", "-b", "drafts/net/basens/next")
    commit_package(work, "net/basens", {"cm.yaml": "kind: ConfigMap\n"}, "edit")
    git(work, "push", "-q", "origin", "drafts/net/basens/next")

    manifests.register(cluster, namespace, "blueprints", url)

    expected = {
        "blueprints.net.basens.main",
        "blueprints.net.basens.v1",
        "blueprints.net.basens.next",
    }
    # An object's status is a second write after its create (status subresource).
    found = wait_for(
        lambda: (
            (r := manifests.revisions(cluster, namespace))
            and set(r) == expected
            and all((o.get("status") or {}).get("selfLock") for o in r.values())
            and r
        ),
        what=f"PackageRevisions {sorted(expected)} with their status",
    )
    published = found["blueprints.net.basens.v1"]
    assert published["spec"]["lifecycle"] == "Published"
    assert published["status"]["revision"] == 1
    assert published["metadata"]["labels"]["porch.kpt.dev/latest-revision"] == "true"
    placeholder = found["blueprints.net.basens.main"]
    assert placeholder["status"]["revision"] == -1
    assert placeholder["metadata"]["labels"]["porch.kpt.dev/latest-revision"] == "false"
    assert found["blueprints.net.basens.next"]["spec"]["lifecycle"] == "Draft"
    assert condition(published, "Ready")["status"] == "True"  # type: ignore[index]
    repo = cluster.get("repository", "blueprints", namespace)
    assert repo is not None
    assert repo["status"]["packageCount"] == 1
    package = wait_for(
        lambda: cluster.get("package", "blueprints.net.basens", namespace),
        what="the Package object",
    )
    assert package["spec"] == {"packageName": "net/basens", "repository": "blueprints"}
    assert package["status"] == {"latestRevision": 1, "revisionCount": 3}

    # Someone publishes v2 and drops the draft: the objects follow, the label moves.
    git(work, "checkout", "-q", "main")
    commit_package(work, "net/basens", {"svc.yaml": "kind: Service\n"}, "basens v2")
    git(work, "tag", "net/basens/v2")
    git(work, "push", "-q", "origin", "main", "net/basens/v2", ":drafts/net/basens/next")
    manifests.sync_now(cluster, namespace, "blueprints")

    def moved() -> dict[str, dict[str, Any]] | None:
        r = manifests.revisions(cluster, namespace)
        names = {
            "blueprints.net.basens.main",
            "blueprints.net.basens.v1",
            "blueprints.net.basens.v2",
        }
        if set(r) != names:
            return None
        labels = r["blueprints.net.basens.v2"]["metadata"].get("labels") or {}
        return r if labels.get("porch.kpt.dev/latest-revision") == "true" else None

    after = wait_for(moved, what="v2 latest and the draft gone")
    assert (  # as Porch labels it: "false" on every revision but the latest
        after["blueprints.net.basens.v1"]["metadata"]["labels"]["porch.kpt.dev/latest-revision"]
        == "false"
    )
    wait_for(
        lambda: (
            (cluster.get("package", "blueprints.net.basens", namespace) or {}).get("status")
            == {"latestRevision": 2, "revisionCount": 3}
        ),
        what="the Package at v2",
    )
    shown = cluster.kubectl("get", "pkg", "-n", namespace).stdout
    assert "blueprints.net.basens" in shown
    assert "net/basens" in shown

    # Deleting the Repository removes its objects, never the Git content.
    cluster.kubectl("delete", "-n", namespace, "repository", "blueprints", "--wait=false")
    wait_for(lambda: not manifests.revisions(cluster, namespace), what="PackageRevisions removed")
    wait_for(lambda: not cluster.list("package", namespace), what="Packages removed")
    tags = git(work, "ls-remote", "--tags", "origin")
    assert "refs/tags/net/basens/v2" in tags


def _versions(cluster: Cluster, namespace: str) -> dict[str, str]:
    revisions = manifests.revisions(cluster, namespace)
    return {name: obj["metadata"]["resourceVersion"] for name, obj in revisions.items()}


def test_a_sync_without_changes_writes_nothing(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    url = git_server.create_repository(f"{namespace}-noop")
    seed(url, tmp_path / "work", {"app": {"Kptfile": KPTFILE.format(name="app")}}, ("app/v1",))
    manifests.register(cluster, namespace, "apps", url)
    wait_for(
        lambda: (
            len(r := manifests.revisions(cluster, namespace)) == 2
            and all((o.get("status") or {}).get("selfLock") for o in r.values())
        ),
        what="two PackageRevisions with their status",
    )
    versions = _versions(cluster, namespace)
    manifests.sync_now(cluster, namespace, "apps")
    wait_for(
        lambda: (
            (r := cluster.get("repository", "apps", namespace))
            and r["status"].get("observedRunOnceAt") == r["spec"]["sync"]["runOnceAt"]
        ),
        what="the extra sync",
    )
    assert _versions(cluster, namespace) == versions


def test_an_overlapping_registration_is_refused_clearly(
    cluster: Cluster, namespace: str, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    url = git_server.create_repository(f"{namespace}-twice")
    manifests.register(cluster, namespace, "first", url)
    wait_for(
        lambda: (
            (c := condition(cluster.get("repository", "first", namespace), "Ready"))
            and c["status"] == "True"
        ),
        what="the first Repository Ready",
    )
    second = manifests.repository("second", namespace, url, "git-auth")
    second["spec"]["git"]["directory"] = "nested/dir"
    cluster.apply(second)
    refused = wait_for(
        lambda: (
            (c := condition(cluster.get("repository", "second", namespace), "Ready"))
            and c["status"] == "False"
            and c
        ),
        what="the second Repository refused",
    )
    assert "conflicts with Repository first" in refused["message"]
    first = condition(cluster.get("repository", "first", namespace), "Ready")
    assert first is not None
    assert first["status"] == "True"
