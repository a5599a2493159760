"""kopf keeps no diff base for the kinds Lanai reconciles level-triggered."""

from __future__ import annotations

from typing import Any

import kopf

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
