"""Mirroring Git into PackageRevision objects: the minimum change, and never user drafts."""

from __future__ import annotations

from typing import Any

from lanai.api import constants
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import mirror
from lanai.engine.mirror import ObservedObject

LATEST = constants.LATEST_REVISION_LABEL


def record(
    workspace: str, lifecycle: Lifecycle, revision: int, package: str = "nginx"
) -> PackageRevisionRecord:
    key = PackageRevisionKey("ns", "blueprints", package, workspace)
    return PackageRevisionRecord(
        key=key,
        lifecycle=lifecycle,
        revision=revision,
        commit=f"c-{workspace}",
        ref=f"refs/x/{workspace}",
        self_lock={"type": "git", "git": {"commit": f"c-{workspace}"}},
    )


def observed_from(plan_create: tuple[dict[str, Any], dict[str, Any]]) -> ObservedObject:
    body, status = plan_create
    return ObservedObject(
        name=body["metadata"]["name"],
        lifecycle=body["spec"]["lifecycle"],
        latest_label=body["metadata"]["labels"].get(LATEST),
        status=status,
        generation=1,
        observed_generation=1,
    )


RECORDS = [
    record("v1", Lifecycle.PUBLISHED, 1),
    record("v2", Lifecycle.PUBLISHED, 2),
    record("main", Lifecycle.PUBLISHED, -1),
    record("ws", Lifecycle.DRAFT, 0),
]


def test_a_cold_sync_creates_every_revision_with_latest_on_the_highest() -> None:
    result = mirror.plan(RECORDS, {})
    names = {body["metadata"]["name"]: body for body, _ in result.create}
    assert set(names) == {
        "blueprints.nginx.v1",
        "blueprints.nginx.v2",
        "blueprints.nginx.main",
        "blueprints.nginx.ws",
    }
    assert [n for n, b in names.items() if b["metadata"]["labels"].get(LATEST)] == [
        "blueprints.nginx.v2"
    ]
    statuses = {body["metadata"]["name"]: status for body, status in result.create}
    assert statuses["blueprints.nginx.main"]["revision"] == -1
    assert statuses["blueprints.nginx.v2"]["conditions"][0]["status"] == "True"
    assert not result.patch
    assert not result.status
    assert not result.delete


def test_a_second_sync_with_nothing_changed_plans_nothing() -> None:
    first = mirror.plan(RECORDS, {})
    existing = {o.name: o for o in map(observed_from, first.create)}
    assert mirror.plan(RECORDS, existing).empty


def test_a_new_tag_moves_the_latest_label() -> None:
    existing = {o.name: o for o in map(observed_from, mirror.plan(RECORDS, {}).create)}
    result = mirror.plan([*RECORDS, record("v3", Lifecycle.PUBLISHED, 3)], existing)
    assert [body["metadata"]["name"] for body, _ in result.create] == ["blueprints.nginx.v3"]
    assert result.patch == [("blueprints.nginx.v2", {"metadata": {"labels": {LATEST: None}}})]


def test_a_deleted_tag_deletes_its_object_and_latest_moves_back() -> None:
    existing = {o.name: o for o in map(observed_from, mirror.plan(RECORDS, {}).create)}
    remaining = [r for r in RECORDS if r.key.workspace != "v2"]
    result = mirror.plan(remaining, existing)
    assert result.delete == ["blueprints.nginx.v2"]
    assert result.patch == [("blueprints.nginx.v1", {"metadata": {"labels": {LATEST: "true"}}})]


def test_user_drafts_not_yet_in_git_are_left_alone() -> None:
    pending = ObservedObject(
        name="blueprints.nginx.new",
        lifecycle="Draft",
        latest_label=None,
        status={},
        generation=1,
        observed_generation=None,
    )
    assert mirror.plan([], {pending.name: pending}).empty


def test_objects_being_deleted_are_left_alone() -> None:
    existing = {o.name: o for o in map(observed_from, mirror.plan(RECORDS, {}).create)}
    name = "blueprints.nginx.ws"
    existing[name] = ObservedObject(**{**existing[name].__dict__, "deleting": True})
    result = mirror.plan([r for r in RECORDS if r.key.workspace != "ws"], existing)
    assert result.delete == []


def test_an_external_lifecycle_change_is_mirrored_only_when_no_user_change_is_pending() -> None:
    existing = {o.name: o for o in map(observed_from, mirror.plan(RECORDS, {}).create)}
    proposed = [
        record("ws", Lifecycle.PROPOSED, 0) if r.key.workspace == "ws" else r for r in RECORDS
    ]
    result = mirror.plan(proposed, existing)
    assert ("blueprints.nginx.ws", {"spec": {"lifecycle": "Proposed"}}) in result.patch

    name = "blueprints.nginx.ws"
    existing[name] = ObservedObject(**{**existing[name].__dict__, "generation": 2})
    result = mirror.plan(proposed, existing)
    assert not [p for p in result.patch if p[0] == name]


def test_changed_status_fields_are_patched_alone() -> None:
    existing = {o.name: o for o in map(observed_from, mirror.plan(RECORDS, {}).create)}
    moved = [
        PackageRevisionRecord(
            **{
                **r.__dict__,
                "commit": "new",
                "self_lock": {"type": "git", "git": {"commit": "new"}},
            }
        )
        if r.key.workspace == "ws"
        else r
        for r in RECORDS
    ]
    result = mirror.plan(moved, existing)
    assert result.status == [
        ("blueprints.nginx.ws", {"selfLock": {"type": "git", "git": {"commit": "new"}}})
    ]


def test_an_object_whose_creating_sync_stopped_before_its_status_is_completed() -> None:
    bare = ObservedObject(
        name="blueprints.nginx.v1",
        lifecycle="Published",
        latest_label=None,
        status={},
        generation=1,
        observed_generation=None,
    )
    result = mirror.plan([record("v1", Lifecycle.PUBLISHED, 1)], {bare.name: bare})
    [(name, status)] = result.status
    assert name == bare.name
    assert status["observedGeneration"] == 1
    assert status["selfLock"] == {"type": "git", "git": {"commit": "c-v1"}}
    assert status["conditions"][0]["status"] == "True"
