"""From a Repository's ``spec.git.secretRef`` to credentials for Git.

Porch's two shapes: ``kubernetes.io/basic-auth`` (``username``/``password``) and an
Opaque Secret with ``bearerToken``. Anything else is a clear error naming what to fix;
no message ever contains a value from the Secret.
"""

from __future__ import annotations

from kubernetes_asyncio import client

from lanai.git import probe
from lanai.handlers import kube


class CredentialsError(Exception):
    pass


async def resolve(
    api: client.ApiClient, namespace: str, secret_name: str | None
) -> probe.RemoteAuth | None:
    if not secret_name:
        return None
    try:
        secret = await kube.read_secret(api, namespace, secret_name)
    except kube.SecretError as error:
        raise CredentialsError(str(error)) from None
    if secret.data.get("bearerToken"):
        return probe.RemoteAuth(bearer_token=secret.data["bearerToken"])
    if "username" in secret.data and "password" in secret.data:
        return probe.RemoteAuth(username=secret.data["username"], password=secret.data["password"])
    raise CredentialsError(
        f'Secret "{secret_name}" (type {secret.type}) has neither "username" and "password" '
        f'(type kubernetes.io/basic-auth) nor "bearerToken"; add those keys'
    )
