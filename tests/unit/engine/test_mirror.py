"""Mirroring Git into PackageRevision objects: the minimum change, and never user drafts."""

from __future__ import annotations

import copy
import dataclasses
import json
import random

import pytest

from lanai.api import conditions, constants
from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import edits, lifecycle, mirror, packagemeta
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


def observed_from(
    creation: mirror.Creation, *, generation: int = 1, deleting: bool = False
) -> ObservedObject:
    """The object as the watch shows it once ``creation`` was written (JSON round trip)."""
    body, status = json.loads(json.dumps([creation.body(), creation.status()]))
    meta = packagemeta.of_spec(body["spec"])
    return ObservedObject(
        name=body["metadata"]["name"],
        lifecycle=body["spec"]["lifecycle"],
        latest_label=body["metadata"]["labels"].get(LATEST),
        status=status,
        generation=generation,
        observed_generation=1,
        deleting=deleting,
        meta=None if meta.empty else meta,
    )


def _existing(records: list[PackageRevisionRecord]) -> dict[str, ObservedObject]:
    return {o.name: o for o in map(observed_from, mirror.plan(records, {}).create)}


RECORDS = [
    record("v1", Lifecycle.PUBLISHED, 1),
    record("v2", Lifecycle.PUBLISHED, 2),
    record("main", Lifecycle.PUBLISHED, -1),
    record("ws", Lifecycle.DRAFT, 0),
]


def test_a_cold_sync_creates_every_revision_with_latest_on_the_highest() -> None:
    result = mirror.plan(RECORDS, {})
    names = {c.name: c.body() for c in result.create}
    assert set(names) == {
        "blueprints.nginx.v1",
        "blueprints.nginx.v2",
        "blueprints.nginx.main",
        "blueprints.nginx.ws",
    }
    assert [n for n, b in names.items() if b["metadata"]["labels"].get(LATEST) == "true"] == [
        "blueprints.nginx.v2"
    ]
    # as Porch's controllers: every other revision, Drafts included, is marked "false"
    assert {n: b["metadata"]["labels"][LATEST] for n, b in names.items()} == {
        "blueprints.nginx.v1": "false",
        "blueprints.nginx.v2": "true",
        "blueprints.nginx.main": "false",
        "blueprints.nginx.ws": "false",
    }
    assert "revision" not in {
        k for k, v in statuses_of(result)["blueprints.nginx.ws"].items() if v is not None
    }
    statuses = {c.name: c.status() for c in result.create}
    assert statuses["blueprints.nginx.main"]["revision"] == -1
    assert statuses["blueprints.nginx.v2"]["conditions"][0]["status"] == "True"
    assert not result.patch
    assert not result.status
    assert not result.delete


def test_a_second_sync_with_nothing_changed_plans_nothing() -> None:
    assert mirror.plan(RECORDS, _existing(RECORDS)).empty


def test_a_new_tag_moves_the_latest_label() -> None:
    existing = _existing(RECORDS)
    result = mirror.plan([*RECORDS, record("v3", Lifecycle.PUBLISHED, 3)], existing)
    assert [c.name for c in result.create] == ["blueprints.nginx.v3"]
    assert result.patch == [("blueprints.nginx.v2", {"metadata": {"labels": {LATEST: "false"}}})]


def test_a_deleted_tag_deletes_its_object_and_latest_moves_back() -> None:
    existing = _existing(RECORDS)
    remaining = [r for r in RECORDS if r.key.workspace != "v2"]
    result = mirror.plan(remaining, existing)
    assert result.delete == ["blueprints.nginx.v2"]
    assert result.patch == [("blueprints.nginx.v1", {"metadata": {"labels": {LATEST: "true"}}})]


def statuses_of(result: mirror.MirrorPlan) -> dict[str, dict[str, object]]:
    return {c.name: c.status() for c in result.create}


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


def test_a_user_draft_just_pushed_is_left_to_its_handler() -> None:
    """Git holds the new Draft, its handler has not written the status yet: a sync that
    runs meanwhile writes nothing (it would race the handler and wake it once more)."""
    creating = ObservedObject(
        name="blueprints.nginx.ws",
        lifecycle="Draft",
        latest_label=None,
        status={},
        generation=1,
        observed_generation=None,
    )
    result = mirror.plan(RECORDS, {creating.name: creating})
    assert creating.name not in {name for name, _ in result.status}
    assert creating.name not in {name for name, _ in result.patch}


