"""PackageVariant and PackageVariantSet behaviours on the real control plane and Git:
each test names one behaviour Porch users rely on, and checks the API and Git both."""

from __future__ import annotations

import json
from typing import Any

from lanai.local import gitserver
from tests.support.cluster import condition, load_yaml
from tests.support.operator import OperatorProcess
from tests.support.team import AUTHOR, Team, edit, publish
from tests.support.variants import (
    BLUEPRINT,
    Fleet,
    let_author_use_variants,
    let_read_configmaps,
)
from tests.support.waiting import wait_for

DRAFT_1 = f"refs/heads/drafts/{BLUEPRINT}/packagevariant-1"


def variant(name: str, site: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "PackageVariant",
        "metadata": {"name": name},
        "spec": {
            "upstream": {"repo": "blueprints", "package": BLUEPRINT},
            "downstream": {"repo": site, "package": BLUEPRINT},
            **spec,
        },
    }


def fleet_of(team: Team, git_server: gitserver.GitServer, *sites: str) -> Fleet:
    fleet = Fleet(team, git_server)
    let_author_use_variants(team.cluster, team.namespace)
    fleet.blueprint(1)
    for site in sites:
        fleet.site(site, env="prod")
    return fleet


def message(obj: dict[str, Any] | None, kind: str = "Ready") -> str:
    found = condition(obj, kind) or {}
    return str(found.get("message") or "")


def kptfile_steps(text: str) -> list[str]:
    document = load_yaml(text)
    return [str(f.get("name")) for f in (document.get("pipeline") or {}).get("mutators") or []]


def test_a_variant_adds_context_and_functions_once_and_follows_its_spec(
    team: Team, git_server: gitserver.GitServer, operator: OperatorProcess
) -> None:
    fleet = fleet_of(team, git_server, "site-1")
    pipeline = {"mutators": [{"image": "set-labels:v0.2", "name": "tag", "configMap": {"a": "b"}}]}
    fleet.apply(variant("pv", "site-1", packageContext={"data": {"zone": "z1"}}, pipeline=pipeline))
    fleet.ready("packagevariant", "pv")
    site = fleet.sites["site-1"]
    kptfile = site.show(DRAFT_1, f"{BLUEPRINT}/Kptfile")
    assert kptfile_steps(kptfile) == ["PackageVariant.pv.tag.0"]
    assert "zone: z1" in site.show(DRAFT_1, f"{BLUEPRINT}/package-context.yaml")
    assert "a: b" in site.show(DRAFT_1, f"{BLUEPRINT}/app.yaml")  # the function ran
    head = site.refs()[DRAFT_1]

    # Applied again (a restart re-reconciles everything): nothing changes in Git.
    operator.restart()
    fleet.ready("packagevariant", "pv")
    assert site.refs()[DRAFT_1] == head

    # The spec changes: Lanai replaces its own steps (by name) and adds the new key.
    pipeline["mutators"].append({"image": "set-annotations:v0.1", "name": "note",
                                 "configMap": {"n": "1"}})  # fmt: skip
    fleet.apply(variant("pv", "site-1", packageContext={"data": {"zone": "z2"}}, pipeline=pipeline))
    fleet.ready("packagevariant", "pv")
    kptfile = site.show(DRAFT_1, f"{BLUEPRINT}/Kptfile")
    assert kptfile_steps(kptfile) == ["PackageVariant.pv.tag.0", "PackageVariant.pv.note.1"]
    assert "zone: z2" in site.show(DRAFT_1, f"{BLUEPRINT}/package-context.yaml")
    reasons = {e["reason"] for e in fleet.team.events("pv")}
    assert {"Created", "Edited"} <= reasons


