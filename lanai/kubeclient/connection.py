"""Where the API server is and how to authenticate to it, as one value.

Shaped like kopf's ``ConnectionInfo`` (``server``, ``as_ssl_context()``,
``as_http_headers()``, ``proxy_url``, ``trust_env``), so the client takes either: the
operator logs in through kopf, the CLI through :mod:`lanai.kubeclient.kubeconfig`.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Endpoint(Protocol):
    """What :class:`lanai.kubeclient.client.Api` needs to connect (kopf's ConnectionInfo
    has it too)."""

    @property
    def server(self) -> str: ...

    @property
    def proxy_url(self) -> str | None: ...

    @property
    def trust_env(self) -> bool: ...

    def as_ssl_context(self) -> ssl.SSLContext: ...

    def as_http_headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Connection:
    """An API server and credentials. ``repr`` never shows a secret."""

    server: str
    ca_data: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    tls_server_name: str | None = None
    certificate_data: bytes | None = field(default=None, repr=False)
    private_key_data: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    proxy_url: str | None = None
    trust_env: bool = False
    extra_headers: tuple[tuple[str, str], ...] = ()
    """Sent with every request (impersonation: ``Impersonate-User``/``-Group``)."""

    def as_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_data.decode() if self.ca_data else None)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.certificate_data and self.private_key_data:
            _load_client_pair(context, self.certificate_data, self.private_key_data)
        return context

    def as_http_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.username and self.password is not None:
            pair = f"{self.username}:{self.password}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        return headers


def _load_client_pair(context: ssl.SSLContext, certificate: bytes, key: bytes) -> None:
    """ssl loads client certificates only from files: write them to private temporary
    files for the moment it reads them."""
    with tempfile.TemporaryDirectory(prefix="lanai-tls-") as directory:
        cert_file, key_file = Path(directory, "tls.crt"), Path(directory, "tls.key")
        cert_file.write_bytes(certificate)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key)
        context.load_cert_chain(cert_file, key_file)
