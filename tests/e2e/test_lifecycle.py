"""The PackageRevision lifecycle through kubectl, checked in the objects and in Git.

Authors and approvers act as themselves (impersonation with the example roles of
config/rbac), so the approval policy, the identity annotations and the commits the
operator makes for them are exercised together.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lanai.local import gitserver
from tests.support import gitwork, manifests
from tests.support.cluster import condition
from tests.support.gitwork import GIT_PASSWORD
from tests.support.operator import OperatorProcess
from tests.support.team import APPROVER, AUTHOR, REPO, Team, edit, init_spec, publish
from tests.support.waiting import wait_for


def test_init_propose_approve_and_delete_move_git_refs(team: Team) -> None:
    name = f"{REPO}.basens.v1"
    team.create(name, init_spec("basens", "v1"))
    draft = team.settled(name)
    assert "revision" not in draft["status"]  # as Porch: none until published
    assert draft["status"]["creationSource"] == "init"
    assert condition(draft, "Rendered")["status"] == "True"  # type: ignore[index]
    refs = team.refs()
    assert "refs/heads/drafts/basens/v1" in refs
    kptfile = team.show("refs/heads/drafts/basens/v1", "basens/Kptfile")
    assert "name: basens" in kptfile
    assert "basens for tests" in kptfile
    assert team.commit_message("refs/heads/drafts/basens/v1").startswith(AUTHOR)
    resources = wait_for(lambda: team.get(name, "prr"), what="the PackageRevisionResources")
    assert set(resources["spec"]["resources"]) == {"Kptfile", "README.md", "package-context.yaml"}
    assert resources["status"]["lifecycle"] == "Draft"

    assert team.move(name, "Proposed", AUTHOR) == ""
    team.settled(name)
    refs = team.refs()
    assert "refs/heads/proposed/basens/v1" in refs
    assert "refs/heads/drafts/basens/v1" not in refs
    wait_for(
        lambda: (team.get(name, "prr") or {}).get("status", {}).get("lifecycle") == "Proposed",
        what="the resources to show Proposed",
    )

    assert "packagerevisions/approval" in team.move(name, "Published", AUTHOR)
    assert team.move(name, "Published", APPROVER) == ""
    published = team.settled(name)
    assert published["status"]["revision"] == 1
    assert published["status"]["publishedBy"] == APPROVER
    assert published["status"]["publishedAt"]
    refs = team.refs()
    assert "refs/tags/basens/v1" in refs
    assert "refs/heads/proposed/basens/v1" not in refs
    assert refs["refs/tags/basens/v1"] == refs["refs/heads/main"]
    assert (
        "basens/Kptfile"
        in subprocess.run(
            ["git", "-C", str(team.git_dir), "ls-tree", "-r", "--name-only", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    kept = wait_for(
        lambda: (
            (
                (o := team.get(name, "prr"))
                and (o.get("status") or {}).get("lifecycle") == "Published"
            )
            and o
        ),
        what="the resources object to show the published revision",
    )
    assert kept["spec"]["revision"] == 1
    assert set(kept["spec"]["resources"]) == {"Kptfile", "README.md", "package-context.yaml"}
    labelled = wait_for(
        lambda: (
            (o := team.get(name))
            and (o["metadata"].get("labels") or {}).get("porch.kpt.dev/latest-revision") == "true"
            and o
        ),
        what="the latest-revision label",
    )
    assert labelled["status"]["revision"] == 1
    reasons = {e["reason"] for e in team.events(name)}
    assert {"Added", "Modified", "Published"} <= reasons

    # A published revision is deleted in two steps; the first delete is refused.
    refused = team.cluster.kubectl(
        "delete", "-n", team.namespace, "rpkg", name, user=APPROVER, check=False
    )
    assert refused.returncode != 0
    assert "published PackageRevisions must be proposed for deletion" in refused.stderr
    assert team.move(name, "DeletionProposed", APPROVER) == ""
    team.settled(name)
    assert "refs/heads/deletionProposed/basens/v1" in team.refs()
    team.cluster.kubectl("delete", "-n", team.namespace, "rpkg", name, user=APPROVER)
    wait_for(lambda: team.get(name) is None, what=f"{name} to be deleted")
    refs = team.refs()
    assert "refs/tags/basens/v1" not in refs
    assert "refs/heads/deletionProposed/basens/v1" not in refs


def test_clone_and_copy_from_published_revisions(team: Team) -> None:
    upstream = f"{REPO}.base.v1"
    team.create(upstream, init_spec("base", "v1"))
    team.settled(upstream)
    team.move(upstream, "Proposed", AUTHOR)
    team.settled(upstream)
    team.move(upstream, "Published", APPROVER)
    team.settled(upstream)

    clone = f"{REPO}.edge.v1"
    team.create(
        clone,
        {
            "repository": REPO,
            "packageName": "edge",
            "workspaceName": "v1",
            "lifecycle": "Draft",
            "source": {"cloneFrom": {"upstreamRef": {"name": upstream}}},
        },
    )
    cloned = team.settled(clone)
    assert cloned["status"]["creationSource"] == "clone"
    assert cloned["status"]["upstreamLock"]["git"]["ref"] == "base/v1"
    kptfile = team.show("refs/heads/drafts/edge/v1", "edge/Kptfile")
    assert "name: edge" in kptfile
    assert "upstreamLock:" in kptfile
    assert "ref: base/v1" in kptfile

    # Cloning into an existing package is refused, and leaves nothing in Git.
    again = f"{REPO}.edge.v2"
    team.create(
        again,
        {
            "repository": REPO,
            "packageName": "edge",
            "workspaceName": "v2",
            "lifecycle": "Draft",
            "source": {"cloneFrom": {"upstreamRef": {"name": upstream}}},
        },
    )
    refused = team.settled(again, ready="False")
    assert condition(refused, "Ready")["reason"] == "Rejected"  # type: ignore[index]
    message = condition(refused, "Ready")["message"]  # type: ignore[index]
    assert (
        f'`clone` cannot create a new revision for package "edge" that already exists in repo '
        f'"{REPO}"; make subsequent revisions using `copy`'
    ) in message
    assert "refs/heads/drafts/edge/v2" not in team.refs()

    copy = f"{REPO}.base.v2"
    team.create(
        copy,
        {
            "repository": REPO,
            "packageName": "base",
            "workspaceName": "v2",
            "lifecycle": "Draft",
            "source": {"copyFrom": {"name": upstream}},
        },
    )
    copied = team.settled(copy)
    assert copied["status"]["creationSource"] == "copy"
    assert team.show("refs/heads/drafts/base/v2", "base/README.md") == team.show(
        "refs/tags/base/v1", "base/README.md"
    )


def test_editing_resources_commits_renders_and_refuses_broken_pipelines(team: Team) -> None:
    name = f"{REPO}.app.v1"
    team.create(name, init_spec("app", "v1"))
    team.settled(name)
    resources = wait_for(lambda: team.get(name, "prr"), what="the resources object")
    files = dict(resources["spec"]["resources"])
    files["Kptfile"] += (
        "pipeline:\n  mutators:\n  - image: set-namespace:v0.4.1\n"
        "    configMap:\n      namespace: edge-prod\n"
    )
    files["cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app # keep me\n"
    before = team.refs()["refs/heads/drafts/app/v1"]
    team.cluster.kubectl(
        "patch", "-n", team.namespace, "prr", name, "--type=merge",
        "-p", json.dumps({"spec": {"resources": files}}), user=AUTHOR,
    )  # fmt: skip

    def rendered() -> str | None:
        obj = team.get(name, "prr") or {}
        text = str(obj.get("spec", {}).get("resources", {}).get("cm.yaml", ""))
        return text if "namespace: edge-prod" in text else None

    text = wait_for(rendered, timeout=60, what="cm.yaml rendered with the namespace")
    assert "# keep me" in text
    head = team.refs()["refs/heads/drafts/app/v1"]
    assert head != before
    assert "namespace: edge-prod" in team.show(head, "app/cm.yaml")
    assert team.commit_message(head).startswith(AUTHOR)

    # A pipeline that cannot run is a RenderFailed condition and event; Git is unchanged.
    broken = dict((team.get(name, "prr") or {})["spec"]["resources"])
    broken["Kptfile"] = broken["Kptfile"].replace("set-namespace:v0.4.1", "no-such-fn:v1")
    team.cluster.kubectl(
        "patch", "-n", team.namespace, "prr", name, "--type=merge",
        "-p", json.dumps({"spec": {"resources": broken}}), user=AUTHOR,
    )  # fmt: skip

    def failed() -> dict[str, Any] | None:
        obj = team.get(name, "prr") or {}
        found = condition(obj, "Rendered")
        return found if found and found["status"] == "False" else None

    failure = wait_for(failed, timeout=60, what="Rendered=False on the resources")
    assert "no-such-fn" in failure["message"]
    assert team.refs()["refs/heads/drafts/app/v1"] == head
    reasons = {e["reason"] for e in team.events(name)}
    assert "RenderFailed" in reasons


def test_readiness_gates_hold_a_proposal(team: Team) -> None:
    name = f"{REPO}.gated.v1"
    team.create(name, init_spec("gated", "v1", readinessGates=[{"conditionType": "Tested"}]))
    team.settled(name)
    refused = team.move(name, "Proposed", AUTHOR)
    assert "readiness gates not met: Tested" in refused  # by the API server, at once
    assert (team.get(name) or {})["spec"]["lifecycle"] == "Draft"
    assert "refs/heads/drafts/gated/v1" in team.refs()
    assert "refs/heads/proposed/gated/v1" not in team.refs()


def test_a_killed_operator_converges_without_duplicates(
    team: Team, operator: OperatorProcess, operator_factory: type[OperatorProcess]
) -> None:
    """Create drafts while operators are killed and replaced: all converge, once each."""
    operator.kill()
    try:
        names = [f"{REPO}.pkg{i}.v1" for i in range(6)]
        current = operator_factory().start()
        for index, name in enumerate(names):
            team.create(name, init_spec(f"pkg{index}", "v1"))
            if index in (1, 3):
                current.kill()
                current = operator_factory().start()
        for name in names:
            team.settled(name)
        drafts = [r for r in team.refs() if r.startswith("refs/heads/drafts/")]
        assert sorted(drafts) == sorted(f"refs/heads/drafts/pkg{i}/v1" for i in range(6))
        for name in names:
            assert team.get(name, "prr") is not None
    finally:
        current.stop()
        operator.restart()


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  template:
    spec:
      containers:
      - name: web
        image: {image}
"""