def test_a_pinned_revision_is_cloned_and_never_upgraded(
    team: Team, git_server: gitserver.GitServer
) -> None:
    fleet = fleet_of(team, git_server, "site-1")
    fleet.blueprint(2, color="green")
    # Porch's docs write revisions as strings (v1); its CRD says integer; both work.
    pinned = {"repo": "blueprints", "package": BLUEPRINT, "revision": "v1"}
    fleet.apply(variant("pinned", "site-1", upstream=pinned))
    fleet.ready("packagevariant", "pinned")
    made = fleet.get("rpkg", f"site-1.{BLUEPRINT}.packagevariant-1")
    assert made is not None
    assert made["spec"]["source"] == {"cloneFrom": {"upstreamRef": {"name": "blueprints.blue.v1"}}}
    assert "color: blue" in fleet.sites["site-1"].show(DRAFT_1, f"{BLUEPRINT}/app.yaml")
    fleet.publish_downstream(f"site-1.{BLUEPRINT}.packagevariant-1")
    fleet.ready("packagevariant", "pinned")
    at_site = [
        r
        for r in fleet.revisions(BLUEPRINT)
        if r["spec"]["repository"] == "site-1" and r["status"].get("revision") != -1
    ]
    assert [r["metadata"]["name"] for r in at_site] == [f"site-1.{BLUEPRINT}.packagevariant-1"]


def test_an_existing_downstream_is_adopted_only_when_asked(
    team: Team, git_server: gitserver.GitServer
) -> None:
    fleet = fleet_of(team, git_server, "site-1")
    mine = f"site-1.{BLUEPRINT}.by-hand"
    fleet.sites["site-1"].create(
        mine,
        {"repository": "site-1", "packageName": BLUEPRINT, "workspaceName": "by-hand",
         "source": {"cloneFrom": {"upstreamRef": {"name": "blueprints.blue.v1"}}}},
    )  # fmt: skip
    fleet.sites["site-1"].settled(mine)
    fleet.apply(
        variant("pv", "site-1", packageContext={"data": {"owner": "pv"}}, labels={"x": "y"})
    )

    def refused() -> str | None:
        text = message(fleet.get("packagevariant", "pv"))
        return text if "adoptionPolicy: adoptExisting" in text else None

    assert "already exists in repository site-1" in wait_for(refused, what="a refusal to adopt")
    fleet.apply(variant("pv", "site-1", packageContext={"data": {"owner": "pv"}},
                        labels={"x": "y"}, adoptionPolicy="adoptExisting"))  # fmt: skip
    ready = fleet.ready("packagevariant", "pv")
    assert [t["name"] for t in ready["status"]["downstreamTargets"]] == [mine]
    adopted = fleet.get("rpkg", mine)
    assert adopted is not None
    assert adopted["metadata"]["labels"]["x"] == "y"
    assert [r["name"] for r in adopted["metadata"]["ownerReferences"]] == ["pv"]
    context = fleet.sites["site-1"].show(f"refs/heads/drafts/{BLUEPRINT}/by-hand",
                                         f"{BLUEPRINT}/package-context.yaml")  # fmt: skip
    assert "owner: pv" in context
    assert len([r for r in fleet.revisions(BLUEPRINT) if r["spec"]["repository"] == "site-1"]) == 1


def test_deleting_a_variant_deletes_or_orphans_its_drafts(
    team: Team, git_server: gitserver.GitServer
) -> None:
    fleet = fleet_of(team, git_server, "site-1", "site-2")
    fleet.apply(variant("deletes", "site-1"))
    fleet.apply(variant("orphans", "site-2", deletionPolicy="orphan"))
    fleet.ready("packagevariant", "deletes")
    fleet.ready("packagevariant", "orphans")
    for name in ("deletes", "orphans"):
        team.cluster.kubectl("delete", "-n", team.namespace, "packagevariant", name,
                             "--wait=false", user=AUTHOR)  # fmt: skip
    team.gone(f"site-1.{BLUEPRINT}.packagevariant-1")
    wait_for(lambda: DRAFT_1 not in fleet.sites["site-1"].refs(), what="the draft branch deleted")
    wait_for(lambda: fleet.get("packagevariant", "orphans") is None, what="the orphaning variant")
    kept = fleet.get("rpkg", f"site-2.{BLUEPRINT}.packagevariant-1")
    assert kept is not None
    assert not kept["metadata"].get("ownerReferences")
    assert DRAFT_1 in fleet.sites["site-2"].refs()


INJECTABLE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: endpoints
  annotations:
    kpt.dev/config-injection: required
    config.kubernetes.io/local-config: "true"
data:
  db: placeholder
"""
SECRET_POINT = """apiVersion: v1
kind: Secret
metadata:
  name: token
  annotations:
    kpt.dev/config-injection: optional
    config.kubernetes.io/local-config: "true"
