"""What goes wrong in and around Git stays where it happened.

A malformed Kptfile marks its own revisions only.
"""

from __future__ import annotations

from pathlib import Path

from lanai.local import gitserver
from tests.support import gitwork, manifests
from tests.support.cluster import Cluster, condition
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for


def test_a_malformed_kptfile_marks_only_its_own_revisions(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    url = git_server.create_repository(f"{namespace}-mixed")
    work = gitwork.clone(url, tmp_path / "work")
    good = gitwork.KPTFILE.format(name="good")
    gitwork.commit_package(work, "good", {"Kptfile": good}, "good v1")
    gitwork.commit_package(work, "bad", {"Kptfile": "kind: Kptfile\nmetadata: [unclosed\n"}, "bad")
    gitwork.git(work, "tag", "good/v1")
    gitwork.git(work, "tag", "bad/v1")
    gitwork.git(work, "push", "-q", "origin", "main", "good/v1", "bad/v1")
    cluster.apply(
        manifests.basic_auth_secret("git-auth", namespace, gitwork.GIT_USER, gitwork.GIT_PASSWORD)
    )
    cluster.apply(manifests.repository("mixed", namespace, url, "git-auth"))

    names = {"mixed.good.v1", "mixed.good.main", "mixed.bad.v1", "mixed.bad.main"}
    found = wait_for(
        lambda: (
            (r := manifests.revisions(cluster, namespace))
            and set(r) == names
            and all(condition(o, "Ready") for o in r.values())
            and r
        ),
        what=f"{sorted(names)} with their Ready condition",
    )
    for name in ("mixed.bad.v1", "mixed.bad.main"):
        ready = condition(found[name], "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "Error")
        assert "Kptfile" in ready["message"]
    for name in ("mixed.good.v1", "mixed.good.main"):
        assert condition(found[name], "Ready")["status"] == "True"  # type: ignore[index]
    assert found["mixed.good.v1"]["metadata"]["labels"]["porch.kpt.dev/latest-revision"] == "true"
    repo = cluster.get("repository", "mixed", namespace)
    assert repo is not None
    assert condition(repo, "Ready")["status"] == "True"  # type: ignore[index]
    assert repo["status"]["packageCount"] == 2