def test_upgrade_merges_local_changes_onto_a_new_upstream(team: Team) -> None:
    base = f"{REPO}.base.v1"
    team.create(base, init_spec("base", "v1"))
    team.settled(base)
    edit(team, base, {"deploy.yaml": DEPLOYMENT.format(replicas=1, image="web:1")})
    publish(team, base)

    local = f"{REPO}.edge.v1"
    team.create(
        local,
        {
            "repository": REPO,
            "packageName": "edge",
            "workspaceName": "v1",
            "lifecycle": "Draft",
            "source": {"cloneFrom": {"upstreamRef": {"name": base}}},
        },
    )
    team.settled(local)
    cloned = (team.get(local, "prr") or {})["spec"]["resources"]["deploy.yaml"]
    assert "kpt-merge: /web" in cloned
    assert "internal.kpt.dev/upstream-identifier" in cloned
    edit(team, local, {"deploy.yaml": cloned.replace("replicas: 1", "replicas: 5")})
    publish(team, local)

    newer = f"{REPO}.base.v2"
    team.create(
        newer,
        {
            "repository": REPO,
            "packageName": "base",
            "workspaceName": "v2",
            "lifecycle": "Draft",
            "source": {"copyFrom": {"name": base}},
        },
    )
    team.settled(newer)
    edit(team, newer, {"deploy.yaml": DEPLOYMENT.format(replicas=1, image="web:2")})
    publish(team, newer)

    upgraded = f"{REPO}.edge.v2"
    team.create(
        upgraded,
        {
            "repository": REPO,
            "packageName": "edge",
            "workspaceName": "v2",
            "lifecycle": "Draft",
            "source": {
                "upgrade": {
                    "oldUpstream": {"name": base},
                    "newUpstream": {"name": newer},
                    "currentPackage": {"name": local},
                }
            },
        },
    )
    result = team.settled(upgraded)
    assert result["status"]["creationSource"] == "upgrade"
    deploy = team.show("refs/heads/drafts/edge/v2", "edge/deploy.yaml")
    assert "replicas: 5" in deploy  # the local change survived
    assert "image: web:2" in deploy  # the upstream change arrived
    kptfile = team.show("refs/heads/drafts/edge/v2", "edge/Kptfile")
    assert "ref: base/v2" in kptfile
    assert "name: edge" in kptfile
    lock = result["status"]["upstreamLock"]["git"]
    assert (lock["ref"], lock["commit"]) == ("base/v2", team.refs()["refs/tags/base/v2"])
    assert f"commit: {lock['commit']}" in kptfile

    # fast-forward over local changes is refused, and leaves no draft behind.
    refused = f"{REPO}.edge.v3"
    team.create(
        refused,
        {
            "repository": REPO,
            "packageName": "edge",
            "workspaceName": "v3",
            "lifecycle": "Draft",
            "source": {
                "upgrade": {
                    "oldUpstream": {"name": base},
                    "newUpstream": {"name": newer},
                    "currentPackage": {"name": local},
                    "strategy": "fast-forward",
                }
            },
        },
    )
    failed = team.settled(refused, ready="False")
    assert "local package files have been modified" in condition(failed, "Ready")["message"]  # type: ignore[index]
    assert "refs/heads/drafts/edge/v3" not in team.refs()

    # The upstream of a revision cannot be deleted while that revision exists.
    assert team.move(base, "DeletionProposed", APPROVER) == ""
    team.settled(base)
    team.cluster.kubectl("delete", "-n", team.namespace, "rpkg", base, "--wait=false")

    def blocked() -> bool:
        events = team.events(base)
        return any(e["reason"] == "DeletionBlocked" for e in events)

    wait_for(blocked, timeout=60, what="the deletion of a used upstream to be blocked")
    assert "refs/tags/base/v1" in team.refs()


