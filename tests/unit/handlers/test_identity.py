"""The operator's own identity, and the annotations its mirrored creates carry.

The API server is a small HTTP stand-in: it answers the SelfSubjectReview and records
what a sync POSTs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import kopf
import pytest
from aiohttp import web

from lanai.engine import mirror
from lanai.handlers import identity, kube, mirroring
from lanai.trust import secrets
from tests.support import standin

Answer = Callable[[web.Request], web.Response]
USER_INFO = {
    "username": "system:serviceaccount:lanai-system:lanai",
    "groups": [
        "system:serviceaccounts",
        "system:serviceaccounts:lanai-system",
        "system:authenticated",
    ],
}


@pytest.fixture
async def server() -> AsyncIterator[tuple[kube.Api, list[tuple[str, str, Any]], dict[str, Answer]]]:
    seen: list[tuple[str, str, Any]] = []
    answers: dict[str, Answer] = {}

    async def handle(request: web.Request) -> web.Response:
        text = await request.text()
        seen.append((request.method, request.path, json.loads(text) if text else None))
        if request.path in answers:
            return answers[request.path](request)
        return web.json_response({})

    async with standin.serving(handle) as url:
        api = kube.Api(connect=lambda: kopf.ConnectionInfo(server=url, token="t"))
        yield api, seen, answers
        await api.close()


async def test_the_operator_learns_who_it_is_from_a_self_subject_review(
    server: tuple[kube.Api, list[tuple[str, str, Any]], dict[str, Answer]],
) -> None:
    api, seen, answers = server
    answers[identity.SELF_SUBJECT_REVIEWS] = lambda _r: web.json_response(
        {"kind": "SelfSubjectReview", "status": {"userInfo": USER_INFO}}
    )
    found = await identity.whoami(api)
    assert found == identity.Identity(USER_INFO["username"], tuple(USER_INFO["groups"]))
    assert seen[0][0] == "POST"
    assert seen[0][2]["kind"] == "SelfSubjectReview"


@pytest.mark.parametrize(
    "answer",
    [
        lambda _r: web.json_response({"kind": "Status", "reason": "Forbidden"}, status=403),
        lambda _r: web.json_response({"kind": "Status", "reason": "NotFound"}, status=404),
        lambda _r: web.json_response({"status": {"userInfo": {}}}),
        lambda _r: web.json_response({"status": {"userInfo": {"username": "x", "groups": "g"}}}),
    ],
)
async def test_without_an_answer_nothing_is_prefilled(
    server: tuple[kube.Api, list[tuple[str, str, Any]], dict[str, Answer]], answer: Answer
) -> None:
    api, _seen, answers = server
    answers[identity.SELF_SUBJECT_REVIEWS] = answer
    assert await identity.whoami(api) is None


def test_the_groups_are_written_as_the_requester_policy_writes_them() -> None:
    # CEL: '[' + groups.map(g, '"' + escaped(g) + '"').join(',') + ']'
    assert secrets.groups_text([]) == "[]"
    assert secrets.groups_text(["a", "b"]) == '["a","b"]'
    assert secrets.groups_text(['x"y', "back\\slash"]) == '["x\\"y","back\\\\slash"]'
    # ... and read back as the same groups.
    for groups in ([], ["a", "b"], ['x"y', "back\\slash", "c,d"]):
        recorded = identity.recorded(identity.Identity("u", tuple(groups)))
        assert secrets.requester_of(recorded) == secrets.Requester("u", tuple(groups))


async def test_a_syncs_creates_carry_the_recorded_identity(
    server: tuple[kube.Api, list[tuple[str, str, Any]], dict[str, Answer]],
) -> None:
    api, seen, _answers = server
    own = identity.recorded(identity.Identity(USER_INFO["username"], tuple(USER_INFO["groups"])))
    plan = mirror.MirrorPlan(create=[mirror.Creation(standin.published("v1"), True, False)])
    applied = await mirroring.apply(api, "ns", plan, annotations=own)
    assert applied.created == 1
    posted = [body for method, _path, body in seen if method == "POST"]
    assert len(posted) == 1
    annotations = posted[0]["metadata"]["annotations"]
    assert {k: annotations[k] for k in own} == own
    assert json.loads(own[secrets.REQUESTED_BY_GROUPS]) == USER_INFO["groups"]
