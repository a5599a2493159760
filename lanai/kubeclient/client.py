"""Requests to the API server: JSON dicts in, JSON dicts out, errors as :class:`ApiError`.

One ``aiohttp`` session per :class:`Api`, opened on first use. A 401 (a rotated
ServiceAccount token, an expired exec credential) connects again once through
``connect`` before the error reaches the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from multidict import CIMultiDict

from lanai.api import values
from lanai.kubeclient.connection import Endpoint

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
POOL = 100
"""Connections in flight at once."""


class ApiError(Exception):
    """The API server answered with an error status.

    ``status`` is the HTTP code, ``reason`` the Status object's reason (``Forbidden``,
    ``Invalid``, ``Conflict``, ... or the HTTP reason phrase), ``message`` its message.
    Request data never appears in it: a request can carry a Secret.
    """

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(f"HTTP {status} {reason}: {message}" if message else f"HTTP {status}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass
class Api:
    """A minimal API client: ``request(method, path, body)`` → the decoded JSON answer."""

    connect: Callable[[], Endpoint]
    """Where and as whom; called on first use and again after a 401."""
    _endpoint: Endpoint | None = None
    _session: aiohttp.ClientSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _open(self) -> tuple[aiohttp.ClientSession, Endpoint]:
        if self._endpoint is None:
            self._endpoint = self.connect()
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL, ssl=self._endpoint.as_ssl_context()),
                headers=CIMultiDict(
                    [
                        ("User-Agent", "lanai"),
                        *self._endpoint.as_http_headers().items(),
                        # Repeatable (one Impersonate-Group per group): not a plain dict.
                        *getattr(self._endpoint, "extra_headers", ()),
                    ]
                ),
                timeout=TIMEOUT,
                proxy=self._endpoint.proxy_url,
                trust_env=self._endpoint.trust_env,
            )
        return self._session, self._endpoint

    async def _renew(self, stale: aiohttp.ClientSession) -> None:
        async with self._lock:
            if self._session is stale:  # not renewed by a concurrent request meanwhile
                self._endpoint = await asyncio.to_thread(self.connect)
                self._session = None
                await stale.close()

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        content_type: str = "application/json",
        *,
        decode: bool = True,
    ) -> Any:
        """``decode=False`` skips parsing a successful answer (a sync's writes need none)."""
        data = json.dumps(body, default=values.json_default).encode() if body is not None else None
        for attempt in (1, 2):
            session, endpoint = self._open()
            server_name = getattr(endpoint, "tls_server_name", None)
            async with session.request(
                method,
                endpoint.server.rstrip("/") + path,
                data=data,
                headers={"Content-Type": content_type, "Accept": "application/json"},
                **({"server_hostname": server_name} if server_name else {}),
            ) as response:
                text = await response.read()
                if response.status == 401 and attempt == 1:
                    await self._renew(session)
                    continue
                if response.status >= 400:
                    reason, message = _status(text)
                    raise ApiError(response.status, reason or response.reason or "", message)
                return json.loads(text) if text and decode else None
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _status(text: bytes) -> tuple[str, str]:
    """The ``reason`` and ``message`` of a Status answer."""
    try:
        status = json.loads(text)
    except ValueError:
        return "", ""
    if not isinstance(status, dict):
        return "", ""
    return str(status.get("reason") or ""), str(status.get("message") or "")


def objects_path(
    group: str,
    version: str,
    namespace: str | None,
    plural: str,
    name: str = "",
    subresource: str = "",
) -> str:
    """``/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]``
    (``/api/<version>/...`` for the core group; no namespace: across all of them)."""
    root = f"/apis/{group}/{version}" if group else f"/api/{version}"
    path = (
        f"{root}/namespaces/{quote(namespace, safe='')}/{plural}"
        if namespace
        else f"{root}/{plural}"
    )
    if name:
        path = f"{path}/{quote(name, safe='')}"
    return f"{path}/{subresource}" if subresource else path


async def get(
    api: Api, group: str, version: str, namespace: str, plural: str, name: str
) -> dict[str, Any]:
    found: dict[str, Any] = await api.request(
        "GET", objects_path(group, version, namespace, plural, name)
    )
    return found


async def find(
    api: Api, group: str, version: str, namespace: str, plural: str, name: str
) -> dict[str, Any] | None:
    """:func:`get`, or ``None`` when there is no such object."""
    try:
        return await get(api, group, version, namespace, plural, name)
    except ApiError as error:
        if error.status == 404:
            return None
        raise


async def list_objects(
    api: Api,
    group: str,
    version: str,
    namespace: str | None,
    plural: str,
    *,
    field_selector: str = "",
) -> list[dict[str, Any]]:
    """The items of a list (``namespace=None``: every namespace)."""
    path = objects_path(group, version, namespace, plural)
    if field_selector:
        path += "?" + urlencode({"fieldSelector": field_selector})
    found: dict[str, Any] = await api.request("GET", path)
    items: list[dict[str, Any]] = found.get("items") or []
    return items


async def create(
    api: Api,
    group: str,
    version: str,
    namespace: str,
    plural: str,
    body: Mapping[str, Any],
    *,
    decode: bool = True,
) -> dict[str, Any]:
    """The created object (``{}`` with ``decode=False``)."""
    made: dict[str, Any] | None = await api.request(
        "POST", objects_path(group, version, namespace, plural), body, decode=decode
    )
    return made or {}


async def replace(
    api: Api,
    group: str,
    version: str,
    namespace: str,
    plural: str,
    name: str,
    body: Mapping[str, Any],
) -> dict[str, Any]:
    """PUT: the whole object, its ``metadata.resourceVersion`` guarding against races."""
    replaced: dict[str, Any] = await api.request(
        "PUT", objects_path(group, version, namespace, plural, name), body
    )
    return replaced


async def merge_patch(
    api: Api,
    group: str,
    version: str,
    namespace: str,
    plural: str,
    name: str,
    patch: Mapping[str, Any],
    subresource: str = "",
    *,
    decode: bool = True,
) -> dict[str, Any]:
    """The patched object (``{}`` with ``decode=False``)."""
    path = objects_path(group, version, namespace, plural, name, subresource)
    patched: dict[str, Any] | None = await api.request(
        "PATCH", path, patch, MERGE_PATCH, decode=decode
    )
    return patched or {}


async def json_patch(
    api: Api,
    group: str,
    version: str,
    namespace: str,
    plural: str,
    name: str,
    operations: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """RFC 6902 patch; its ``test`` operations make it conditional (the object changed
    meanwhile: an error, nothing written). The patched object."""
    path = objects_path(group, version, namespace, plural, name)
    patched: dict[str, Any] | None = await api.request("PATCH", path, operations, JSON_PATCH)
    return patched or {}


async def delete(
    api: Api, group: str, version: str, namespace: str, plural: str, name: str
) -> None:
    await api.request("DELETE", objects_path(group, version, namespace, plural, name))
