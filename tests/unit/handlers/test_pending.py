"""Which PackageRevision events the reconcile handler acts on."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from lanai.handlers import packagerevision


def _body(lifecycle: str, generation: int, status: dict[str, Any] | None = None) -> kopf.Body:
    raw: dict[str, Any] = {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": "r.p.v1", "namespace": "ns", "generation": generation},
        "spec": {"lifecycle": lifecycle},
    }
    if status is not None:
        raw["status"] = status
    return kopf.Body(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lifecycle", "generation", "status", "pending"),
    [
        ("Draft", 1, None, True),  # a user's new draft
        ("Proposed", 1, None, True),
        ("Published", 1, None, False),  # mirrored from Git: the sync writes its status
        ("DeletionProposed", 1, None, False),
        ("Published", 1, {"observedGeneration": 1}, False),
        ("Published", 2, {"observedGeneration": 1}, True),  # a user approved a draft
        ("Published", 2, None, True),
        ("Draft", 2, {"observedGeneration": 2}, False),
    ],
)
def test_pending(
    lifecycle: str, generation: int, status: dict[str, Any] | None, pending: bool
) -> None:
    assert packagerevision.pending(_body(lifecycle, generation, status)) is pending


def test_an_object_the_operator_removes_is_never_reconciled() -> None:
    """Moved to DeletionProposed only so that it may be deleted: nothing is to happen in
    Git (its revision is gone from there, or its Repository is being deleted)."""
    body = _body("DeletionProposed", 3, {"observedGeneration": 2})
    assert packagerevision.pending(body) is True
    raw = dict(body)
    raw["metadata"] = {
        **raw["metadata"],
        "annotations": {"lanai.porch.kpt.dev/removal": "the Repository is being deleted"},
    }
    assert packagerevision.pending(kopf.Body(raw)) is False  # type: ignore[arg-type]
