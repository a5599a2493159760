"""Refuse at admission what cannot happen, retry what must wait, and let Ready tell the truth.

A propose or approve whose readiness gates are unmet, or an approval of a revision that
is not in Git yet, is refused by the API server with a message that says what to wait
for: ``spec.lifecycle`` never says Published for a revision that is not. What only has to
wait (a copy of a source whose approval is in flight, a Git server that is down) is
retried until it clears, with Ready=False reason Pending and the first cause meanwhile,
and one Event. The gates and package metadata in the spec and in the Kptfile follow each
other both ways, so that what the policy reads is what Git holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml.comments import CommentedMap

from lanai.kpt import kptfile as kpt_kptfile
from lanai.kpt import yamlio
from lanai.local import gitserver
from tests.support import gitwork, manifests
from tests.support.cluster import Cluster, condition
from tests.support.gitwork import GIT_PASSWORD, GIT_TOKEN, GIT_USER
from tests.support.operator import OperatorProcess
from tests.support.team import (
    APPROVER,
    AUTHOR,
    REPO,
    Team,
    edit,
    init_spec,
    make_team,
    publish,
)
from tests.support.waiting import wait_for


def _kptfile(team: Team, name: str) -> CommentedMap:
    resources = wait_for(lambda: team.get(name, "prr"), what=f"resources of {name}")
    return yamlio.load_document(resources["spec"]["resources"]["Kptfile"])


def _edit_kptfile(team: Team, name: str, change: Callable[[CommentedMap], None]) -> None:
    """Edit the Draft's Kptfile through its resources object, as kubectl edit would."""
    document = _kptfile(team, name)
    change(document)
    edit(team, name, {"Kptfile": yamlio.dump_document(document)})


def _spec(team: Team, name: str) -> dict[str, Any]:
    found: dict[str, Any] = (team.get(name) or {}).get("spec") or {}
    return found


def _gates(spec: dict[str, Any]) -> list[str]:
    return [g["conditionType"] for g in spec.get("readinessGates") or []]


