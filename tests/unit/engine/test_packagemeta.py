"""Gates and package metadata: the Kptfile and the spec follow each other, each way."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from lanai.api.keys import PackageRevisionKey
from lanai.api.models import Lifecycle
from lanai.cache.records import PackageRevisionRecord
from lanai.engine import packagemeta
from lanai.engine.packagemeta import PackageMeta


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies it."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def record(**kw: Any) -> PackageRevisionRecord:
    base = PackageRevisionRecord(
        key=PackageRevisionKey("ns", "blueprints", "app", "ws"),
        lifecycle=Lifecycle.DRAFT,
        revision=0,
        commit="c2",
        ref="refs/heads/drafts/app/ws",
    )
    return dataclasses.replace(base, **kw)


def test_of_spec_reads_gates_and_metadata_and_ignores_junk() -> None:
    spec = {
        "readinessGates": [{"conditionType": "Tested"}, {}, "junk", {"conditionType": "Tested"}],
        "packageMetadata": {"labels": {"tier": "web"}, "annotations": "junk"},
    }
    assert packagemeta.of_spec(spec) == PackageMeta(("Tested",), {"tier": "web"}, {})
    assert packagemeta.of_spec({}).empty
    assert packagemeta.of_spec({"packageMetadata": None, "readinessGates": None}).empty


def test_of_record_is_what_the_kptfile_holds() -> None:
    found = packagemeta.of_record(
        record(readiness_gates=("A",), labels={"l": "1"}, annotations={"a": "2"})
    )
    assert found == PackageMeta(("A",), {"l": "1"}, {"a": "2"})


def test_spec_fields_leave_out_what_is_empty() -> None:
    assert packagemeta.spec_fields(PackageMeta()) == {}
    assert packagemeta.spec_fields(PackageMeta(("A",), {"l": "1"})) == {
        "readinessGates": [{"conditionType": "A"}],
        "packageMetadata": {"labels": {"l": "1"}},
    }


FOLLOW_CASES: list[tuple[str, PackageMeta, PackageMeta]] = [
    ("nothing to nothing", PackageMeta(), PackageMeta()),
    ("a gate appears", PackageMeta(), PackageMeta(("Tested",))),
    ("gates change order and members", PackageMeta(("A", "B")), PackageMeta(("B", "C"))),
    ("the last gate goes", PackageMeta(("A",)), PackageMeta()),
    ("a label changes", PackageMeta(labels={"t": "web"}), PackageMeta(labels={"t": "api"})),
    (
        "a label goes, an annotation comes",
        PackageMeta(labels={"t": "web", "k": "1"}),
        PackageMeta(labels={"k": "1"}, annotations={"owner": "net"}),
    ),
    (
        "all metadata goes",
        PackageMeta(labels={"t": "web"}, annotations={"o": "n"}),
        PackageMeta(),
    ),
    (
        "labels go, annotations stay",
        PackageMeta(labels={"t": "web"}, annotations={"o": "n"}),
        PackageMeta(annotations={"o": "n"}),
    ),
]


@pytest.mark.parametrize(
    ("case", "shown", "wanted"), FOLLOW_CASES, ids=[c[0] for c in FOLLOW_CASES]
)
def test_follow_patch_makes_the_spec_show_the_kptfile(
    case: str, shown: PackageMeta, wanted: PackageMeta
) -> None:
    spec = {"lifecycle": "Draft", **packagemeta.spec_fields(shown)}
    patch = packagemeta.follow_patch(shown, wanted)
    assert bool(patch) is not shown.same(wanted), case
    after = merge(spec, patch)
    assert packagemeta.of_spec(after) == wanted
    assert after["lifecycle"] == "Draft"


def test_follow_patch_leaves_frozen_gates_alone() -> None:
    """Once Published the CRD refuses any change of spec.readinessGates."""
    patch = packagemeta.follow_patch(
        PackageMeta(("A",), {"t": "1"}), PackageMeta(("B",), {"t": "2"}), gates=False
    )
    assert patch == {"packageMetadata": {"labels": {"t": "2"}}}
    assert packagemeta.follow_patch(PackageMeta(("A",)), PackageMeta(), gates=False) == {}


@pytest.mark.parametrize(
    ("lifecycle", "may"),
    [("Draft", True), ("Proposed", True), ("Published", False), ("DeletionProposed", False)],
)
def test_gates_are_frozen_once_published(lifecycle: str, may: bool) -> None:
    assert packagemeta.gates_may_change(lifecycle) is may


KPTFILE = PackageMeta(("Tested",), {"tier": "web", "from": "upstream"}, {"owner": "net"})


def test_a_whole_request_is_written_as_it_is_removals_too() -> None:
    requested = PackageMeta((), {"tier": "api"}, {"owner": "net"})
    assert packagemeta.kptfile_wanted(requested, KPTFILE, whole=True) == requested


def test_a_partial_request_only_adds_and_changes() -> None:
    """An edit the spec has not caught up with yet is never undone."""
    requested = PackageMeta(("Scanned",), {"tier": "api"}, {})
    wanted = packagemeta.kptfile_wanted(requested, KPTFILE, whole=False)
    assert wanted == PackageMeta(
        ("Tested", "Scanned"), {"tier": "api", "from": "upstream"}, {"owner": "net"}
    )


@pytest.mark.parametrize("whole", [True, False])
def test_nothing_to_write_when_the_kptfile_holds_the_request(whole: bool) -> None:
    assert packagemeta.kptfile_wanted(KPTFILE, KPTFILE, whole=whole) is None
    if not whole:
        assert packagemeta.kptfile_wanted(PackageMeta(), KPTFILE, whole=False) is None


def _status(commit: str | None, observed: int | None) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if commit:
        status["selfLock"] = {"type": "git", "git": {"commit": commit}}
    if observed is not None:
        status["observedGeneration"] = observed
    return status


@pytest.mark.parametrize(
    ("status", "whole"),
    [
        (_status("c2", 3), True),  # the object had shown the Kptfile Git holds
        (_status("c1", 3), False),  # Git moved on since (an edit, a push)
        (_status("c2", None), False),  # never acted on: just created
        (_status(None, None), False),
        ({"selfLock": "junk", "observedGeneration": 1}, False),
    ],
)
def test_a_spec_is_the_whole_word_only_once_it_had_shown_the_kptfile(
    status: dict[str, Any], whole: bool
) -> None:
    assert packagemeta.spec_is_whole(status, record(commit="c2")) is whole


def apply_json_patch(document: dict[str, Any], operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 add/remove on /spec/<field>, as the API server applies them."""
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in document.items()}
    for operation in operations:
        _, top, name = operation["path"].split("/")
        if operation["op"] == "add":
            result[top][name] = operation["value"]
        elif operation["op"] == "remove":
            assert name in result[top], f"remove of a missing {operation['path']} fails"
            del result[top][name]
        else:
            raise AssertionError(operation)
    return result


@pytest.mark.parametrize(
    ("case", "shown", "wanted"), FOLLOW_CASES, ids=[c[0] for c in FOLLOW_CASES]
)
def test_follow_operations_make_the_spec_show_the_kptfile(
    case: str, shown: PackageMeta, wanted: PackageMeta
) -> None:
    spec = {"lifecycle": "Draft", **packagemeta.spec_fields(shown)}
    operations = packagemeta.follow_operations(spec, wanted)
    assert bool(operations) is not shown.same(wanted), case
    after = apply_json_patch({"spec": spec}, operations)["spec"]
    assert packagemeta.of_spec(after) == wanted
    assert after["lifecycle"] == "Draft"


def test_follow_operations_leave_frozen_gates_alone() -> None:
    spec = {"lifecycle": "Published", "readinessGates": [{"conditionType": "A"}]}
    assert packagemeta.follow_operations(spec, PackageMeta(), gates=False) == []
