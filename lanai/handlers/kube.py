"""The operator's own Kubernetes client (kubernetes-asyncio), apart from kopf's.

kopf watches and patches the objects it handles; everything else the operator does
against the API (reading Secrets, posting Events, writing PackageRevision objects it
discovers in Git) goes through this one shared client, built once at startup.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException


async def new_api_client() -> client.ApiClient:
    """In-cluster credentials inside a pod, else ``$KUBECONFIG`` / ``~/.kube/config``."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        return client.ApiClient()
    configuration = client.Configuration()
    # Read KUBECONFIG now: the library's default path is fixed when it is imported,
    # before ``lanai up`` points KUBECONFIG at its local control plane.
    await config.load_kube_config(
        config_file=os.environ.get("KUBECONFIG") or None, client_configuration=configuration
    )
    return client.ApiClient(configuration)


class SecretError(Exception):
    """A referenced Secret is missing, unreadable or lacks the expected keys."""


@dataclass(frozen=True)
class SecretData:
    """A Secret's type and decoded data; its repr never shows the values."""

    type: str
    data: dict[str, str] = field(repr=False)

    def __repr__(self) -> str:
        return f"SecretData(type={self.type!r}, keys={sorted(self.data)})"


async def read_secret(api: client.ApiClient, namespace: str, name: str) -> SecretData:
    """The Secret's type and decoded data."""
    try:
        secret = await client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    except ApiException as error:
        if error.status == 404:
            raise SecretError(f'Secret "{name}" not found in namespace "{namespace}"') from None
        if error.status == 403:
            raise SecretError(f'not allowed to read Secret "{name}" in "{namespace}"') from None
        raise SecretError(f'reading Secret "{name}" failed: HTTP {error.status}') from None
    data: dict[str, Any] = secret.data or {}
    decoded = {key: base64.b64decode(value).decode() for key, value in data.items()}
    return SecretData(type=secret.type or "Opaque", data=decoded)


MERGE_PATCH = "application/merge-patch+json"


async def patch_status(
    api: client.ApiClient,
    group: str,
    version: str,
    plural: str,
    namespace: str,
    name: str,
    status: dict[str, Any],
) -> bool:
    """Merge-patch ``status`` onto the object; False if the object is gone."""
    # The client's stubs omit ``_content_type``; without it a dict body is sent as a
    # JSON patch, which the API server rejects.
    patcher: Any = client.CustomObjectsApi(api).patch_namespaced_custom_object_status
    try:
        await patcher(
            group, version, namespace, plural, name, {"status": status}, _content_type=MERGE_PATCH
        )
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


async def patch_object_status(
    api: client.ApiClient,
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
