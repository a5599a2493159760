"""A copy's or clone's source is found in the operator's index of revisions, with no API
request on the way to Ready; a source the index does not know (yet) is read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lanai.api.keys import PackageRevisionKey
from lanai.engine import errors
from lanai.handlers import packagerevision, variantindex


def _body(name: str, deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "team", "uid": "u1"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-05T00:00:00Z"
    return {
        "metadata": metadata,
        "spec": {"repository": "blueprints", "packageName": "net/base", "workspaceName": "v1"},
    }


class NoApi:
    """Fails the test if a request is made."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an API request was made ({name})")


def test_the_index_names_the_source_without_a_request() -> None:
    found = variantindex.revision_of(_body("blueprints.net.base.v1"))
    index = {("name", "team", "blueprints.net.base.v1"): [found]}
    key = asyncio.run(
        packagerevision._revision_key(NoApi(), "team", "blueprints.net.base.v1", index)
    )
    assert key == PackageRevisionKey("team", "blueprints", "net/base", "v1")


def test_a_source_unknown_to_the_index_or_being_deleted_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    async def find(_api: Any, _group: str, _version: str, _ns: str, _plural: str, name: str):  # type: ignore[no-untyped-def]
        asked.append(name)
        return None

    monkeypatch.setattr(packagerevision.kube, "find", find)
    going = variantindex.revision_of(_body("blueprints.net.base.v1", deleting=True))
    index = {("name", "team", "blueprints.net.base.v1"): [going]}
    for name in ("blueprints.net.base.v1", "other"):
        with pytest.raises(errors.Waiting):
            asyncio.run(packagerevision._revision_key(NoApi(), "team", name, index))
    assert asked == ["blueprints.net.base.v1", "other"]