def test_objects_being_deleted_are_left_alone() -> None:
    name = "blueprints.nginx.ws"
    creations = {c.name: c for c in mirror.plan(RECORDS, {}).create}
    existing = {n: observed_from(c, deleting=n == name) for n, c in creations.items()}
    result = mirror.plan([r for r in RECORDS if r.key.workspace != "ws"], existing)
    assert result.delete == []


def test_an_external_lifecycle_change_is_mirrored_only_when_no_user_change_is_pending() -> None:
    existing = _existing(RECORDS)
    proposed = [
        record("ws", Lifecycle.PROPOSED, 0) if r.key.workspace == "ws" else r for r in RECORDS
    ]
    result = mirror.plan(proposed, existing)
    assert ("blueprints.nginx.ws", {"spec": {"lifecycle": "Proposed"}}) in result.patch

    name = "blueprints.nginx.ws"
    creations = {c.name: c for c in mirror.plan(RECORDS, {}).create}
    existing[name] = observed_from(creations[name], generation=2)
    result = mirror.plan(proposed, existing)
    assert not [p for p in result.patch if p[0] == name]


def test_changed_status_fields_are_patched_alone() -> None:
    existing = _existing(RECORDS)
    moved = [
        dataclasses.replace(r, commit="new", self_lock={"type": "git", "git": {"commit": "new"}})
        if r.key.workspace == "ws"
        else r
        for r in RECORDS
    ]
    result = mirror.plan(moved, existing)
    assert result.status == [
        ("blueprints.nginx.ws", {"selfLock": {"type": "git", "git": {"commit": "new"}}})
    ]


def test_ready_is_false_with_the_cause_when_git_holds_an_unreadable_revision() -> None:
    readable = mirror.ready_condition(record("v1", Lifecycle.PUBLISHED, 1))
    assert (readable.status, readable.reason) == ("True", constants.REASON_READY)
    broken = dataclasses.replace(
        record("v1", Lifecycle.PUBLISHED, 1), error="the Kptfile cannot be parsed"
    )
    unreadable = mirror.ready_condition(broken)
    assert (unreadable.status, unreadable.reason) == ("False", constants.REASON_ERROR)
    assert unreadable.message == "the Kptfile cannot be parsed"


def test_a_revision_whose_files_the_rules_refuse_is_not_ready_saying_why() -> None:
    refused = 'package "nginx" at c-v1 cannot be read: file name ".git" has a ".git" segment'
    hostile = dataclasses.replace(
        record("v1", Lifecycle.PUBLISHED, 1), unreadable=refused, error="the Kptfile ..."
    )
    ready = mirror.ready_condition(hostile)
    assert (ready.status, ready.reason, ready.message) == ("False", constants.REASON_ERROR, refused)


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


def test_fingerprints_tell_values_apart_exactly() -> None:
    same = [({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}), ("x", "x"), (None, None), (3, 3)]
    for left, right in same:
        assert mirror.fingerprint(left) == mirror.fingerprint(right)
    different = [(True, 1), ("1", 1), ({"a": 1}, {"a": 2}), ([1, 2], [2, 1]), (None, False)]
    for left, right in different:
        assert mirror.fingerprint(left) != mirror.fingerprint(right)


def test_a_changed_condition_keeps_the_other_conditions() -> None:
    failing = dataclasses.replace(RECORDS[0], error="the Kptfile cannot be parsed")
    observed = observed_from(mirror.plan([RECORDS[0]], {}).create[0])
    rendered = {"type": "Rendered", "status": "True", "reason": "Rendered", "message": ""}
    with_rendered = ObservedObject(
        name=observed.name,
        lifecycle=observed.lifecycle,
        latest_label=observed.latest_label,
        status={"selfLock": {"x": 1}, "conditions": [*(observed.conditions or ()), rendered]},
        observed_generation=1,
    )
    [(_, status)] = mirror.plan([failing], {observed.name: with_rendered}).status
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Rendered"]
    assert status["conditions"][0]["status"] == "False"


# -- the sync never plans a write Lanai's own admission rules refuse ---------------------


