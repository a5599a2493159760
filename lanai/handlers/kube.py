"""The operator's own Kubernetes client: JSON dicts over kopf's aiohttp, nothing more.

kopf watches and patches the objects it handles; everything else the operator does
against the API (reading Secrets, posting Events, writing PackageRevision objects it
discovers in Git) goes through this one shared client, built once at startup.

It logs in exactly as kopf does (the Pod's ServiceAccount, else ``$KUBECONFIG`` /
``~/.kube/config``, through kopf's own login functions), so both speak to the API with
the same identity, and a 401 (a rotated ServiceAccount token) logs in again once.
Bodies are plain dicts: the generated kubernetes-asyncio client cost ~70 MiB of
resident memory for its ~700 model classes (kopf imports them whenever the package is
installed) and a model round trip per request, 22,000 requests in a cold sync of
10,000 revisions.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf

from lanai.api import values

MERGE_PATCH = "application/merge-patch+json"
TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
POOL = 100
"""Connections in flight at once (kubernetes-asyncio's default pool size)."""


class ApiError(Exception):
    """The API server answered with an error status; ``status`` is the HTTP code."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(f"HTTP {status} {reason}: {message}" if message else f"HTTP {status}")
        self.status = status
        self.reason = reason


def login(settings: kopf.OperatorSettings | None = None) -> kopf.ConnectionInfo:
    """kopf's own login, in the order the operator's login handler uses."""
    settings = settings or kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise kopf.LoginError("neither a ServiceAccount token nor a kubeconfig was found")
    return info


@dataclass
class Api:
    """A minimal API client: ``request(method, path, body)`` → the decoded JSON answer."""

    relogin: Callable[[], kopf.ConnectionInfo]
    _info: kopf.ConnectionInfo | None = None
    _session: aiohttp.ClientSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._info = self._info or self.relogin()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL, ssl=self._info.as_ssl_context()),
                headers={"User-Agent": "lanai", **self._info.as_http_headers()},
                timeout=TIMEOUT,
                proxy=self._info.proxy_url,
                trust_env=self._info.trust_env,
            )
        return self._session

    async def _renew(self, stale: aiohttp.ClientSession) -> None:
        async with self._lock:
            if self._session is stale:  # not renewed by a concurrent request meanwhile
                self._info = await asyncio.to_thread(self.relogin)
                self._session = None
                await stale.close()

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        *,
        decode: bool = True,
    ) -> Any:
        """``decode=False`` skips parsing a successful answer (a sync's writes need none)."""
        data = json.dumps(body, default=values.json_default).encode() if body is not None else None
        for attempt in (1, 2):
            session = self._open()
            assert self._info is not None
            async with session.request(
                method,
                self._info.server.rstrip("/") + path,
                data=data,
                headers={"Content-Type": content_type, "Accept": "application/json"},
            ) as response:
                text = await response.read()
                if response.status == 401 and attempt == 1:
                    await self._renew(session)
                    continue
                if response.status >= 400:
                    raise ApiError(response.status, response.reason or "", _message(text))
                return json.loads(text) if text and decode else None
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _message(text: bytes) -> str:
    """The ``message`` of a Status answer (never request data: that can be a Secret)."""
    try:
        status = json.loads(text)
    except ValueError:
        return ""
    return str(status.get("message", "")) if isinstance(status, dict) else ""


async def new_api_client(settings: kopf.OperatorSettings | None = None) -> Api:
    return Api(relogin=lambda: login(settings))


def objects_path(
    group: str, version: str, namespace: str, plural: str, name: str = "", subresource: str = ""
) -> str:
    """``/apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>[/<subresource>]]``
    (``/api/<version>/...`` for the core group)."""
    root = f"/apis/{group}/{version}" if group else f"/api/{version}"
    path = f"{root}/namespaces/{quote(namespace, safe='')}/{plural}"
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


async def delete(
    api: Api, group: str, version: str, namespace: str, plural: str, name: str
) -> None:
    await api.request("DELETE", objects_path(group, version, namespace, plural, name))


class SecretError(Exception):
    """A referenced Secret is missing, unreadable or lacks the expected keys."""


@dataclass(frozen=True)
class SecretData:
    """A Secret's type and decoded data; its repr never shows the values."""

    type: str
    data: dict[str, str] = field(repr=False)

    def __repr__(self) -> str:
        return f"SecretData(type={self.type!r}, keys={sorted(self.data)})"


async def read_secret(api: Api, namespace: str, name: str) -> SecretData:
    """The Secret's type and decoded data."""
    try:
        secret = await get(api, "", "v1", namespace, "secrets", name)
    except ApiError as error:
        if error.status == 404:
            raise SecretError(f'Secret "{name}" not found in namespace "{namespace}"') from None
        if error.status == 403:
            raise SecretError(f'not allowed to read Secret "{name}" in "{namespace}"') from None
        raise SecretError(f'reading Secret "{name}" failed: HTTP {error.status}') from None
    data: dict[str, Any] = secret.get("data") or {}
    decoded = {key: base64.b64decode(value).decode() for key, value in data.items()}
    return SecretData(type=secret.get("type") or "Opaque", data=decoded)


async def patch_status(
    api: Api,
    group: str,
    version: str,
    plural: str,
    namespace: str,
    name: str,
    status: dict[str, Any],
) -> bool:
    """Merge-patch ``status`` onto the object; False if the object is gone."""
    try:
        await merge_patch(
            api, group, version, namespace, plural, name, {"status": status}, "status", decode=False
        )
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return True


async def patch_object_status(
    api: Api,
    resource: tuple[str, str, str],
    body: Mapping[str, Any],
    status: dict[str, Any],
) -> bool:
    """:func:`patch_status` for the object ``body`` of ``resource`` (group, version, plural)."""
    metadata = body.get("metadata") or {}
    group, version, plural = resource
    return await patch_status(
        api,
        group,
        version,
        plural,
        metadata.get("namespace") or "default",
        metadata.get("name") or "",
        status,
    )
