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


@pytest.mark.parametrize(
    ("retry", "cap", "delay"),
    [(0, 60, 0.5), (1, 60, 1.0), (4, 60, 8.0), (10, 60, 60.0), (3, 5, 4.0), (9, 5, 5.0)],
)
def test_retries_back_off_exponentially_up_to_the_cap(retry: int, cap: float, delay: float) -> None:
    assert packagerevision.retry_delay(retry, cap) == delay
    assert packagerevision.retry_delay(10**6, cap) == cap  # no overflow, ever


PENDING = {"type": "Ready", "status": "False", "reason": "Pending", "message": "first cause"}


@pytest.mark.parametrize(
    ("current", "retry", "kept"),
    [
        ({**PENDING, "observedGeneration": 3}, True, True),  # already says why: keep it
        ({**PENDING, "observedGeneration": 2}, True, False),  # an older spec's wait
        ({**PENDING, "observedGeneration": 3}, False, False),  # a final outcome is written
        ({**PENDING, "reason": "Rejected", "observedGeneration": 3}, True, False),
        ({**PENDING, "reason": "Forbidden", "observedGeneration": 3}, True, True),
        ({**PENDING, "status": "True", "observedGeneration": 3}, True, False),
        (PENDING, True, False),  # written by an older Lanai, for no known generation
        (None, True, False),
    ],
)
def test_a_retried_failure_keeps_the_first_cause(
    current: dict[str, Any] | None, retry: bool, kept: bool
) -> None:
    assert packagerevision.reporting_first_cause(current, 3, retry) is kept
