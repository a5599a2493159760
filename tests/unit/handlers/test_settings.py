"""kopf keeps no diff base for the kinds Lanai reconciles level-triggered."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from lanai.handlers import settings


def _storage() -> settings.SelectiveDiffBaseStorage:
    inner = kopf.StatusDiffBaseStorage(field="status.kopf.last-handled-configuration")
    return settings.SelectiveDiffBaseStorage(inner, settings.LEVEL_TRIGGERED_KINDS)


def _body(kind: str) -> kopf.Body:
    raw: dict[str, Any] = {
        "apiVersion": "x/v1",
        "kind": kind,
        "metadata": {"name": "a", "labels": {"l": "v"}},
        "spec": {"k": "v"},
        "status": {"kopf": {"last-handled-configuration": '{"spec": {"k": "old"}}'}},
    }
    return kopf.Body(raw)  # type: ignore[arg-type]


def test_level_triggered_kinds_get_no_essence_and_no_diff_base() -> None:
    storage = _storage()
    body = _body("PackageRevision")
    assert storage.build(body=body) == {}
    assert storage.fetch(body=body) is None


def test_other_kinds_keep_kopfs_diff_base() -> None:
    storage = _storage()
    body = _body("Repository")
    assert storage.build(body=body)["spec"] == {"k": "v"}
    assert storage.fetch(body=body) == {"spec": {"k": "old"}}


# -- a waiting deletion handler wakes up when its object changes ------------------------


def _deleting(generation: int = 3, finalizers: tuple[str, ...] = ("lanai", "x")) -> kopf.Body:
    raw: dict[str, Any] = {
        "kind": "PackageRevision",
        "metadata": {"name": "a", "generation": generation, "finalizers": list(finalizers)},
        "status": {},
    }
    return kopf.Body(raw)  # type: ignore[arg-type]


def _waking() -> settings.WakingProgressStorage:
    return settings.WakingProgressStorage(
        wakeable={settings.DELETE_FROM_GIT}, field=settings.PROGRESS_FIELD
    )


def _stored(storage: settings.WakingProgressStorage, seen: kopf.Body, key: str) -> dict[str, Any]:
    """The status after ``key`` chose to wait 300 s, looking at ``seen``."""
    patch = kopf.Patch()
    record = {"started": "2026-01-01T00:00:00", "delayed": "2999-01-01T00:00:00", "retries": 1}
    storage.store(key=key, record=record, body=seen, patch=patch)  # type: ignore[arg-type]
    return dict(patch["status"])


def _with(body: kopf.Body, status: dict[str, Any]) -> kopf.Body:
    raw = {**body, "status": status}
    return kopf.Body(raw)  # type: ignore[arg-type]


def test_a_waiting_deletion_keeps_waiting_while_nothing_changes() -> None:
    storage = _waking()
    status = _stored(storage, _deleting(), settings.DELETE_FROM_GIT)
    record = storage.fetch(key=settings.DELETE_FROM_GIT, body=_with(_deleting(), status))
    assert record["delayed"] == "2999-01-01T00:00:00"
    assert settings.WAKE_KEY not in record  # kopf compares what it fetched with what it stores


@pytest.mark.parametrize(
    "changed",
    [
        _deleting(generation=4),  # the lifecycle was proposed for deletion
        _deleting(finalizers=("lanai",)),  # a user's finalizer was removed
    ],
)
def test_a_change_to_the_object_ends_the_wait(changed: kopf.Body) -> None:
    storage = _waking()
    status = _stored(storage, _deleting(), settings.DELETE_FROM_GIT)
    record = storage.fetch(key=settings.DELETE_FROM_GIT, body=_with(changed, status))
    assert "delayed" not in record
    assert record["retries"] == 1


def test_a_wake_patch_from_outside_ends_the_wait() -> None:
    storage = _waking()
    status = _stored(storage, _deleting(), settings.DELETE_FROM_GIT)
    woken = settings.wake_patch(settings.DELETE_FROM_GIT)
    progress = status["kopf"]["progress"][settings.DELETE_FROM_GIT]
    progress.update(woken["kopf"]["progress"][settings.DELETE_FROM_GIT])
    record = storage.fetch(key=settings.DELETE_FROM_GIT, body=_with(_deleting(), status))
    assert "delayed" not in record


def test_other_handlers_wait_out_their_delay_as_kopf_does() -> None:
    storage = _waking()
    status = _stored(storage, _deleting(), "reconcile")
    assert settings.WAKE_KEY not in status["kopf"]["progress"]["reconcile"]
    record = storage.fetch(key="reconcile", body=_with(_deleting(generation=9), status))
    assert record["delayed"] == "2999-01-01T00:00:00"