def test_clone_from_a_git_url_with_credentials(
    team: Team, git_server: gitserver.GitServer, tmp_path: Path
) -> None:
    url = git_server.create_repository(f"{team.namespace}-catalog")
    cache = {
        "Kptfile": gitwork.KPTFILE.format(name="cache"),
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cache-config\n"
        "data:\n  size: '1'\n",
    }
    work = gitwork.seed(url, tmp_path / "catalog", {"apps/cache": cache}, ("apps/cache/v3",))
    commit = gitwork.git(work, "rev-parse", "HEAD")

    name = f"{REPO}.cache.v1"
    source = {"repo": url, "ref": "apps/cache/v3", "directory": "apps/cache"}
    team.let_read_secret("git-auth")
    team.create(
        name,
        {
            "repository": REPO,
            "packageName": "cache",
            "workspaceName": "v1",
            "lifecycle": "Draft",
            "source": {
                "cloneFrom": {"type": "git", "git": {**source, "secretRef": {"name": "git-auth"}}}
            },
        },
    )
    cloned = team.settled(name)
    assert cloned["status"]["creationSource"] == "clone"
    kptfile = team.show("refs/heads/drafts/cache/v1", "cache/Kptfile")
    assert f"commit: {commit}" in kptfile
    assert "ref: apps/cache/v3" in kptfile
    assert "cache-config" in team.show("refs/heads/drafts/cache/v1", "cache/cm.yaml")

    # Without credentials the clone fails cleanly: a condition, no branch.
    denied = f"{REPO}.cache2.v1"
    team.create(
        denied,
        {
            "repository": REPO,
            "packageName": "cache2",
            "workspaceName": "v1",
            "lifecycle": "Draft",
            "source": {"cloneFrom": {"type": "git", "git": source}},
        },
    )
    failed = team.settled(denied, ready="False")
    message = condition(failed, "Ready")["message"]  # type: ignore[index]
    assert "authentication failed" in message
    assert GIT_PASSWORD not in message
    assert not any(r.startswith("refs/heads/drafts/cache2") for r in team.refs())