def _labels(spec: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = (spec.get("packageMetadata") or {}).get("labels") or {}
    return found


def _condition_met(team: Team, name: str, kind: str) -> bool:
    conditions = ((team.get(name) or {}).get("status") or {}).get("packageConditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def test_unmet_readiness_gates_refuse_propose_and_approve_until_the_kptfile_meets_them(
    team: Team,
) -> None:
    name = f"{REPO}.gated.v1"
    team.create(name, init_spec("gated", "v1", readinessGates=[{"conditionType": "Tested"}]))
    team.settled(name)

    proposing = team.move(name, "Proposed", AUTHOR)
    assert f"cannot propose {name}: readiness gates not met: Tested must be True" in proposing
    assert "status.packageConditions" in proposing
    approving = team.move(name, "Published", APPROVER)
    assert f"cannot approve {name}: readiness gates not met: Tested" in approving
    assert _spec(team, name)["lifecycle"] == "Draft"  # the refusal changed nothing
    assert "refs/heads/drafts/gated/v1" in team.refs()

    # The Kptfile's own condition meets the gate; the policy reads it from the status.
    _edit_kptfile(team, name, lambda doc: kpt_kptfile.set_condition(doc, "Tested", "True"))
    wait_for(
        lambda: _condition_met(team, name, "Tested"),
        timeout=60,
        what="Tested=True in status.packageConditions",
    )
    team.settled(name)
    assert team.move(name, "Proposed", AUTHOR) == ""
    team.settled(name)
    assert team.move(name, "Published", APPROVER) == ""
    published = team.settled(name)
    assert published["status"]["revision"] == 1
    assert "refs/tags/gated/v1" in team.refs()


def test_gates_added_in_the_kptfile_show_in_the_spec_and_hold_the_approval(team: Team) -> None:
    """The measured bug: Kptfile gates that the spec did not show let an approval through."""
    name = f"{REPO}.late.v1"
    team.create(name, {**init_spec("late", "v1")})
    team.settled(name)
    _edit_kptfile(team, name, lambda doc: kpt_kptfile.set_readiness_gates(doc, ["Scanned"]))
    wait_for(
        lambda: _gates(_spec(team, name)) == ["Scanned"],
        timeout=60,
        what="spec.readinessGates to show the Kptfile's gate",
    )
    team.settled(name)
    refused = team.move(name, "Published", APPROVER)
    assert "readiness gates not met: Scanned" in refused
    assert _spec(team, name)["lifecycle"] == "Draft"

    # A clone of a published revision with gates shows them from the start.
    _edit_kptfile(team, name, lambda doc: kpt_kptfile.set_condition(doc, "Scanned", "True"))
    wait_for(lambda: _condition_met(team, name, "Scanned"), timeout=60, what="Scanned=True")
    publish(team, name)
    clone = f"{REPO}.site.v1"
    team.create(
        clone,
        {
            "repository": REPO,
            "packageName": "site",
            "workspaceName": "v1",
            "source": {"cloneFrom": {"upstreamRef": {"name": name}}},
        },
    )
    cloned = team.settled(clone)
    assert _gates(cloned["spec"]) == ["Scanned"]
    assert _condition_met(team, clone, "Scanned")


def test_gates_and_package_metadata_follow_the_kptfile_both_ways(
    team: Team, tmp_path: Path
) -> None:
    name = f"{REPO}.meta.v1"
    team.create(
        name,
        init_spec(
            "meta",
            "v1",
            readinessGates=[{"conditionType": "Tested"}, {"conditionType": "Scanned"}],
            packageMetadata={"labels": {"tier": "web", "team": "edge"}},
        ),
    )
    team.settled(name)
    branch = "refs/heads/drafts/meta/v1"

    def in_git() -> CommentedMap:
        return yamlio.load_document(team.show(branch, "meta/Kptfile"))

    # spec → Kptfile: a user's patch, removals included.
    team.cluster.merge_patch(
        "rpkg", name, team.namespace,
        {"spec": {"readinessGates": [{"conditionType": "Tested"}],
                  "packageMetadata": {"labels": {"tier": None, "owner": "net"}}}},
        user=AUTHOR,
    )  # fmt: skip
    team.settled(name)
    document = in_git()
    assert [g["conditionType"] for g in document["info"]["readinessGates"]] == ["Tested"]
    assert kpt_kptfile.labels(document) == {"team": "edge", "owner": "net"}

    # Kptfile → spec: an edit of the resources.
    def retag(doc: CommentedMap) -> None:
        kpt_kptfile.replace_readiness_gates(doc, ["Approved"])
        kpt_kptfile.remove_label(doc, "team")
        kpt_kptfile.set_label(doc, "tier", "api")

    _edit_kptfile(team, name, retag)
    wait_for(
        lambda: (
            _gates(spec := _spec(team, name)) == ["Approved"]
            and _labels(spec) == {"owner": "net", "tier": "api"}
        ),
        timeout=60,
        what="the spec to follow the edited Kptfile",
    )
    settled = team.settled(name)
    assert kpt_kptfile.labels(in_git()) == {"owner": "net", "tier": "api"}  # nothing undone
    assert _labels(settled["spec"]) == {"owner": "net", "tier": "api"}

    # Kptfile → spec: a commit pushed to the draft branch outside Lanai, found by the sync.
    work = gitwork.clone(team.url, tmp_path / "work")
    gitwork.git(work, "checkout", "-q", "drafts/meta/v1")
    pushed = in_git()
    kpt_kptfile.set_readiness_gates(pushed, ["Signed"])
    kpt_kptfile.set_label(pushed, "pushed", "yes")
    gitwork.commit_package(work, "meta", {"Kptfile": yamlio.dump_document(pushed)}, "by hand")
    gitwork.git(work, "push", "-q", "origin", "drafts/meta/v1")
    manifests.sync_now(team.cluster, team.namespace, REPO)
    wait_for(
        lambda: (
            _gates(spec := _spec(team, name)) == ["Approved", "Signed"]
            and _labels(spec).get("pushed") == "yes"
        ),
        timeout=60,
        what="the spec to follow the pushed Kptfile",
    )


def test_approving_before_the_revision_is_in_git_is_refused_until_it_is(
    team: Team, operator: OperatorProcess
) -> None:
    name = f"{REPO}.early.v1"
    operator.stop()  # nothing is carried out: the revision stays "just created"
    try:
        team.create(name, {**init_spec("early", "v1"), "lifecycle": "Proposed"})
        refused = team.move(name, "Published", APPROVER)
        assert f"cannot approve {name} yet: it is not created in Git yet" in refused
        assert f"kubectl wait --for=condition=Ready rpkg/{name}" in refused
        assert _spec(team, name)["lifecycle"] == "Proposed"
    finally:
        operator.start()
    team.settled(name)

    # Once in Git, an approval that arrives while an earlier change is still on its way is
    # accepted and carried out after it (porchctl proposes, then approves at once).
    operator.stop()
    try:
        patch = {"spec": {"packageMetadata": {"labels": {"tier": "web"}}}}
        assert team.cluster.merge_patch("rpkg", name, team.namespace, patch, user=AUTHOR) == ""
        assert team.move(name, "Published", APPROVER) == ""
    finally:
        operator.start()
    published = team.settled(name)
    assert published["status"]["revision"] == 1
    assert published["spec"]["packageMetadata"]["labels"]["tier"] == "web"


@pytest.fixture
def own_git_server(tmp_path: Path) -> Iterator[gitserver.GitServer]:
    """A Git server of this test's own, to stop and start without disturbing others."""
    credentials = gitserver.Credentials(users={GIT_USER: GIT_PASSWORD}, tokens={GIT_TOKEN})
    server = gitserver.GitServer(tmp_path / "git", credentials).start()
    yield server
    server.stop()


@contextlib.contextmanager
def outage(server: gitserver.GitServer) -> Iterator[None]:
    """The Git server is down (connections refused), then back at the same address."""
    server.stop()
    try:
        yield
    finally:
        server.start()


@contextlib.contextmanager
def hang(server: gitserver.GitServer) -> Iterator[None]:
    """The Git server takes connections and does not answer, then answers again."""
    server.pause()
    try:
        yield
    finally:
        server.resume()


def _pending(team: Team, name: str) -> dict[str, Any]:
    """Ready=False reason Pending for the object's current spec, and the spec not done."""

    def probe() -> dict[str, Any] | None:
        obj = team.get(name)
        ready = condition(obj, "Ready")
        if obj is None or ready is None or ready["status"] != "False":
            return None
        generation = obj["metadata"]["generation"]
        if ready.get("observedGeneration") != generation:
            return None
        assert ready["reason"] == "Pending", ready
        assert (obj.get("status") or {}).get("observedGeneration") != generation
        return ready

    return wait_for(probe, timeout=60, what=f"{name} to report Ready=False Pending")


def _retries(team: Team, name: str) -> int:
    """How often kopf has retried the reconciliation (its progress in status.kopf)."""
    status = (team.get(name) or {}).get("status") or {}
    progress = (status.get("kopf") or {}).get("progress") or {}
    return int((progress.get("reconcile") or {}).get("retries") or 0)


def _still_pending(team: Team, name: str, first: dict[str, Any]) -> None:
    """Retries later, the condition still says the first cause; Ready never went True."""
    seen = _retries(team, name)
    wait_for(
        lambda: _retries(team, name) >= seen + 2,
        timeout=60,
        what=f"two more retries of the reconciliation of {name}",
    )
    ready = condition(team.get(name), "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "Pending",
        first["message"],
    )


def test_a_git_outage_during_create_propose_and_approve_shows_pending_then_converges(
    cluster: Cluster,
    namespace: str,
    own_git_server: gitserver.GitServer,
    operator: OperatorProcess,
) -> None:
    team = make_team(cluster, namespace, own_git_server)
    name = f"{REPO}.outage.v1"
    with outage(own_git_server):
        team.create(name, init_spec("outage", "v1"))
        first = _pending(team, name)
        assert "cannot reach the repository" in first["message"]
        _still_pending(team, name, first)
    assert team.settled(name)["status"]["selfLock"]
    assert "refs/heads/drafts/outage/v1" in team.refs()

    with outage(own_git_server):
        assert team.move(name, "Proposed", AUTHOR) == ""
        assert "cannot reach the repository" in _pending(team, name)["message"]
        assert "refs/heads/drafts/outage/v1" in team.refs()
    team.settled(name)
    assert "refs/heads/proposed/outage/v1" in team.refs()

    with outage(own_git_server):
        assert team.move(name, "Published", APPROVER) == ""
        assert "cannot reach the repository" in _pending(team, name)["message"]
        assert not any(r.startswith("refs/tags/outage/") for r in team.refs())
    published = team.settled(name)
    assert published["status"]["revision"] == 1
    assert "refs/tags/outage/v1" in team.refs()
    # One Warning per outage, not one per retry.
    pending = [e["type"] for e in team.events(name) if e["reason"] == "Pending"]
    assert pending == ["Warning"] * 3


def test_a_copy_issued_while_its_source_is_being_approved_waits_and_then_copies(
    cluster: Cluster,
    namespace: str,
    own_git_server: gitserver.GitServer,
    operator: OperatorProcess,
) -> None:
    """The source's spec says Published before Git does: the copy waits, never fails."""
    team = make_team(cluster, namespace, own_git_server)
    base = f"{REPO}.base.v1"
    team.create(base, {**init_spec("base", "v1"), "lifecycle": "Proposed"})
    team.settled(base)
    copy = f"{REPO}.base.v2"
    with outage(own_git_server):  # the approval cannot reach Git yet
        assert team.move(base, "Published", APPROVER) == ""
        team.create(copy, {**init_spec("base", "v2"), "source": {"copyFrom": {"name": base}}})
        waiting = _pending(team, copy)
        assert f'"{base}" is Proposed; only Published revisions can be cloned' in waiting["message"]
        assert "waiting until it is published" in waiting["message"]
    assert team.settled(base)["status"]["revision"] == 1
    copied = team.settled(copy)
    assert copied["status"]["creationSource"] == "copy"
    assert team.show("refs/heads/drafts/base/v2", "base/README.md") == team.show(
        "refs/tags/base/v1", "base/README.md"
    )
    notes = [e for e in team.events(copy) if e["reason"] == "Pending"]
    assert [e["type"] for e in notes] == ["Normal"]  # waiting is not a fault


def test_a_change_held_up_by_a_hanging_git_server_is_pending_not_ready(
    cluster: Cluster,
    namespace: str,
    own_git_server: gitserver.GitServer,
    operator: OperatorProcess,
    operator_factory: type[OperatorProcess],
) -> None:
    """Ready=True of the previous spec never stands for a change not in Git yet, even while
    Git neither answers nor fails (a patient operator waits up to its Git timeout)."""
    operator.stop()
    patient = operator_factory(extra_args=["--git-timeout=300"]).start()
    try:
        team = make_team(cluster, namespace, own_git_server)
        name = f"{REPO}.slow.v1"
        team.create(name, init_spec("slow", "v1"))
        team.settled(name)
        with hang(own_git_server):
            assert team.move(name, "Proposed", AUTHOR) == ""
            noted = _pending(team, name)
            assert "not in Git yet" in noted["message"]
            assert "refs/heads/proposed/slow/v1" not in team.refs()
        proposed = team.settled(name)
        ready = condition(proposed, "Ready")
        assert ready is not None
        assert ready["observedGeneration"] == proposed["metadata"]["generation"]
        assert "refs/heads/proposed/slow/v1" in team.refs()
    finally:
        patient.stop()
        operator.start()


def test_a_clone_applied_before_its_upstream_waits_for_it_and_then_clones(team: Team) -> None:
    """Argo CD applies a set of manifests in any order: a clone whose upstream does not
    exist yet is not refused for good (its source is immutable: it could never be fixed),
    it waits until the upstream is created and published."""
    upstream = f"{REPO}.blueprint.v1"
    clone = f"{REPO}.edge.v1"
    team.create(
        clone,
        {
            "repository": REPO,
            "packageName": "edge",
            "workspaceName": "v1",
            "source": {"cloneFrom": {"upstreamRef": {"name": upstream}}},
        },
    )
    waiting = _pending(team, clone)
    assert f'"{upstream}" does not exist in namespace {team.namespace}' in waiting["message"]
    team.create(upstream, init_spec("blueprint", "v1"))
    publish(team, upstream)
    cloned = team.settled(clone)
    assert cloned["status"]["creationSource"] == "clone"
    assert cloned["status"]["upstreamLock"]["git"]["ref"] == "blueprint/v1"
    assert [e["type"] for e in team.events(clone) if e["reason"] == "Pending"] == ["Normal"]