def _as_seen(
    name: str,
    spec_lifecycle: str,
    git: PackageRevisionRecord,
    *,
    ready: str = "True",
    reason: str = constants.REASON_READY,
    extra: tuple[dict[str, str], ...] = (),
    latest: str | None = None,
) -> ObservedObject:
    """An object whose spec says ``spec_lifecycle``, settled, with status from ``git``."""
    status = mirror.desired_status(git, False)
    ready_condition = {"type": "Ready", "status": ready, "reason": reason, "message": ""}
    status["conditions"] = [ready_condition, *extra]
    return ObservedObject(
        name=name,
        lifecycle=spec_lifecycle,
        latest_label=latest,
        status=json.loads(json.dumps(status)),
        generation=2,
        observed_generation=2,
    )


def test_a_refused_approval_is_not_moved_back_to_what_git_holds() -> None:
    # Measured: an approval the engine refused left spec Published over a Draft in Git;
    # the sync patched Published -> Draft, the CRD answered 422, and the sync stopped.
    draft = record("ws", Lifecycle.DRAFT, 0)
    refused = _as_seen(
        draft.key.name, "Published", draft, ready="False", reason=constants.REASON_REJECTED
    )
    result = mirror.plan([draft], {refused.name: refused})
    assert not [p for p in result.patch if "spec" in p[1]]
    # Ready stays the engine's: its refusal is not overwritten with Ready=True.
    assert not [s for s in result.status if "conditions" in s[1]]


def test_a_refused_proposal_is_not_moved_back_but_an_outside_rejection_is_mirrored() -> None:
    draft = record("ws", Lifecycle.DRAFT, 0)
    refused = _as_seen(
        draft.key.name, "Proposed", draft, ready="False", reason=constants.REASON_REJECTED
    )
    assert not [p for p in mirror.plan([draft], {refused.name: refused}).patch if "spec" in p[1]]
    carried_out = _as_seen(draft.key.name, "Proposed", draft)  # Ready=True: Git had it
    result = mirror.plan([draft], {carried_out.name: carried_out})
    assert [(n, p["spec"]) for n, p in result.patch] == [(draft.key.name, {"lifecycle": "Draft"})]


def test_every_lifecycle_change_the_sync_plans_is_one_the_crd_allows() -> None:
    for spec_lifecycle in Lifecycle:
        for git_lifecycle in Lifecycle:
            for ready in ("True", "False"):
                git = record("ws", git_lifecycle, 0 if git_lifecycle == Lifecycle.DRAFT else 1)
                seen = _as_seen(git.key.name, str(spec_lifecycle), git, ready=ready)
                wanted = mirror.lifecycle_to_mirror(seen, git_lifecycle)
                result = mirror.plan([git], {seen.name: seen})
                specs = [p["spec"]["lifecycle"] for _, p in result.patch if "spec" in p]
                assert specs == ([str(wanted)] if wanted else [])
                if wanted is not None:
                    # Allowed by the engine's table, which the CRD's CEL rule repeats.
                    lifecycle.move(spec_lifecycle, wanted)
                    assert wanted == git_lifecycle
                if spec_lifecycle == Lifecycle.PUBLISHED and git_lifecycle in (
                    Lifecycle.DRAFT,
                    Lifecycle.PROPOSED,
                ):
                    assert wanted is None


def test_changes_made_in_git_are_still_mirrored() -> None:
    cases = [
        ("Draft", Lifecycle.PROPOSED),
        ("Draft", Lifecycle.PUBLISHED),
        ("Proposed", Lifecycle.PUBLISHED),
        ("Published", Lifecycle.DELETION_PROPOSED),
        ("DeletionProposed", Lifecycle.PUBLISHED),
    ]
    for spec_lifecycle, git_lifecycle in cases:
        git = record("ws", git_lifecycle, 1)
        seen = _as_seen(git.key.name, spec_lifecycle, git)
        assert mirror.lifecycle_to_mirror(seen, git_lifecycle) == git_lifecycle


