"""One object never stops its Repository's sync.

Measured before: after an approval was refused, the sync tried to move that revision's
spec from Published back to what Git held; the CRD's transition rule answered 422, the
sync daemon crash-looped, nothing else in the Repository synced and ``repo sync`` never
took effect. Now the sync plans only moves Lanai's own rules allow, and a write the API
server refuses anyway (here: a site's admission policy) is that object's failure, told on
the object once, counted on the Repository, and retried with a backoff while the rest
of the Repository syncs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support import manifests
from tests.support.cluster import Cluster, condition
from tests.support.gitwork import KPTFILE, clone, commit_package, git
from tests.support.operator import OperatorProcess
from tests.support.team import APPROVER, AUTHOR, REPO, Team, init_spec, publish
from tests.support.waiting import wait_for


def _sync(team: Team) -> None:
    """``lanai repo sync``: ask for a sync (spec.sync.runOnceAt) and wait until it ran."""
    asked = manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(
        lambda: manifests.synced_since(team.cluster, team.namespace, REPO, asked),
        timeout=60,
        what="the requested sync to run",
    )


def _push_outside(team: Team, work: Path, package: str, tag: str) -> None:
    """A person pushes a new package revision to the branch and tags it."""
    if not work.exists():
        clone(team.url, work)
    git(work, "pull", "-q", "origin", "main")
    commit_package(work, package, {"Kptfile": KPTFILE.format(name=package), "n.txt": tag}, tag)
    git(work, "tag", f"{package}/{tag}")
    git(work, "push", "-q", "origin", "main", f"{package}/{tag}")


def _repository(team: Team) -> dict[str, Any]:
    found = team.cluster.get("repository", REPO, team.namespace)
    assert found is not None
    return found


def test_a_refused_approval_never_stops_the_sync_of_the_rest(
    team: Team, operator: OperatorProcess, tmp_path: Path
) -> None:
    name = f"{REPO}.gated.v1"
    team.create(name, init_spec("gated", "v1"))
    team.settled(name)
    assert team.move(name, "Proposed", AUTHOR) == ""
    team.settled(name)
    # The state a refused approval leaves: spec Published, Git still Proposed, settled
    # with the refusal in Ready. (Made with the operator stopped, so that it does not
    # depend on which approvals the engine refuses, or the API server refuses first.)
    operator.stop()
    try:
        assert team.move(name, "Published", APPROVER) == ""
        generation = (team.get(name) or {})["metadata"]["generation"]
        refusal = {
            "type": "Ready", "status": "False", "reason": "Rejected",
            "message": "approval refused", "lastTransitionTime": "2026-01-01T00:00:00Z",
        }  # fmt: skip
        team.cluster.kubectl(
            "patch", "-n", team.namespace, "rpkg", name, "--subresource=status",
            "--type=merge", "-p",
            json.dumps({"status": {"observedGeneration": generation, "conditions": [refusal]}}),
        )  # fmt: skip
    finally:
        operator.start()
    _push_outside(team, tmp_path / "work", "later", "v1")
    _sync(team)
    wait_for(lambda: team.get(f"{REPO}.later.v1"), timeout=60, what="the pushed revision")
    _sync(team)  # and again: `repo sync` keeps taking effect

    refused = team.get(name)
    assert refused is not None
    assert refused["spec"]["lifecycle"] == "Published"  # not moved back to Proposed
    ready = condition(refused, "Ready")
    assert ready is not None
    assert (ready["reason"], ready["message"]) == ("Rejected", "approval refused")
    assert "refs/heads/proposed/gated/v1" in team.refs()
    assert condition(_repository(team), "Ready")["status"] == "True"  # type: ignore[index]
    log = operator.log(since_start=True)
    assert "Traceback" not in log
    assert "cannot move from Published" not in log


def _refuse_updates_of(cluster: Cluster, namespace: str, name: str) -> str:
    """A site's own admission policy: no UPDATE of ``name``, for anyone (the operator
    included). Returns the policy's name; waits until the API server enforces it."""
    policy = f"refuse-{namespace}"
    cluster.apply(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": policy},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["porch.kpt.dev"],
                            "apiVersions": ["*"],
                            "operations": ["UPDATE"],
                            "resources": ["packagerevisions"],
                        }
                    ]
                },
                "validations": [
                    {
                        "expression": f"object.metadata.namespace != '{namespace}'"
                        f" || object.metadata.name != '{name}'",
                        "message": f"a site policy forbids changing {name}",
                    }
                ],
            },
        }
    )
    cluster.apply(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy},
            "spec": {"policyName": policy, "validationActions": ["Deny"]},
        }
    )
    wait_for(
        lambda: "a site policy forbids" in _dry_run_label(cluster, namespace, name),
        timeout=60,
        what="the site policy to be enforced",
    )
    return policy


