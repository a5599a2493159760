"""Approval separates authors from approvers (config/policy), as Porch's approval
subresource does, and the API server records who approved.

Identities are impersonated users bound to the example roles in config/rbac; the
operator is not needed for any of this.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cluster import Cluster

AUTHOR = "alice@example.com"
APPROVER = "bob@example.com"
NAME = "blueprints.net.basens.ws1"


@pytest.fixture(scope="module")
def roles(cluster: Cluster) -> None:
    cluster.kubectl(
        "apply", "--server-side", "-f", str(cluster.root / "config" / "rbac" / "user_roles.yaml")
    )


@pytest.fixture
def team(cluster: Cluster, namespace: str, roles: None) -> str:
    for user, role in ((AUTHOR, "lanai-package-author"), (APPROVER, "lanai-package-approver")):
        cluster.kubectl(
            "create",
            "rolebinding",
            "-n",
            namespace,
            f"{role}-binding",
            f"--clusterrole={role}",
            f"--user={user}",
        )
    return namespace


def _revision(lifecycle: str = "Draft") -> str:
    return json.dumps(
        {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": NAME},
            "spec": {
                "repository": "blueprints",
                "packageName": "net/basens",
                "workspaceName": "ws1",
                "lifecycle": lifecycle,
            },
        }
    )


def _move(cluster: Cluster, namespace: str, user: str, lifecycle: str) -> str:
    return cluster.merge_patch("rpkg", NAME, namespace, {"spec": {"lifecycle": lifecycle}}, user)


def _in_git(cluster: Cluster, namespace: str) -> None:
    """Write what the operator writes once the revision is created in Git (these tests run
    no operator): a selfLock, and the spec observed."""
    obj = cluster.get("rpkg", NAME, namespace)
    assert obj is not None
    status = {
        "selfLock": {"type": "git", "git": {"commit": "c0ffee"}},
        "observedGeneration": obj["metadata"]["generation"],
    }
    cluster.kubectl(
        "patch", "-n", namespace, "rpkg", NAME, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip


def _annotations(cluster: Cluster, namespace: str) -> dict[str, Any]:
    obj = cluster.get("rpkg", NAME, namespace)
    assert obj is not None
    found: dict[str, Any] = obj["metadata"].get("annotations") or {}
    return found


@pytest.mark.parametrize("lifecycle", ["Published", "DeletionProposed"])
def test_users_cannot_create_published_revisions(
    cluster: Cluster, team: str, lifecycle: str
) -> None:
    for user in (AUTHOR, APPROVER):
        done = cluster.kubectl(
            "create", "-n", team, "-f", "-", input=_revision(lifecycle), user=user, check=False
        )
        assert done.returncode != 0
        assert f"must be created as Draft or Proposed, not {lifecycle}" in done.stderr


def test_author_proposes_but_cannot_approve(cluster: Cluster, team: str) -> None:
    cluster.kubectl("create", "-n", team, "-f", "-", input=_revision(), user=AUTHOR)
    assert _move(cluster, team, AUTHOR, "Proposed") == ""
    assert _move(cluster, team, AUTHOR, "Draft") == ""  # reject is not approval
    assert _move(cluster, team, AUTHOR, "Proposed") == ""
    refused = _move(cluster, team, AUTHOR, "Published")
    assert f"{AUTHOR} may not move {NAME} from Proposed to Published" in refused
    assert "packagerevisions/approval" in refused


def test_approver_approves_and_is_recorded(cluster: Cluster, team: str) -> None:
    cluster.kubectl("create", "-n", team, "-f", "-", input=_revision("Proposed"), user=AUTHOR)
    _in_git(cluster, team)
    assert _move(cluster, team, APPROVER, "Published") == ""
    assert _annotations(cluster, team)["porch.kpt.dev/approved-by"] == APPROVER


def test_propose_delete_and_undo_need_approval(cluster: Cluster, team: str) -> None:
    cluster.kubectl("create", "-n", team, "-f", "-", input=_revision("Proposed"), user=AUTHOR)
    _in_git(cluster, team)
    assert _move(cluster, team, APPROVER, "Published") == ""
    assert "packagerevisions/approval" in _move(cluster, team, AUTHOR, "DeletionProposed")
    assert _move(cluster, team, APPROVER, "DeletionProposed") == ""
    assert "packagerevisions/approval" in _move(cluster, team, AUTHOR, "Published")
    assert _move(cluster, team, APPROVER, "Published") == ""
    # Undoing a deletion is not a new approval: the approver on record stays.
    assert _annotations(cluster, team)["porch.kpt.dev/approved-by"] == APPROVER


def test_nobody_but_the_operator_sets_the_latest_label(cluster: Cluster, team: str) -> None:
    cluster.kubectl("create", "-n", team, "-f", "-", input=_revision(), user=AUTHOR)
    for user in (AUTHOR, APPROVER):
        done = cluster.kubectl(
            "label",
            "-n",
            team,
            "rpkg",
            NAME,
            "porch.kpt.dev/latest-revision=true",
            "--overwrite",  # a new Draft has it as "false" from its creation
            user=user,
            check=False,
        )
        assert done.returncode != 0
        assert "porch.kpt.dev/latest-revision is maintained by Lanai" in done.stderr
    # Other labels are the user's own.
    cluster.kubectl("label", "-n", team, "rpkg", NAME, "team=net", user=AUTHOR)


def test_approved_by_cannot_be_forged(cluster: Cluster, team: str) -> None:
    cluster.kubectl("create", "-n", team, "-f", "-", input=_revision("Proposed"), user=AUTHOR)
    done = cluster.kubectl(
        "annotate",
        "-n",
        team,
        "rpkg",
        NAME,
        f"porch.kpt.dev/approved-by={APPROVER}",
        user=AUTHOR,
        check=False,
    )
    assert done.returncode != 0
    assert "records who approved" in done.stderr


def _delete_dry_run(cluster: Cluster, namespace: str, user: str | None = None) -> str:
    done = cluster.kubectl(
        "delete", "-n", namespace, "rpkg", NAME, "--dry-run=server", user=user, check=False
    )
    return done.stderr if done.returncode else ""


def test_a_published_revision_is_deleted_by_nobody_before_its_deletion_is_proposed(
    cluster: Cluster, team: str
) -> None:
    # The admin holds every verb, packagerevisions/mirror included, and is refused too.
    cluster.kubectl("create", "-n", team, "-f", "-", input=_revision("Published"))
    for user in (None, APPROVER):
        refused = _delete_dry_run(cluster, team, user)
        assert "published PackageRevisions must be proposed for deletion by setting" in refused
    # The branch placeholder (revision -1) is deleted directly.
    cluster.kubectl(
        "patch", "-n", team, "rpkg", NAME, "--subresource=status", "--type=merge",
        "-p", '{"status": {"revision": -1}}',
    )  # fmt: skip
    assert _delete_dry_run(cluster, team) == ""


def test_a_revision_being_deleted_keeps_its_lifecycle(cluster: Cluster, team: str) -> None:
    cluster.kubectl("create", "-n", team, "-f", "-", input=_revision("DeletionProposed"))
    hold = {"metadata": {"finalizers": ["example.com/hold"]}}
    assert cluster.merge_patch("rpkg", NAME, team, hold) == ""
    cluster.kubectl("delete", "-n", team, "rpkg", NAME, "--wait=false")
    try:
        refused = _move(cluster, team, APPROVER, "Published")
        assert f"{NAME} is being deleted" in refused
    finally:
        assert cluster.merge_patch("rpkg", NAME, team, {"metadata": {"finalizers": None}}) == ""


def test_only_the_operator_creates_a_revision_marked_as_removed(
    cluster: Cluster, team: str
) -> None:
    body = json.loads(_revision())
    body["metadata"]["annotations"] = {"lanai.porch.kpt.dev/removal": "x"}
    done = cluster.kubectl(
        "create", "-n", team, "-f", "-", input=json.dumps(body), user=AUTHOR, check=False
    )
    assert "set only by Lanai" in done.stderr


def test_a_new_revision_carries_the_finalizer_from_its_creation(
    cluster: Cluster, team: str
) -> None:
    """The operator's first sight of a new revision can be its creation, not a write of
    the finalizer (config/policy/finalizer.yaml); one already asked for is not doubled."""
    created = cluster.kubectl(
        "create", "-n", team, "-f", "-", "-o", "json", input=_revision(), user=AUTHOR
    )
    assert json.loads(created.stdout)["metadata"]["finalizers"] == ["lanai.porch.kpt.dev/finalizer"]
    body = json.loads(_revision())
    body["metadata"]["name"] = "blueprints.net.basens.ws2"
    body["spec"]["workspaceName"] = "ws2"
    body["metadata"]["finalizers"] = ["example.com/hold", "lanai.porch.kpt.dev/finalizer"]
    other = cluster.kubectl("create", "-n", team, "-f", "-", "-o", "json", input=json.dumps(body))
    assert json.loads(other.stdout)["metadata"]["finalizers"] == body["metadata"]["finalizers"]
    cluster.merge_patch(
        "rpkg", "blueprints.net.basens.ws2", team, {"metadata": {"finalizers": None}}
    )


def test_a_new_draft_is_labelled_not_the_latest_revision_from_its_creation(
    cluster: Cluster, team: str
) -> None:
    """Porch shows porch.kpt.dev/latest-revision "false" on every revision but a package's
    latest published one; a new Draft carries it from its creation
    (config/policy/latest-label.yaml), not from a later write of the Repository sync.
    A label the request sets is kept."""
    label = "porch.kpt.dev/latest-revision"
    created = cluster.kubectl(
        "create", "-n", team, "-f", "-", "-o", "json", input=_revision(), user=AUTHOR
    )
    assert json.loads(created.stdout)["metadata"]["labels"][label] == "false"
    body = json.loads(_revision("Proposed"))
    body["metadata"]["name"] = "blueprints.net.basens.ws3"
    body["spec"]["workspaceName"] = "ws3"
    body["metadata"]["labels"] = {label: "true", "team": "net"}
    other = cluster.kubectl("create", "-n", team, "-f", "-", "-o", "json", input=json.dumps(body))
    assert json.loads(other.stdout)["metadata"]["labels"] == {label: "true", "team": "net"}
    cluster.merge_patch(
        "rpkg", "blueprints.net.basens.ws3", team, {"metadata": {"finalizers": None}}
    )