"""


def test_config_injection_copies_configmaps_the_author_may_read_and_never_secrets(
    team: Team, git_server: gitserver.GitServer
) -> None:
    fleet = Fleet(team, git_server)
    let_author_use_variants(team.cluster, team.namespace)
    let_read_configmaps(team.cluster, team.namespace)
    name = "blueprints.blue.v1"
    team.create(name, {"repository": "blueprints", "packageName": BLUEPRINT,
                       "workspaceName": "v1", "source": {"init": {}}})  # fmt: skip
    team.settled(name)
    edit(team, name, {"endpoints.yaml": INJECTABLE, "token.yaml": SECRET_POINT})
    publish(team, name)
    fleet.site("site-1")
    team.cluster.apply(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "east-endpoints", "namespace": team.namespace},
         "data": {"db": "db.east.example.com"}}
    )  # fmt: skip
    team.cluster.apply(
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "east-endpoints", "namespace": team.namespace},
         "stringData": {"token": "do-not-copy"}}
    )  # fmt: skip
    fleet.apply(variant("pv", "site-1", injectors=[{"name": "east-endpoints"}]))
    fleet.ready("packagevariant", "pv")
    site = fleet.sites["site-1"]
    injected = site.show(DRAFT_1, f"{BLUEPRINT}/endpoints.yaml")
    assert "db: db.east.example.com" in injected
    assert "kpt.dev/injected-resource: east-endpoints" in injected
    assert "do-not-copy" not in json.dumps(site.files(DRAFT_1)) + site.show(
        DRAFT_1, f"{BLUEPRINT}/token.yaml"
    )
    kptfile = site.show(DRAFT_1, f"{BLUEPRINT}/Kptfile")
    assert "conditionType: config.injection.ConfigMap.endpoints" in kptfile
    revision = fleet.get("rpkg", f"site-1.{BLUEPRINT}.packagevariant-1") or {}
    conditions = {c["type"]: c for c in revision["status"]["packageConditions"]}
    assert conditions["config.injection.ConfigMap.endpoints"]["status"] == "True"
    secret = conditions["config.injection.Secret.token"]
    assert secret["status"] == "False"
    assert "never injects or selects Secret" in secret["message"]


def test_an_object_selector_over_configmaps_needs_the_authors_rights_and_follows_new_objects(
    team: Team, git_server: gitserver.GitServer
) -> None:
    fleet = fleet_of(team, git_server, "site-1", "site-2", "site-3")
    for site in ("site-1", "site-2"):
        team.cluster.apply(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": site, "namespace": team.namespace,
                          "labels": {"tier": "edge", "zone": f"z-{site}"}}}
        )  # fmt: skip
    fleet.apply(
        {"apiVersion": "config.porch.kpt.dev/v1alpha2", "kind": "PackageVariantSet",
         "metadata": {"name": "edge"},
         "spec": {"upstream": {"repo": "blueprints", "package": BLUEPRINT},
                  "targets": [{"objectSelector": {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "matchLabels": {"tier": "edge"}},
                               "template": {"labelExprs": [
                                   {"key": "zone", "valueExpr": "target.labels['zone']"}]}}]}}
    )  # fmt: skip
    stalled = fleet.stalled("packagevariantset", "edge")
    assert stalled["reason"] == "Forbidden"
    assert f'user "{AUTHOR}" may not "list" on configmaps' in stalled["message"]
    assert fleet.variants() == []

    let_read_configmaps(team.cluster, team.namespace)
    fleet.ready("packagevariantset", "edge", timeout=120)
    for site in ("site-1", "site-2"):
        made = fleet.ready("packagevariant", f"edge-{site}-{BLUEPRINT}")
        assert made["spec"]["labels"] == {"zone": f"z-{site}"}
    team.cluster.apply(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "site-3", "namespace": team.namespace,
                      "labels": {"tier": "edge", "zone": "z-site-3"}}}
    )  # fmt: skip
    fleet.ready("packagevariant", f"edge-site-3-{BLUEPRINT}", timeout=120)
    assert fleet.get("rpkg", f"site-3.{BLUEPRINT}.packagevariant-1") is not None


def test_a_bad_expression_stalls_the_set_and_deletes_nothing(
    team: Team, git_server: gitserver.GitServer
) -> None:
    fleet = fleet_of(team, git_server, "site-1", "site-2")
    good = {
        "apiVersion": "config.porch.kpt.dev/v1alpha2", "kind": "PackageVariantSet",
        "metadata": {"name": "fleet"},
        "spec": {"upstream": {"repo": "blueprints", "package": BLUEPRINT},
                 "targets": [{"repositorySelector": {"matchLabels": {"env": "prod"}},
                              "template": {"labelExprs": [{"key": "site",
                                                           "valueExpr": "repository.name"}]}}]},
    }  # fmt: skip
    fleet.apply(good)
    fleet.ready("packagevariantset", "fleet")
    before = sorted(v["metadata"]["name"] for v in fleet.variants())
    assert len(before) == 2
    bad = json.loads(json.dumps(good))
    bad["spec"]["targets"][0]["template"]["labelExprs"][0]["valueExpr"] = (
        "repository.labels['no-such-label']"
    )
    fleet.apply(bad)
    stalled = fleet.stalled("packagevariantset", "fleet")
    assert stalled["reason"] == "InvalidExpression"
    assert "labelExprs[0].valueExpr" in stalled["message"]
    assert "repository.labels['no-such-label']" in stalled["message"]
    assert "no such key: no-such-label" in stalled["message"]
    assert sorted(v["metadata"]["name"] for v in fleet.variants()) == before
    assert all(v["spec"]["labels"]["site"] for v in fleet.variants())


def test_a_variant_does_only_what_its_author_could(
    team: Team, git_server: gitserver.GitServer
) -> None:
    fleet = fleet_of(team, git_server, "site-1")
    carol = "carol@example.com"
    let_author_use_variants(team.cluster, team.namespace, carol)  # variants, no revisions
    team.cluster.kubectl("create", "rolebinding", "-n", team.namespace, "carol-variants",
                         "--clusterrole=lanai-variant-author", f"--user={carol}")  # fmt: skip
    fleet.apply(variant("carols", "site-1"), user=carol)

    def refused() -> str | None:
        text = message(fleet.get("packagevariant", "carols"))
        return text if "may not" in text else None

    text = wait_for(refused, what="the variant to be refused")
    assert f'user "{carol}" may not "create" on packagerevisions.porch.kpt.dev' in text
    assert not [r for r in fleet.revisions() if r["spec"]["repository"] == "site-1"]


def test_a_killed_operator_converges_without_duplicate_downstreams(
    team: Team,
    git_server: gitserver.GitServer,
    operator: OperatorProcess,
    operator_factory: type[OperatorProcess],
) -> None:
    sites = [f"site-{n}" for n in range(6)]
    fleet = fleet_of(team, git_server, *sites)
    operator.kill()
    current = operator_factory().start()
    try:
        fleet.apply(
            {"apiVersion": "config.porch.kpt.dev/v1alpha2", "kind": "PackageVariantSet",
             "metadata": {"name": "fleet"},
             "spec": {"upstream": {"repo": "blueprints", "package": BLUEPRINT},
                      "targets": [{"repositorySelector": {"matchLabels": {"env": "prod"}}}]}}
        )  # fmt: skip
        wait_for(lambda: len(fleet.variants()) >= 2, what="the fan-out to start")
        current.kill()
        current = operator_factory().start()
        wait_for(lambda: len(fleet.revisions(BLUEPRINT)) >= 4, what="some downstreams")
        current.kill()
        current = operator_factory().start()
        for site in sites:
            fleet.ready("packagevariant", f"fleet-{site}-{BLUEPRINT}", timeout=120)
        downstream = [r for r in fleet.revisions(BLUEPRINT) if r["spec"]["repository"] in sites]
        assert sorted(r["metadata"]["name"] for r in downstream) == sorted(
            f"{site}.{BLUEPRINT}.packagevariant-1" for site in sites
        )
        for site in sites:
            drafts = [r for r in fleet.sites[site].refs() if r.startswith("refs/heads/drafts/")]
            assert drafts == [DRAFT_1]
    finally:
        current.stop()
        operator.restart()
