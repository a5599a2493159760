"""PackageVariantSet fan-out on the real control plane and Git server: one blueprint,
ten deployment Repositories, one set; the upgrade wave; a Repository leaving the set."""

from __future__ import annotations

from typing import Any

from lanai.local import gitserver
from tests.support.cluster import condition
from tests.support.team import APPROVER, AUTHOR, Team
from tests.support.variants import BLUEPRINT, Fleet, let_author_use_variants
from tests.support.waiting import wait_for

SITES = [f"site-{n}" for n in range(10)]


def fleet_set(name: str = "fleet", **template: Any) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha2",
        "kind": "PackageVariantSet",
        "metadata": {"name": name},
        "spec": {
            "upstream": {"repo": "blueprints", "package": BLUEPRINT},
            "targets": [
                {
                    "repositorySelector": {"matchLabels": {"env": "prod"}},
                    "template": {
                        "labels": {"fleet": name},
                        "packageContext": {
                            "dataExprs": [
                                {"key": "site", "valueExpr": "repository.name"},
                                {"key": "region", "valueExpr": "repository.labels['region']"},
                            ]
                        },
                        **template,
                    },
                }
            ],
        },
    }


def downstreams(fleet: Fleet, variant: str) -> list[str]:
    found = fleet.get("packagevariant", variant) or {}
    return [t["name"] for t in (found.get("status") or {}).get("downstreamTargets") or []]


def test_a_set_fans_out_upgrades_and_lets_a_repository_go(
    team: Team, git_server: gitserver.GitServer
) -> None:
    fleet = Fleet(team, git_server)
    let_author_use_variants(team.cluster, team.namespace)
    fleet.blueprint(1, color="blue")
    for site in SITES:
        fleet.site(site, env="prod", region="eu" if site < "site-5" else "us")
    fleet.site("lab", env="test", region="eu")  # not selected

    fleet.apply(fleet_set(), user=AUTHOR)
    ready_set = fleet.ready("packagevariantset", "fleet", timeout=120)
    assert "10 PackageVariants" in condition(ready_set, "Ready")["message"]  # type: ignore[index]

    variants = {v["metadata"]["name"]: v for v in fleet.variants()}
    assert sorted(variants) == sorted(f"fleet-{site}-{BLUEPRINT}" for site in SITES)
    for site in SITES:
        variant = fleet.ready("packagevariant", f"fleet-{site}-{BLUEPRINT}", timeout=120)
        # the set's author is the variants' author too (so they act with alice's rights)
        assert variant["metadata"]["annotations"]["lanai.porch.kpt.dev/requested-by"] == AUTHOR
        assert variant["spec"]["downstream"] == {"repo": site, "package": BLUEPRINT}
        name = f"{site}.{BLUEPRINT}.packagevariant-1"
        assert downstreams(fleet, f"fleet-{site}-{BLUEPRINT}") == [name]
        draft = fleet.get("rpkg", name)
        assert draft is not None
        assert draft["spec"]["lifecycle"] == "Draft"
        assert draft["metadata"]["labels"]["fleet"] == "fleet"
        assert draft["metadata"]["ownerReferences"][0]["kind"] == "PackageVariant"
        context = fleet.sites[site].show(
            f"refs/heads/drafts/{BLUEPRINT}/packagevariant-1", f"{BLUEPRINT}/package-context.yaml"
        )
        region = "eu" if site < "site-5" else "us"
        assert f"site: {site}" in context
        assert f"region: {region}" in context
        assert "name: blue" in context
    assert not [r for r in fleet.revisions() if r["spec"]["repository"] == "lab"]

    # The downstreams are reviewed and published; then the blueprint publishes v2.
    for site in SITES:
        fleet.publish_downstream(f"{site}.{BLUEPRINT}.packagevariant-1")
    fleet.blueprint(2, color="green")
    for site in SITES:
        variant_name = f"fleet-{site}-{BLUEPRINT}"
        upgrade = f"{site}.{BLUEPRINT}.packagevariant-2"
        wait_for(
            lambda v=variant_name, u=upgrade: downstreams(fleet, v) == [u],  # type: ignore[misc]
            timeout=120,
            what=f"{variant_name} to make the upgrade Draft {upgrade}",
        )
        fleet.ready("packagevariant", variant_name, timeout=120)
        made = fleet.get("rpkg", upgrade)
        assert made is not None
        assert made["spec"]["source"]["upgrade"] == {
            "oldUpstream": {"name": f"blueprints.{BLUEPRINT}.v1"},
            "newUpstream": {"name": f"blueprints.{BLUEPRINT}.v2"},
            "currentPackage": {"name": f"{site}.{BLUEPRINT}.packagevariant-1"},
            "strategy": "resource-merge",
        }
        branch = f"refs/heads/drafts/{BLUEPRINT}/packagevariant-2"
        assert "color: green" in fleet.sites[site].show(branch, f"{BLUEPRINT}/app.yaml")
        assert f"site: {site}" in fleet.sites[site].show(
            branch, f"{BLUEPRINT}/package-context.yaml"
        )
    # Nobody published anything for the set: the published downstreams are still v1-based.
    assert all(
        r["spec"]["lifecycle"] == "Draft"
        for r in fleet.revisions(BLUEPRINT)
        if r["spec"]["workspaceName"] == "packagevariant-2"
    )

    # site-3 leaves the set: its variant goes; its Draft is deleted (alice may delete
    # drafts), its published revision is let go (only an approver may propose deletion).
    fleet.label("site-3", env=None)
    gone = f"fleet-site-3-{BLUEPRINT}"
    wait_for(lambda: fleet.get("packagevariant", gone) is None, timeout=90, what=f"{gone} deleted")
    team.gone(f"site-3.{BLUEPRINT}.packagevariant-2")
    kept = fleet.get("rpkg", f"site-3.{BLUEPRINT}.packagevariant-1")
    assert kept is not None
    assert kept["spec"]["lifecycle"] == "Published"
    assert not kept["metadata"].get("ownerReferences")
    assert "refs/heads/drafts/blue/packagevariant-2" not in fleet.sites["site-3"].refs()
    warnings = [e for e in fleet.team.events(gone) if e["reason"] == "Orphaned"]
    assert warnings
    assert "an approver may propose its deletion" in warnings[0]["message"]
    assert len(fleet.variants()) == 9
    assert APPROVER  # approvers publish; the set never does
