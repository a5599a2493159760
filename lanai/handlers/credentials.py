"""From a Repository's ``spec.git.secretRef`` to credentials for Git.

Porch's two shapes: ``kubernetes.io/basic-auth`` (``username``/``password``) and an
Opaque Secret with ``bearerToken``. Anything else is a clear error naming what to fix;
no message ever contains a value from the Secret.

A CA bundle for Git over HTTPS (trusted besides the system's CAs) comes from the key
``ca.crt`` of that same Secret, or else, as Porch reads it (``--use-git-cabundle``),
from the Secret ``<namespace>-ca-bundle`` in the Repository's namespace, key ``ca.crt``.
The second is looked up for https URLs only, and its absence is not an error.
"""

from __future__ import annotations

import dataclasses

from lanai.git import probe
from lanai.handlers import kube


class CredentialsError(Exception):
    pass


CA_KEY = "ca.crt"


def porch_ca_secret(namespace: str) -> str:
    return f"{namespace}-ca-bundle"


async def resolve(
    api: kube.Api, namespace: str, secret_name: str | None, url: str = ""
) -> probe.RemoteAuth | None:
    auth: probe.RemoteAuth | None = None
    ca = ""
    if secret_name:
        try:
            secret = await kube.read_secret(api, namespace, secret_name)
        except kube.SecretError as error:
            raise CredentialsError(str(error)) from None
        ca = secret.data.get(CA_KEY, "")
        if secret.data.get("bearerToken"):
            auth = probe.RemoteAuth(bearer_token=secret.data["bearerToken"])
        elif "username" in secret.data and "password" in secret.data:
            auth = probe.RemoteAuth(
                username=secret.data["username"], password=secret.data["password"]
            )
        elif not ca:
            raise CredentialsError(
                f'Secret "{secret_name}" (type {secret.type}) has neither "username" and '
                f'"password" (type kubernetes.io/basic-auth) nor "bearerToken" nor "{CA_KEY}"; '
                "add those keys"
            )
    if not ca and url.lower().startswith("https://"):
        ca = await _porch_ca_bundle(api, namespace)
    if ca:
        auth = dataclasses.replace(auth or probe.RemoteAuth(), ca_bundle=ca.encode())
    return auth


async def _porch_ca_bundle(api: kube.Api, namespace: str) -> str:
    name = porch_ca_secret(namespace)
    try:
        secret = await kube.read_secret(api, namespace, name)
    except kube.SecretError as error:
        if "not found" in str(error):
            return ""
        raise CredentialsError(str(error)) from None
    if not secret.data.get(CA_KEY):
        raise CredentialsError(f'Secret "{name}" has no "{CA_KEY}" key with the CA bundle')
    return secret.data[CA_KEY]
