"""The operator's API client against a small HTTP server standing in for the API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest
from aiohttp import web

from lanai.handlers import kube
from tests.support import standin

SECRET_VALUE = "c2VjcmV0LXZhbHVl"  # base64 of "secret-value"


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        seen.append(
            {
                "method": request.method,
                "path": request.path,
                "auth": request.headers.get("Authorization"),
                "type": request.headers.get("Content-Type"),
                "body": json.loads(body) if body else None,
            }
        )
        if request.headers.get("Authorization") != "Bearer fresh":
            return web.json_response({"kind": "Status", "message": "Unauthorized"}, status=401)
        if request.path.endswith("/secrets/gone"):
            return web.json_response(
                {"kind": "Status", "message": 'secrets "gone" not found'}, status=404
            )
        if request.path.endswith("/secrets/s"):
            return web.json_response({"type": "Opaque", "data": {"token": SECRET_VALUE}})
        return web.json_response({"metadata": {"name": "made", "generation": 1}})

    async with standin.serving(handle) as url:
        yield url, seen


def _api(server: str, tokens: list[str]) -> kube.Api:
    def login() -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=server, token=tokens.pop(0))

    return kube.Api(connect=login)


async def test_a_rejected_token_logs_in_again_once(server: tuple[str, list[Any]]) -> None:
    url, seen = server
    api = _api(url, ["stale", "fresh"])
    made = await kube.create(api, "porch.kpt.dev", "v1alpha2", "ns", "packagerevisions", {"a": 1})
    assert made["metadata"]["name"] == "made"
    assert [s["auth"] for s in seen] == ["Bearer stale", "Bearer fresh"]
    assert seen[-1]["path"] == "/apis/porch.kpt.dev/v1alpha2/namespaces/ns/packagerevisions"
    assert seen[-1]["body"] == {"a": 1}
    await api.close()


async def test_status_patches_are_merge_patches_of_the_subresource(
    server: tuple[str, list[Any]],
) -> None:
    url, seen = server
    api = _api(url, ["fresh"])
    assert await kube.patch_status(api, "g", "v1", "things", "ns", "a b", {"x": 1})
    assert seen[-1]["method"] == "PATCH"
    assert seen[-1]["path"] == "/apis/g/v1/namespaces/ns/things/a b/status"
    assert seen[-1]["type"] == kube.MERGE_PATCH
    assert seen[-1]["body"] == {"status": {"x": 1}}
    await api.close()


async def test_secrets_decode_and_errors_never_show_values(server: tuple[str, list[Any]]) -> None:
    url, _ = server
    api = _api(url, ["fresh"])
    secret = await kube.read_secret(api, "ns", "s")
    assert secret.data == {"token": "secret-value"}
    assert "secret-value" not in repr(secret)
    with pytest.raises(kube.SecretError, match='Secret "gone" not found'):
        await kube.read_secret(api, "ns", "gone")
    await api.close()


async def test_errors_carry_the_status_and_the_servers_message(
    server: tuple[str, list[Any]],
) -> None:
    url, _ = server
    api = _api(url, ["fresh"])
    with pytest.raises(kube.ApiError) as caught:
        await kube.get(api, "", "v1", "ns", "secrets", "gone")
    assert caught.value.status == 404
    assert "not found" in str(caught.value)
    await api.close()
