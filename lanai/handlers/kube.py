"""The operator's side of the API client: kopf's login, Secrets and status writes.

kopf watches and patches the objects it handles; everything else the operator does
against the API (reading Secrets, posting Events, writing PackageRevision objects it
discovers in Git) goes through one shared :class:`lanai.kubeclient.client.Api`, built
once at startup. It logs in exactly as kopf does (the Pod's ServiceAccount, else
``$KUBECONFIG`` / ``~/.kube/config``, through kopf's own login functions), so both speak
to the API with the same identity.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from lanai.kubeclient.client import (
    MERGE_PATCH,
    Api,
    ApiError,
    create,
    delete,
    find,
    get,
    json_patch,
    merge_patch,
    objects_path,
)

__all__ = [
    "MERGE_PATCH",
    "Api",
    "ApiError",
    "SecretData",
    "SecretError",
    "create",
    "delete",
    "find",
    "get",
    "json_patch",
    "login",
    "merge_patch",
    "new_api_client",
    "objects_path",
    "patch_object_status",
    "patch_status",
    "read_secret",
]


def login(settings: kopf.OperatorSettings | None = None) -> kopf.ConnectionInfo:
    """kopf's own login, in the order the operator's login handler uses."""
    settings = settings or kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise kopf.LoginError("neither a ServiceAccount token nor a kubeconfig was found")
    return info


async def new_api_client(settings: kopf.OperatorSettings | None = None) -> Api:
    return Api(connect=lambda: login(settings))


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
