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