def test_a_vanished_published_revision_is_proposed_for_deletion_before_it_is_deleted() -> None:
    existing = _existing(RECORDS)
    result = mirror.plan([r for r in RECORDS if r.key.workspace == "v1"], existing)
    assert sorted(result.delete) == [
        "blueprints.nginx.main",
        "blueprints.nginx.v2",
        "blueprints.nginx.ws",
    ]
    # The placeholder (revision -1) may be deleted while Published; the Draft anyway.
    assert result.propose_deletion == ["blueprints.nginx.v2"]
    assert result.removal_reason == mirror.VANISHED
    assert mirror.removal_patch(mirror.VANISHED) == {
        "metadata": {"annotations": {constants.REMOVAL_ANNOTATION: mirror.VANISHED}},
        "spec": {"lifecycle": "DeletionProposed"},
    }


def test_removing_a_repository_deletes_every_object_published_ones_proposed_first() -> None:
    existing = _existing(RECORDS)
    name = "blueprints.nginx.v1"
    existing[name] = observed_from(
        next(c for c in mirror.plan(RECORDS, {}).create if c.name == name), deleting=True
    )
    result = mirror.removal_plan(existing)
    assert sorted(result.delete) == sorted(existing)
    assert result.propose_deletion == ["blueprints.nginx.v2"]  # v1 is being deleted already
    assert result.removal_reason == mirror.REPOSITORY_DELETED


def test_the_synced_condition_goes_once_the_object_is_no_longer_failing() -> None:
    published = record("v1", Lifecycle.PUBLISHED, 1)
    failed = {"type": "Synced", "status": "False", "reason": "SyncFailed", "message": "x"}
    seen = _as_seen(published.key.name, "Published", published, extra=(failed,), latest="true")
    assert seen.sync_failed
    still = mirror.plan([published], {seen.name: seen}, failing={seen.name})
    assert still.empty
    healed = mirror.plan([published], {seen.name: seen})
    [(name, status)] = healed.status
    assert name == seen.name
    assert [c["type"] for c in status["conditions"]] == ["Ready"]


def test_a_sync_leaves_ready_pending_while_an_edit_is_on_its_way_to_git() -> None:
    """The resources handler owns Ready while an edit of a settled Draft is not yet in
    Git; the sync, which cannot see that edit, must not call the revision Ready."""
    draft = record("ws", Lifecycle.DRAFT, 0)
    observed = observed_from(mirror.plan([draft], {}).create[0])
    waiting = conditions.upsert(None, edits.pending_condition("cannot reach the Git server"))

    def with_ready(ready: list[dict[str, object]]) -> ObservedObject:
        return ObservedObject(
            name=observed.name,
            lifecycle=observed.lifecycle,
            latest_label=observed.latest_label,
            status={**mirror.desired_status(draft, False), "conditions": ready},
            observed_generation=1,
        )

    assert mirror.plan([draft], {observed.name: with_ready(waiting)}).empty
    other = conditions.upsert(None, conditions.Condition("Ready", "False", "Pending", "moving"))
    [(_, status)] = mirror.plan([draft], {observed.name: with_ready(other)}).status
    assert status["conditions"][0]["status"] == "True"


def _pushed(base: PackageRevisionRecord, commit: str, **kw: object) -> PackageRevisionRecord:
    """``base`` after someone pushed a new commit of it to Git."""
    lock = {"type": "git", "git": {"commit": commit}}
    return dataclasses.replace(base, commit=commit, self_lock=lock, **kw)  # type: ignore[arg-type]


def test_creations_show_the_kptfile_gates_and_metadata_in_the_spec() -> None:
    gated = dataclasses.replace(
        record("ws", Lifecycle.DRAFT, 0), readiness_gates=("Tested",), labels={"tier": "web"}
    )
    [creation] = mirror.plan([gated], {}).create
    spec = creation.body()["spec"]
    assert spec["readinessGates"] == [{"conditionType": "Tested"}]
    assert spec["packageMetadata"] == {"labels": {"tier": "web"}}


def test_a_kptfile_pushed_to_a_draft_shows_in_its_spec() -> None:
    draft = dataclasses.replace(record("ws", Lifecycle.DRAFT, 0), labels={"tier": "web"})
    existing = _existing([draft])
    pushed = _pushed(draft, "c2", labels={"team": "edge"}, readiness_gates=("Tested",))
    result = mirror.plan([pushed], existing)
    assert result.patch == [
        (
            "blueprints.nginx.ws",
            {
                "spec": {
                    "readinessGates": [{"conditionType": "Tested"}],
                    "packageMetadata": {"labels": {"tier": None, "team": "edge"}},
                }
            },
        )
    ]
    # Spec first, then the status that names the new commit (packagemeta.spec_is_whole).
    assert [name for name, _ in result.status] == ["blueprints.nginx.ws"]