def _dry_run_label(cluster: Cluster, namespace: str, name: str) -> str:
    done = cluster.kubectl(
        "patch", "-n", namespace, "rpkg", name, "--dry-run=server", "--type=merge",
        "-p", '{"metadata":{"labels":{"probe":"x"}}}', check=False,
    )  # fmt: skip
    return done.stderr if done.returncode else ""


def test_a_refused_write_is_reported_on_its_object_and_the_rest_syncs(
    team: Team, operator: OperatorProcess, tmp_path: Path
) -> None:
    v1 = f"{REPO}.app.v1"
    team.create(v1, init_spec("app", "v1"))
    publish(team, v1)
    wait_for(lambda: team.latest("app") == v1, what="v1 to be latest")
    policy = _refuse_updates_of(team.cluster, team.namespace, v1)
    try:
        # Pushed outside Lanai: v2 of app (so v1 must lose its latest-revision label,
        # which the site policy refuses) and a new package.
        work = tmp_path / "work"
        _push_outside(team, work, "app", "v2")
        _push_outside(team, work, "other", "v1")
        _sync(team)
        v2, other = f"{REPO}.app.v2", f"{REPO}.other.v1"
        wait_for(
            lambda: team.get(v2) and team.get(other) and team.latest("app") is None,
            timeout=60,
            what="the rest of the Repository synced (v1 keeps its label: refused)",
        )
        synced = wait_for(
            lambda: condition(team.get(v1), "Synced"), timeout=60, what="Synced on v1"
        )
        assert synced["status"] == "False"
        assert synced["reason"] == "SyncFailed"
        assert "a site policy forbids changing" in synced["message"]
        assert f"lanai repo sync {REPO}" in synced["message"]
        repository = wait_for(
            lambda: (r := _repository(team))["status"].get("syncFailures") == 1 and r,
            timeout=60,
            what="the Repository to count the failure",
        )
        ready = condition(repository, "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("True", "SyncIncomplete")
        assert f"PackageRevision {v1}" in ready["message"]

        # More syncs, asked for: each runs, the refusal is told once.
        _sync(team)
        _sync(team)
        reasons = [e["reason"] for e in team.events(v1)]
        assert reasons.count("SyncFailed") == 1
        log = operator.log()
        assert log.count(f"{team.namespace}/{REPO}: could not update PackageRevision {v1}") == 1
        assert "Traceback" not in operator.log(since_start=True)
    finally:
        team.cluster.kubectl("delete", "validatingadmissionpolicybinding", policy)
        team.cluster.kubectl("delete", "validatingadmissionpolicy", policy)
    wait_for(
        lambda: _dry_run_label(team.cluster, team.namespace, v1) == "",
        timeout=60,
        what="the site policy to be gone",
    )

    _sync(team)  # `repo sync` retries the refused write at once
    wait_for(lambda: team.latest("app") == v2, timeout=60, what="v2 latest")
    wait_for(lambda: condition(team.get(v1), "Synced") is None, timeout=60, what="Synced gone")
    wait_for(
        lambda: (
            (r := _repository(team))["status"].get("syncFailures") == 0
            and (condition(r, "Ready") or {}).get("message") == "Repository is ready"
        ),
        timeout=60,
        what="the Repository to be fully synced",
    )
