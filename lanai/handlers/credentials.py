"""From a Repository's ``spec.git.secretRef`` to credentials for Git.

Porch's two shapes: ``kubernetes.io/basic-auth`` (``username``/``password``) and an
Opaque Secret with ``bearerToken``. Anything else is a clear error naming what to fix;
no message ever contains a value from the Secret.

A CA bundle for Git over HTTPS (trusted besides the system's CAs) comes from the key
``ca.crt`` of that same Secret, or else, as Porch reads it (``--use-git-cabundle``),
from the Secret ``<namespace>-ca-bundle`` in the Repository's namespace, key ``ca.crt``.
The second is looked up for https URLs only, and its absence is not an error.

Either Secret is read only on behalf of whoever named it (:mod:`lanai.trust.secrets`):
a SubjectAccessReview first asks whether the requesting user, as the API server
recorded them on the object, may ``get`` that Secret. A Secret named by the object is
then :class:`SecretForbidden`; the implicit ``<namespace>-ca-bundle`` is simply not used.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from lanai.git import probe
from lanai.handlers import kube
from lanai.trust import secrets

logger = logging.getLogger(__name__)


class CredentialsError(Exception):
    pass


class SecretForbidden(CredentialsError):
    """The requesting user may not read the Secret, so the operator did not read it."""


@dataclasses.dataclass(frozen=True)
class OnBehalfOf:
    """Whose rights decide which Secrets are read for an object, and which of its
    fields names the Secret (for messages)."""

    access: secrets.SecretAccess
    requester: secrets.Requester | None
    field: str

    @classmethod
    def of(
        cls, access: secrets.SecretAccess, annotations: Mapping[str, Any] | None, field: str
    ) -> OnBehalfOf:
        return cls(access, secrets.requester_of(annotations), field)


async def _may_read(api: kube.Api, behalf: OnBehalfOf, namespace: str, name: str) -> bool:
    """Ask the API server whether the requester may get the Secret (True in operator mode)."""
    if behalf.access is secrets.SecretAccess.OPERATOR:
        return True
    if behalf.requester is None:
        return False
    review = secrets.access_review(behalf.requester, namespace, name)
    try:
        answer = await kube.create(
            api, "authorization.k8s.io", "v1", "", "subjectaccessreviews", review
        )
    except kube.ApiError as error:
        raise CredentialsError(
            f'cannot check whether "{behalf.requester.user}" may read Secret "{name}": '
            f"the SubjectAccessReview failed with HTTP {error.status} {error.reason}"
        ) from None
    return secrets.allowed(answer)


CA_KEY = "ca.crt"


def porch_ca_secret(namespace: str) -> str:
    return f"{namespace}-ca-bundle"


async def resolve(
    api: kube.Api,
    namespace: str,
    secret_name: str | None,
    url: str = "",
    *,
    behalf: OnBehalfOf,
) -> probe.RemoteAuth | None:
    auth: probe.RemoteAuth | None = None
    ca = ""
    if secret_name:
        if not await _may_read(api, behalf, namespace, secret_name):
            raise SecretForbidden(
                secrets.forbidden_message(behalf.requester, namespace, secret_name, behalf.field)
            )
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
        ca = await _porch_ca_bundle(api, namespace, behalf)
    if ca:
        auth = dataclasses.replace(auth or probe.RemoteAuth(), ca_bundle=ca.encode())
    return auth


async def _porch_ca_bundle(api: kube.Api, namespace: str, behalf: OnBehalfOf) -> str:
    name = porch_ca_secret(namespace)
    if not await _may_read(api, behalf, namespace, name):
        logger.debug("not using Secret %s/%s: the requester may not read it", namespace, name)
        return ""
    try:
        secret = await kube.read_secret(api, namespace, name)
    except kube.SecretError as error:
        if "not found" in str(error):
            return ""
        raise CredentialsError(str(error)) from None
    if not secret.data.get(CA_KEY):
        raise CredentialsError(f'Secret "{name}" has no "{CA_KEY}" key with the CA bundle')
    return secret.data[CA_KEY]
