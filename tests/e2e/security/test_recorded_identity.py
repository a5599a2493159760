"""Who wrote a PackageRevision is recorded by the API server, never by the writer.

The identity policies (config/policy/actor-identity.yaml, requester-identity.yaml) leave
a create alone only when it already carries exactly what they would write: the
requester's own name and groups. That is how the operator's mirrored revisions skip the
patch (lanai/handlers/identity.py). Anything else, a forged name, forged groups or a
half-right pair, is overwritten with the truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lanai.local import gitserver
from tests.support import manifests
from tests.support.cluster import Cluster
from tests.support.gitwork import KPTFILE, seed
from tests.support.operator import OperatorProcess
from tests.support.team import AUTHOR, REPO, Team, init_spec
from tests.support.waiting import wait_for

ACTOR = "lanai.porch.kpt.dev/actor"
REQUESTED_BY = "lanai.porch.kpt.dev/requested-by"
REQUESTED_BY_GROUPS = "lanai.porch.kpt.dev/requested-by-groups"
AUTHOR_GROUPS = '["system:authenticated"]'
"""What the API server records for the author (an impersonated user in no group)."""


@pytest.mark.parametrize(
    ("case", "claimed"),
    [
        ("other-user", {REQUESTED_BY: "system:admin", REQUESTED_BY_GROUPS: AUTHOR_GROUPS}),
        ("other-groups", {REQUESTED_BY: AUTHOR, REQUESTED_BY_GROUPS: '["system:masters"]'}),
        ("added-group", {
            REQUESTED_BY: AUTHOR,
            REQUESTED_BY_GROUPS: '["system:authenticated","system:masters"]',
        }),
        ("name-only", {REQUESTED_BY: AUTHOR}),
        ("spaced-groups", {
            REQUESTED_BY: AUTHOR, REQUESTED_BY_GROUPS: '[ "system:authenticated" ]'
        }),
        ("other-actor", {ACTOR: "system:admin"}),
    ],
)  # fmt: skip
def test_a_half_right_claim_is_overwritten_with_the_truth(
    team: Team, case: str, claimed: dict[str, str]
) -> None:
    name = f"{REPO}.claim-{case}.v1"
    team.create(name, init_spec(f"claim-{case}", "v1"), user=AUTHOR, annotations=claimed)
    annotations = (team.get(name) or {})["metadata"]["annotations"]
    assert annotations[ACTOR] == AUTHOR
    assert annotations[REQUESTED_BY] == AUTHOR
    assert annotations[REQUESTED_BY_GROUPS] == AUTHOR_GROUPS


def test_the_exact_truth_is_kept_as_written(team: Team) -> None:
    name = f"{REPO}.claim-truth.v1"
    truth = {ACTOR: AUTHOR, REQUESTED_BY: AUTHOR, REQUESTED_BY_GROUPS: AUTHOR_GROUPS}
    team.create(name, init_spec("claim-truth", "v1"), user=AUTHOR, annotations=truth)
    annotations = (team.get(name) or {})["metadata"]["annotations"]
    assert {k: annotations[k] for k in truth} == truth


def _skipped(cluster: Cluster, policy: str) -> float:
    """Creates the API server matched against ``policy`` minus the times it ran the
    policy's mutation: the creates it let through unchanged. (The match-condition
    exclusion counter counts webhooks only.)"""
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    evaluated = mutated = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "apiserver_admission_match_condition_evaluation_seconds_count"
                and labels.get("name") == policy
                and labels.get("operation") == "CREATE"
            ):
                evaluated += sample.value
            elif (
                sample.name == "apiserver_mutating_admission_policy_check_total"
                and labels.get("policy") == policy
            ):
                mutated += sample.value
    return evaluated - mutated


def test_mirrored_revisions_record_the_operator_without_a_patch(
    cluster: Cluster,
    namespace: str,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    who = cluster.kubectl(f"--kubeconfig={operator.kubeconfig}", "auth", "whoami", "-o", "json")
    info = json.loads(who.stdout)["status"]["userInfo"]
    url = git_server.create_repository(f"{namespace}-identity")
    files = {f"pkg{n}": {"Kptfile": KPTFILE.format(name=f"pkg{n}")} for n in range(3)}
    seed(url, tmp_path / "work", files, tuple(f"pkg{n}/v1" for n in range(3)))
    policies = ("lanai-package-actor", "lanai-requester-packagerevision")
    before = {p: _skipped(cluster, p) for p in policies}

    manifests.register(cluster, namespace, "mirrored", url)
    found = wait_for(
        lambda: (r := manifests.revisions(cluster, namespace)) and len(r) == 6 and r,
        what="3 published revisions and 3 branch placeholders",
    )
    for revision in found.values():
        annotations = revision["metadata"]["annotations"]
        assert annotations[ACTOR] == info["username"]
        assert annotations[REQUESTED_BY] == info["username"]
        assert json.loads(annotations[REQUESTED_BY_GROUPS]) == info["groups"]
    for policy in policies:
        assert _skipped(cluster, policy) - before[policy] >= len(found), policy


def test_the_operators_resources_object_records_the_operator_without_a_patch(
    team: Team, cluster: Cluster, operator: OperatorProcess
) -> None:
    who = cluster.kubectl(f"--kubeconfig={operator.kubeconfig}", "auth", "whoami", "-o", "json")
    user = json.loads(who.stdout)["status"]["userInfo"]["username"]
    name = f"{REPO}.claim-resources.v1"
    before = _skipped(cluster, "lanai-package-actor")
    team.create(name, init_spec("claim-resources", "v1"), user=AUTHOR)
    team.settled(name)
    assert (team.get(name) or {})["metadata"]["annotations"][ACTOR] == AUTHOR
    resources = team.get(name, "prr") or {}
    assert resources["metadata"]["annotations"][ACTOR] == user
    # The author's create was patched; the operator's create of the resources was not.
    assert _skipped(cluster, "lanai-package-actor") - before >= 1