def test_the_kptfile_is_not_followed_while_a_user_change_is_pending() -> None:
    draft = dataclasses.replace(record("ws", Lifecycle.DRAFT, 0), labels={"tier": "web"})
    [creation] = mirror.plan([draft], {}).create
    pending = observed_from(creation, generation=2)
    result = mirror.plan([_pushed(draft, "c2", labels={})], {pending.name: pending})
    assert result.patch == []


def test_the_sync_never_plans_a_change_of_frozen_gates() -> None:
    """A tag rewritten with other gates: the CRD refuses gate changes once Published."""
    v1 = dataclasses.replace(
        record("v1", Lifecycle.PUBLISHED, 1), readiness_gates=("A",), labels={"t": "1"}
    )
    existing = _existing([v1])
    rewritten = _pushed(v1, "c9", readiness_gates=("B",), labels={"t": "2"})
    result = mirror.plan([rewritten], existing)
    patches = [patch for name, patch in result.patch if name == "blueprints.nginx.v1"]
    assert patches == [{"spec": {"packageMetadata": {"labels": {"t": "2"}}}}]


def test_a_users_package_metadata_on_a_published_revision_stays() -> None:
    """The CRD lets packageMetadata of a Published revision change; while Git does not
    move, the sync leaves it as the user set it."""
    v1 = record("v1", Lifecycle.PUBLISHED, 1)
    [creation] = mirror.plan([v1], {}).create
    body, status = json.loads(json.dumps([creation.body(), creation.status()]))
    relabelled = ObservedObject(
        name=body["metadata"]["name"],
        lifecycle="Published",
        latest_label="true",
        status=status,
        generation=2,
        observed_generation=2,
        meta=packagemeta.PackageMeta(labels={"shown": "yes"}),
    )
    assert mirror.plan([v1], {relabelled.name: relabelled}).empty


def test_objects_a_plan_left_alone_are_not_planned_again_until_an_input_changes() -> None:
    """mirror.plan(quiet=...): the same record and observed objects as in a plan that
    changed nothing are skipped; a new record, observed object, latest flag or failing
    flag plans the object again; names that left are forgotten."""
    existing = _existing(RECORDS)
    quiet: mirror.Quiet = {}
    assert mirror.plan(RECORDS, existing, quiet=quiet).empty
    assert set(quiet) == set(existing)
    # Everything is as planned before: nothing is planned again.
    assert mirror.plan(RECORDS, existing, quiet=quiet).empty
    moved = [
        dataclasses.replace(r, commit="new", self_lock={"type": "git", "git": {"commit": "new"}})
        if r.key.workspace == "ws"
        else r
        for r in RECORDS
    ]
    result = mirror.plan(moved, existing, quiet=quiet)
    assert result.status == [
        ("blueprints.nginx.ws", {"selfLock": {"type": "git", "git": {"commit": "new"}}})
    ]
    assert "blueprints.nginx.ws" not in quiet
    # A new tag moves the latest flag of v2: it is planned again although its objects
    # are the same.
    result = mirror.plan([*RECORDS, record("v3", Lifecycle.PUBLISHED, 3)], existing, quiet=quiet)
    assert result.patch == [("blueprints.nginx.v2", {"metadata": {"labels": {LATEST: "false"}}})]
    # A new event (another observed object, even one equal to the last) is looked at.
    again = _existing(RECORDS)["blueprints.nginx.v1"]
    assert mirror.plan(RECORDS, {**existing, "blueprints.nginx.v1": again}, quiet=quiet).empty
    assert quiet["blueprints.nginx.v1"][1] is again
    # A failing write is planned again (to heal its Synced condition once it is not).
    mirror.plan(RECORDS, existing, failing={"blueprints.nginx.v1"}, quiet=quiet)
    assert quiet["blueprints.nginx.v1"][4] is True
    # A revision that left Git is forgotten.
    mirror.plan(RECORDS[:2], existing, quiet=quiet)
    assert set(quiet) <= {"blueprints.nginx.v1", "blueprints.nginx.v2"}