def test_concurrent_clients_never_corrupt_anything(team: Team) -> None:
    # Two identical creates: the API server lets exactly one in.
    name = f"{REPO}.twin.v1"
    body = json.dumps(
        {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": name, "namespace": team.namespace},
            "spec": init_spec("twin", "v1"),
        }
    )
    procs = [
        subprocess.Popen(
            ["kubectl", f"--kubeconfig={team.cluster.kubeconfig}", "create", "-f", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [p.communicate(body) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0
    assert codes[1] != 0
    assert any("AlreadyExists" in err for _out, err in outcomes)
    team.settled(name)

    # A stale resourceVersion is a 409 Conflict.
    stale = team.get(name)
    assert stale is not None
    assert team.move(name, "Proposed", AUTHOR) == ""
    stale["spec"]["lifecycle"] = "Draft"
    replaced = team.cluster.kubectl(
        "replace", "-f", "-", input=json.dumps(stale), user=AUTHOR, check=False
    )
    assert replaced.returncode != 0
    assert "Conflict" in replaced.stderr or "modified" in replaced.stderr

    # Two proposals of one package approved at once get distinct revision numbers.
    other = f"{REPO}.twin.v2"
    team.create(other, {**init_spec("twin", "v2"), "lifecycle": "Proposed"})
    team.settled(other)
    team.settled(name)
    approve = ["--type=merge", "-p", '{"spec":{"lifecycle":"Published"}}']
    identity = [f"--as={APPROVER}", "--as-group=system:authenticated"]
    approvals = [
        subprocess.Popen(
            [
                "kubectl",
                f"--kubeconfig={team.cluster.kubeconfig}",
                *identity,
                "patch",
                "-n",
                team.namespace,
                "rpkg",
                which,
                *approve,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for which in (name, other)
    ]
    assert [p.wait() for p in approvals] == [0, 0]
    revisions = sorted(team.settled(n)["status"]["revision"] for n in (name, other))
    assert revisions == [1, 2]
    refs = team.refs()
    assert {"refs/tags/twin/v1", "refs/tags/twin/v2"} <= set(refs)


def test_deleted_revisions_can_be_recreated(team: Team) -> None:
    name = f"{REPO}.again.v1"
    team.create(name, init_spec("again", "v1"))
    team.settled(name)
    team.cluster.kubectl("delete", "-n", team.namespace, "rpkg", name, user=AUTHOR)
    wait_for(lambda: team.get(name) is None, what=f"{name} to be deleted")
    assert "refs/heads/drafts/again/v1" not in team.refs()
    assert team.get(name, "prr") is None
    team.create(name, init_spec("again", "v1"))
    recreated = team.settled(name)
    assert recreated["status"]["creationSource"] == "init"
    log = subprocess.run(
        ["git", "-C", str(team.git_dir), "log", "--format=%s", "refs/heads/drafts/again/v1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(log) == 2  # the repository's first commit and one creation


def test_package_metadata_and_kptfile_follow_each_other(team: Team) -> None:
    name = f"{REPO}.meta.v1"
    team.create(name, init_spec("meta", "v1", packageMetadata={"labels": {"tier": "web"}}))
    team.settled(name)
    assert "tier: web" in team.show("refs/heads/drafts/meta/v1", "meta/Kptfile")

    team.cluster.kubectl(
        "patch", "-n", team.namespace, "rpkg", name, "--type=merge",
        "-p", json.dumps({"spec": {"packageMetadata": {"labels": {"team": "edge"}}}}),
        user=AUTHOR,
    )  # fmt: skip
    team.settled(name)
    assert "team: edge" in team.show("refs/heads/drafts/meta/v1", "meta/Kptfile")

    kptfile = (team.get(name, "prr") or {})["spec"]["resources"]["Kptfile"]
    edit(team, name, {"Kptfile": kptfile.replace("tier: web", "tier: api")})

    def followed() -> dict[str, Any] | None:
        labels = ((team.get(name) or {}).get("spec", {}).get("packageMetadata") or {}).get("labels")
        return labels if labels and labels.get("tier") == "api" else None

    labels = wait_for(followed, timeout=60, what="spec.packageMetadata to follow the Kptfile")
    assert labels == {"tier": "api", "team": "edge"}


def test_user_finalizers_hold_the_deletion_from_git(team: Team) -> None:
    name = f"{REPO}.held.v1"
    team.create(name, init_spec("held", "v1"))
    team.settled(name)
    finalizers = {"metadata": {"finalizers": ["example.com/keep", "lanai.porch.kpt.dev/finalizer"]}}
    team.cluster.kubectl(
        "patch", "-n", team.namespace, "rpkg", name, "--type=merge", "-p", json.dumps(finalizers)
    )  # fmt: skip
    team.cluster.kubectl("delete", "-n", team.namespace, "rpkg", name, "--wait=false")
    wait_for(
        lambda: (team.get(name) or {}).get("metadata", {}).get("deletionTimestamp"),
        what="the deletion to start",
    )
    assert "refs/heads/drafts/held/v1" in team.refs()
    team.cluster.kubectl(
        "patch", "-n", team.namespace, "rpkg", name, "--type=json",
        "-p", '[{"op": "remove", "path": "/metadata/finalizers/0"}]',
    )  # fmt: skip
    wait_for(lambda: team.get(name) is None, timeout=60, what=f"{name} to be deleted")
    assert "refs/heads/drafts/held/v1" not in team.refs()


def test_an_operator_dying_between_tag_and_status_converges(
    team: Team, operator: OperatorProcess, operator_factory: type[OperatorProcess]
) -> None:
    """Crash right after the approval is pushed to Git, before the status is written."""
    name = f"{REPO}.crash.v1"
    team.create(name, {**init_spec("crash", "v1"), "lifecycle": "Proposed"})
    team.settled(name)
    operator.stop()
    doomed = operator_factory(env={"LANAI_CRASH_AT": "published-before-status"}).start()
    try:
        assert team.move(name, "Published", APPROVER) == ""
        wait_for(lambda: doomed.process and doomed.process.poll() is not None, what="the crash")
        assert "refs/tags/crash/v1" in team.refs()
        assert "revision" not in (team.get(name) or {})["status"]  # status never written
    finally:
        doomed.stop()
        operator.start()
    published = team.settled(name)
    assert published["status"]["revision"] == 1
    assert published["status"]["publishedBy"] == APPROVER
    tags = [r for r in team.refs() if r.startswith("refs/tags/crash/")]
    assert tags == ["refs/tags/crash/v1"]


_AUTH = {"name": "git-auth"}
BAD_SOURCES = {
    "unknown-upstream": (
        {"cloneFrom": {"upstreamRef": {"name": "nope.x.v1"}}},
        "does not exist in namespace",
    ),
    "bad-ref": (
        {"cloneFrom": {"git": {"repo": "{url}", "ref": "no/such", "secretRef": _AUTH}}},
        "no/such",
    ),
    "missing-secret": (
        {"cloneFrom": {"git": {"repo": "{url}", "ref": "main", "secretRef": {"name": "absent"}}}},
        "absent",
    ),
    "placeholder": (
        {"cloneFrom": {"upstreamRef": {"name": f"{REPO}.bad-base.main"}}},
        "placeholder",
    ),
    "copy-across-packages": ({"copyFrom": {"name": f"{REPO}.bad-base.v1"}}, "same package"),
}


@pytest.mark.parametrize("case", sorted(BAD_SOURCES))
def test_bad_sources_are_refused_and_leave_git_unchanged(team: Team, case: str) -> None:
    source, expected = BAD_SOURCES[case]
    base = f"{REPO}.bad-base.v1"
    team.create(base, init_spec("bad-base", "v1"))
    publish(team, base)
    wait_for(lambda: team.get(f"{REPO}.bad-base.main"), what="the branch placeholder")
    before = team.refs()
    name = f"{REPO}.{case}.v1"
    text = json.dumps(source).replace("{url}", team.url)
    for secret in ("git-auth", "absent"):  # the author may read them (one does not exist)
        team.let_read_secret(secret)
    team.create(
        name,
        {
            "repository": REPO,
            "packageName": case,
            "workspaceName": "v1",
            "lifecycle": "Draft",
            "source": json.loads(text),
        },
    )
    if case in ("missing-secret", "unknown-upstream"):  # may appear later: retried

        def reported() -> dict[str, Any] | None:
            found = condition(team.get(name), "Ready")
            return found if found and found["status"] == "False" else None

        ready = wait_for(reported, timeout=60, what=f"the {case} to be reported")
        assert ready["reason"] == "Pending"  # waits, and is retried: not a final refusal
        assert expected in ready["message"]
        assert team.delete(name) == ""  # nothing in Git: it just goes
    else:
        ready = condition(team.settled(name, ready="False"), "Ready")  # type: ignore[assignment]
    assert ready is not None
    assert expected in ready["message"]
    assert team.refs() == before


def test_a_draft_pushed_to_outside_lanai_shows_in_its_resources(team: Team, tmp_path: Path) -> None:
    name = f"{REPO}.outside.v1"
    team.create(name, init_spec("outside", "v1"))
    team.settled(name)
    branch = "drafts/outside/v1"
    work = gitwork.clone(team.url, tmp_path / "work")
    gitwork.git(work, "checkout", "-q", branch)
    extra = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"
    gitwork.commit_package(work, "outside", {"extra.yaml": extra}, "by hand")
    gitwork.git(work, "push", "-q", "origin", branch)
    manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(
        lambda: (
            "extra.yaml" in ((team.get(name, "prr") or {}).get("spec") or {}).get("resources", {})
        ),
        timeout=60,
        what="the pushed file in the resources object",
    )
