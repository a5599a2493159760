"""Package objects: one per package Git holds, with its latest revision; the minimum change."""

from __future__ import annotations

from lanai.api.models import Lifecycle
from lanai.engine import packages
from lanai.engine.packages import ObservedPackage
from tests.unit.engine.test_mirror import record

RECORDS = [
    record("v1", Lifecycle.PUBLISHED, 1),
    record("v2", Lifecycle.DELETION_PROPOSED, 2),
    record("main", Lifecycle.PUBLISHED, -1),
    record("ws", Lifecycle.DRAFT, 0),
    record("new", Lifecycle.DRAFT, 0, package="team/app"),
]


def _observed(plan: packages.PackagePlan) -> dict[str, ObservedPackage]:
    return {
        body["metadata"]["name"]: ObservedPackage(
            body["metadata"]["name"],
            body["status"].get("latestRevision"),
            body["status"].get("revisionCount"),
        )
        for body in plan.create
    }


def test_each_package_gets_one_object_with_its_latest_published_revision() -> None:
    plan = packages.plan("ns", "blueprints", RECORDS, {})
    by_name = {body["metadata"]["name"]: body for body in plan.create}
    assert set(by_name) == {"blueprints.nginx", "blueprints.team.app"}
    nginx = by_name["blueprints.nginx"]
    assert nginx["spec"] == {"packageName": "nginx", "repository": "blueprints"}
    assert nginx["status"] == {"latestRevision": 2, "revisionCount": 4}
    assert nginx["metadata"]["labels"] == {"porch.kpt.dev/repository": "blueprints"}
    assert by_name["blueprints.team.app"]["status"] == {"revisionCount": 1}  # none published


def test_nothing_changed_nothing_to_write() -> None:
    existing = _observed(packages.plan("ns", "blueprints", RECORDS, {}))
    assert packages.plan("ns", "blueprints", RECORDS, existing).empty


def test_a_new_revision_patches_the_count_and_latest() -> None:
    existing = _observed(packages.plan("ns", "blueprints", RECORDS, {}))
    more = [*RECORDS, record("v3", Lifecycle.PUBLISHED, 3)]
    plan = packages.plan("ns", "blueprints", more, existing)
    assert plan.patch == [
        ("blueprints.nginx", {"status": {"latestRevision": 3, "revisionCount": 5}})
    ]
    assert not plan.create
    assert not plan.delete


def test_a_package_without_revisions_is_deleted_and_deleting_ones_are_left_alone() -> None:
    existing = _observed(packages.plan("ns", "blueprints", RECORDS, {}))
    existing["blueprints.old"] = ObservedPackage("blueprints.old", 1, 1)
    existing["blueprints.going"] = ObservedPackage("blueprints.going", 1, 1, deleting=True)
    plan = packages.plan("ns", "blueprints", RECORDS, existing)
    assert plan.delete == ["blueprints.old"]
