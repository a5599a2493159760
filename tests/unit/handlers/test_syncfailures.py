"""A sync's refused writes: one object's failure stays that object's, retried with a backoff.

``apply`` runs against a small HTTP server standing in for the API server, which refuses
the writes of chosen objects the way a CEL rule (422), a conflict (409), a policy (403) or
a failing server (500) would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest
from aiohttp import web

from lanai.engine import mirror, packages
from lanai.handlers import kube, mirroring, syncfailures
from tests.support import standin

REFUSED = {
    "blueprints.app.v1": (422, "Invalid", "spec.lifecycle cannot move from Published to Draft"),
    "blueprints.app.v2": (409, "Conflict", "the object has been modified"),
    "blueprints.app.v3": (403, "Forbidden", "denied by a policy"),
    "blueprints.app.v4": (500, "InternalError", "etcd is unhappy"),
}


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[tuple[str, str, Any]]]]:
    seen: list[tuple[str, str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        text = await request.text()
        body = json.loads(text) if text else None
        seen.append((request.method, request.path, body))
        name = request.path.split("/")[-1]
        if request.method == "POST":
            name = body["metadata"]["name"]
        elif name == "status":
            name = request.path.split("/")[-2]
        if name in REFUSED:
            code, reason, message = REFUSED[name]
            status = {"kind": "Status", "reason": reason, "message": message}
            return web.json_response(status, status=code)
        return web.json_response({})

    async with standin.serving(handle) as url:
        yield url, seen


def _api(server: str) -> kube.Api:
    return kube.Api(connect=lambda: kopf.ConnectionInfo(server=server, token="t"))


async def test_refused_writes_are_noted_per_object_and_the_rest_is_written(
    server: tuple[str, list[tuple[str, str, Any]]],
) -> None:
    url, seen = server
    api = _api(url)
    names = [f"blueprints.app.v{i}" for i in range(1, 7)]
    plan = mirror.MirrorPlan(
        create=[mirror.Creation(standin.published("v5"), False, False)],
        patch=[(name, {"metadata": {"labels": {"x": "y"}}}) for name in names[:4]],
        status=[(names[5], {"revision": 6})],
        delete=["blueprints.app.v1", "blueprints.app.v9"],
        propose_deletion=["blueprints.app.v9"],
    )
    try:
        applied = await mirroring.apply(api, "ns", plan)
    finally:
        await api.close()
    assert set(applied.failed) == {("PackageRevision", name) for name in names[:4]}
    failure = applied.failed[("PackageRevision", "blueprints.app.v1")]
    assert failure.status == 422
    assert failure.action == "update"  # the first refusal of the object is kept
    assert "cannot move from Published to Draft" in failure.describe()
    assert applied.created == 1  # v5 and its status
    assert applied.patched == 1  # v6's status
    assert applied.deleted == 1  # v9, moved out of Published first
    # v9: the removal patch went before the delete, as the admission policy requires.
    v9 = [(method, body) for method, path, body in seen if path.endswith("/blueprints.app.v9")]
    assert [method for method, _ in v9] == ["PATCH", "DELETE"]
    assert v9[0][1] == mirror.removal_patch(mirror.VANISHED)


async def test_objects_backing_off_are_not_tried(
    server: tuple[str, list[tuple[str, str, Any]]],
) -> None:
    url, seen = server
    api = _api(url)
    plan = mirror.MirrorPlan(patch=[("blueprints.app.v1", {}), ("blueprints.app.v6", {})])
    try:
        applied = await mirroring.apply(
            api, "ns", plan, due=lambda key: key[1] != "blueprints.app.v1"
        )
    finally:
        await api.close()
    assert applied.attempted == {("PackageRevision", "blueprints.app.v6")}
    assert not applied.failed
    assert [path.rsplit("/", 1)[-1] for _, path, _ in seen] == ["blueprints.app.v6"]


async def test_package_writes_fail_per_object_too(
    server: tuple[str, list[tuple[str, str, Any]]],
) -> None:
    url, _ = server
    api = _api(url)
    plan = packages.PackagePlan(
        patch=[("blueprints.app.v4", {"status": {}})], delete=["blueprints.app"]
    )
    try:
        applied = await mirroring.apply_packages(api, "ns", plan)
    finally:
        await api.close()
    assert set(applied.failed) == {("Package", "blueprints.app.v4")}
    assert applied.deleted == 1


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _failure(name: str, message: str = "HTTP 422 Invalid: no") -> mirroring.WriteFailure:
    return mirroring.WriteFailure("PackageRevision", name, "update", 422, message)


def _applied(attempted: set[str], failed: dict[str, str]) -> mirroring.Applied:
    applied = mirroring.Applied()
    applied.attempted = {("PackageRevision", name) for name in attempted}
    applied.failed = {("PackageRevision", n): _failure(n, m) for n, m in failed.items()}
    return applied


def test_a_refused_object_is_retried_with_a_growing_capped_delay() -> None:
    clock = _Clock()
    memory = syncfailures.FailedWrites(first_retry=5, longest_retry=20, clock=clock)
    key = ("PackageRevision", "a")
    planned = {key}
    delays = []
    for _ in range(5):
        assert memory.due(key)
        _, recovered = memory.update(planned, _applied({"a"}, {"a": "HTTP 422 Invalid: no"}))
        assert recovered == 0
        start = clock.now
        while not memory.due(key):
            clock.now += 1
        delays.append(clock.now - start)
    assert delays == [5, 10, 20, 20, 20]
    assert memory.revisions() == {"a"}
    assert len(memory) == 1


def test_a_refusal_is_reported_once_and_again_only_with_a_new_message() -> None:
    clock = _Clock()
    memory = syncfailures.FailedWrites(clock=clock)
    planned = {("PackageRevision", "a")}
    first, _ = memory.update(planned, _applied({"a"}, {"a": "HTTP 422 Invalid: no"}))
    again, _ = memory.update(planned, _applied({"a"}, {"a": "HTTP 422 Invalid: no"}))
    other, _ = memory.update(planned, _applied({"a"}, {"a": "HTTP 500 InternalError: down"}))
    assert [f.name for f in first] == ["a"]
    assert again == []
    assert [f.message for f in other] == ["HTTP 500 InternalError: down"]


def test_an_object_recovers_when_written_or_when_nothing_is_left_to_write() -> None:
    clock = _Clock()
    memory = syncfailures.FailedWrites(clock=clock)
    planned = {("PackageRevision", "a"), ("PackageRevision", "b")}
    memory.update(planned, _applied({"a", "b"}, {"a": "no", "b": "no"}))
    # Backing off (not attempted) keeps it failing.
    assert memory.update(planned, _applied(set(), {})) == ([], 0)
    _, recovered = memory.update({("PackageRevision", "a")}, _applied({"a"}, {}))
    assert recovered == 2
    assert len(memory) == 0


def test_a_requested_sync_retries_everything_at_once() -> None:
    clock = _Clock()
    memory = syncfailures.FailedWrites(clock=clock)
    key = ("PackageRevision", "a")
    memory.update({key}, _applied({"a"}, {"a": "no"}))
    assert not memory.due(key)
    memory.retry_now()
    assert memory.due(key)


def test_the_repository_summary_counts_and_names_a_few() -> None:
    one = syncfailures.summary([_failure("a")])
    assert one == "1 object could not be written: PackageRevision a (see their SyncFailed events)"
    many = syncfailures.summary([_failure(n) for n in "abcde"])
    assert many.startswith("5 objects could not be written: PackageRevision a, ")
    assert "PackageRevision c and 2 more" in many