def _writes(result: mirror.MirrorPlan) -> tuple[object, ...]:
    return (
        sorted((c.name, json.dumps(c.body(), sort_keys=True)) for c in result.create),
        sorted((n, json.dumps(p, sort_keys=True)) for n, p in result.patch),
        sorted((n, json.dumps(p, sort_keys=True)) for n, p in result.status),
        sorted(result.delete),
        sorted(result.propose_deletion),
    )


@pytest.mark.parametrize("seed", range(25))
def test_packages_a_plan_left_alone_plan_as_a_whole_plan_does(seed: int) -> None:
    """mirror.plan(calm=...) passes over packages whose records and objects are the very
    ones a plan found nothing to change for: through random changes in Git and in the
    API, it plans exactly what a plan over every revision plans."""
    rng = random.Random(seed)
    packages = ["nginx", "redis", "team/app", "db"]
    records = {
        (p, ws): record(ws, lc, n, package=p)
        for p in packages
        for ws, lc, n in [("v1", Lifecycle.PUBLISHED, 1), ("main", Lifecycle.PUBLISHED, -1)]
    }
    existing = _existing(list(records.values()))
    calm: mirror.Calm = {}
    quiet: mirror.Quiet = {}
    for step in range(40):
        package = rng.choice(packages)
        change = rng.random()
        if change < 0.3:  # a new revision in Git (a draft or a tag)
            n = rng.randint(2, 5)
            published = rng.random() < 0.5
            ws = f"v{n}" if published else f"ws{n}"
            lc = Lifecycle.PUBLISHED if published else Lifecycle.DRAFT
            records[(package, ws)] = record(ws, lc, n if published else 0, package=package)
        elif change < 0.45 and records:  # a revision leaves Git
            del records[rng.choice(sorted(records))]
        elif change < 0.6:  # a new commit on a revision
            key = rng.choice(sorted(records))
            commit = f"c{step}"
            records[key] = dataclasses.replace(
                records[key], commit=commit, self_lock={"type": "git", "git": {"commit": commit}}
            )
        elif change < 0.8 and existing:  # a watch event: the same object, a new entry
            name = rng.choice(sorted(existing))
            existing[name] = copy.copy(existing[name])
        else:  # someone deletes an object
            if existing:
                del existing[rng.choice(sorted(existing))]
        failing = {rng.choice(sorted(existing))} if existing and rng.random() < 0.1 else set()
        listed = list(records.values())
        rng.shuffle(listed)
        whole = mirror.plan(listed, existing, failing=failing)
        calmly = mirror.plan(listed, existing, failing=failing, quiet=quiet, calm=calm)
        assert _writes(calmly) == _writes(whole), f"step {step}"
        # The API server takes the plan: the objects become what it wrote.
        for creation in whole.create:
            existing[creation.name] = observed_from(creation)
        for name in whole.delete:
            existing.pop(name, None)
        written = {n for n, _ in whole.patch} | {n for n, _ in whole.status}
        by_package: dict[str, list[PackageRevisionRecord]] = {}
        for r in records.values():
            by_package.setdefault(r.key.package, []).append(r)
        fresh = {c.name: c for rs in by_package.values() for c in mirror.plan(rs, {}).create}
        for name in written & fresh.keys():
            existing[name] = observed_from(fresh[name])
    assert calm, "packages were passed over"


def test_a_package_with_a_failing_write_is_planned_again_once_it_heals() -> None:
    """A Synced condition stays while the object's write fails, and goes the first plan
    after: the package is not passed over in between, although nothing else changed."""
    (creation,) = [c for c in mirror.plan(RECORDS, {}).create if c.name.endswith(".v1")]
    body, status = json.loads(json.dumps([creation.body(), creation.status()]))
    status["conditions"].append(
        {"type": constants.SYNCED, "status": "False", "reason": "WriteFailed", "message": "x"}
    )
    failed = ObservedObject(
        name=creation.name,
        lifecycle=body["spec"]["lifecycle"],
        latest_label=body["metadata"]["labels"].get(LATEST),
        status=status,
        observed_generation=1,
    )
    existing = {**_existing(RECORDS), creation.name: failed}
    calm: mirror.Calm = {}
    assert mirror.plan(RECORDS, existing, failing={creation.name}, calm=calm).empty
    healed = mirror.plan(RECORDS, existing, calm=calm)
    assert [name for name, _ in healed.status] == [creation.name]
