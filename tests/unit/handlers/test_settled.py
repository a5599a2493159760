"""A no-op sync skips planning only when every input is the very same object."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.handlers import repository

REPO = object()
RECORDS = [object(), object()]
EXISTING: dict[str, Any] = {"a": object(), "b": object()}
SETTLED = repository.Settled(REPO, "v1", False, tuple(RECORDS), dict(EXISTING))


@pytest.mark.parametrize(
    ("repo", "version", "deployment", "records", "existing", "same"),
    [
        (REPO, "v1", False, list(RECORDS), dict(EXISTING), True),
        (object(), "v1", False, list(RECORDS), dict(EXISTING), False),  # reopened
        (REPO, "v2", False, list(RECORDS), dict(EXISTING), False),  # Git moved
        (REPO, "v1", True, list(RECORDS), dict(EXISTING), False),  # spec.deployment
        (REPO, "v1", False, [RECORDS[0], object()], dict(EXISTING), False),  # reindexed
        (REPO, "v1", False, list(RECORDS), {"a": EXISTING["a"]}, False),  # object deleted
        (REPO, "v1", False, list(RECORDS), {**EXISTING, "b": object()}, False),  # watch event
        (REPO, "v1", False, list(RECORDS), {"a": EXISTING["a"], "c": EXISTING["b"]}, False),
    ],
)
def test_same(
    repo: object,
    version: str,
    deployment: bool,
    records: list[Any],
    existing: dict[str, Any],
    same: bool,
) -> None:
    assert SETTLED.same(repo, version, deployment, records, existing) is same
