"""The remote's ref advertisement over smart HTTP, read without libgit2.

"Did anything change?" is one ``GET <url>/info/refs?service=git-upload-pack``: the
same bytes ``git ls-remote`` reads. At 10,000 refs libgit2 spends most of a no-op sync
turning them into 10,000 pygit2 ``RemoteHead`` objects (and asks for credentials only
after a 401, a second round trip); here the body is hashed as it arrives and parsed
only when the digest differs from the one the mirror was last brought level with.

This is a fast path, never the only one: :func:`read` returns None for anything it does
not handle the way libgit2 would (redirects, a refused login, a dumb-HTTP server, a
network or TLS failure), and the caller then asks libgit2, which reports the cause
precisely. HTTPS trusts the system's CAs plus the Repository's own bundle, as
:mod:`lanai.git.tls` does for libgit2.

Connections go through :mod:`lanai.git.egress` (a refused URL or address raises
:class:`~lanai.git.egress.Refused`). Credentials go only in answer to a challenge: the
first request carries none; a 401 with ``WWW-Authenticate`` is answered once with them
on the same connection, and remembered, so later reads of that repository send them at
once and a no-op sync stays one request. They go into one request header and never
into a message or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import re
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lanai.git import egress, network

if TYPE_CHECKING:
    from lanai.git.probe import RemoteAuth

logger = logging.getLogger(__name__)

TIMEOUT = 20.0
"""Seconds to wait for the server when libgit2's own timeout (:mod:`lanai.git.network`)
is not set; when it is, the same bound applies here, so a silent server costs the
configured timeout on this path as on libgit2's."""
_SERVICE = egress.UPLOAD_PACK
_CONTENT_TYPE = f"application/x-{_SERVICE}-advertisement"
_USER_AGENT = "git/2.0 (lanai)"
"""Hosting services (GitHub among them) speak the smart protocol only to ``git/`` agents."""


@dataclass(frozen=True)
class Advertisement:
    body: bytes
    digest: str
    """sha256 of the ref lines; the capability list (agent version etc.) is left out."""

    def refs(self) -> dict[str, str]:
        """Branches and tags (name → object id); peeled ``^{}`` entries left out.

        Raises ValueError for a body that is not pkt-lines."""
        return {
            name: oid
            for oid, name in _ref_lines(self.body)
            if name.startswith(("refs/heads/", "refs/tags/")) and not name.endswith("^{}")
        }

    def branches(self) -> dict[str, str]:
        """Only ``refs/heads/*``: found by search, not by walking 10,000 pkt-lines.

        A match counts only where it is the name of a pkt-line whose payload starts
        with the object id (so never inside the capability list).
        """
        body = self.body
        found: dict[str, str] = {}
        for match in _BRANCH.finditer(body):
            at = match.start()
            line_end = body.find(b"\n", at)
            for width in (40, 64):  # sha1, sha256
                head = at - width - 4
                size = body[head : head + 4] if head >= 0 else b""
                oid = body[head + 4 : at]
                if (
                    _HEX.fullmatch(size)
                    and _HEX.fullmatch(oid)
                    and head + int(size, 16) == line_end + 1
                ):
                    found[match.group(1).decode()] = oid.decode()
                    break
        return found


_BRANCH = re.compile(rb" (refs/heads/[^\0\n]+)")
_HEX = re.compile(rb"[0-9a-f]+")


def _ref_lines(body: bytes) -> list[tuple[str, str]]:
    """(object id, ref name) of every pkt-line after the service announcement."""
    found: list[tuple[str, str]] = []
    pos, end = 0, len(body)
    while pos + 4 <= end:
        size = int(body[pos : pos + 4], 16)
        if size == 0:  # flush-pkt
            pos += 4
            continue
        line = body[pos + 4 : pos + size]
        pos += size
        if line.startswith(b"#"):
            continue
        oid, _, name = line.split(b"\0", 1)[0].rstrip(b"\n").partition(b" ")
        found.append((oid.decode("ascii"), name.decode()))
    if pos != end:
        raise ValueError("the ref advertisement ends inside a pkt-line")
    return found


def _digest(body: bytes) -> str:
    """The refs' digest: the first ref line carries capabilities after a NUL; skip them."""
    nul = body.find(b"\0")
    if nul >= 0:
        eol = body.find(b"\n", nul)
        body = body[:nul] + (body[eol:] if eol >= 0 else b"")
    return hashlib.sha256(body).hexdigest()


def _headers(auth: RemoteAuth | None) -> dict[str, str]:
    headers = {"User-Agent": _USER_AGENT, "Accept": "*/*", "Pragma": "no-cache"}
    if auth and auth.bearer_token:
        headers["Authorization"] = f"Bearer {auth.bearer_token}"
    elif auth and auth.username:
        pair = f"{auth.username}:{auth.password}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    return headers


def _has_credentials(auth: RemoteAuth | None) -> bool:
    return bool(auth and (auth.bearer_token or auth.username))


def _tls(auth: RemoteAuth | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if auth and auth.ca_bundle:
        context.load_verify_locations(cadata=auth.ca_bundle.decode())
    return context


class _Connection(http.client.HTTPConnection):
    """Plain HTTP whose socket comes from :meth:`egress.Operation.connect`."""

    def __init__(self, operation: egress.Operation, timeout: float) -> None:
        super().__init__(operation.origin.host, operation.origin.port, timeout=timeout)
        self.operation = operation

    def connect(self) -> None:
        self.sock = self.operation.connect(self.host, self.port, self.timeout)


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPS over a socket from :meth:`egress.Operation.connect`, verified for its host."""

    def __init__(
        self, operation: egress.Operation, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(
            operation.origin.host, operation.origin.port, timeout=timeout, context=context
        )
        self.operation = operation
        self.tls = context

    def connect(self) -> None:
        sock = self.operation.connect(self.host, self.port, self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def read(
    guard: egress.Egress, url: str, auth: RemoteAuth | None, timeout: float | None = None
) -> Advertisement | None:
    """The advertisement of ``url``, or None when libgit2 should be asked instead.

    Raises :class:`egress.Refused` for a URL or an address Lanai does not connect to."""
    if timeout is None:
        timeout = network.timeouts()[1] or TIMEOUT
    operation = guard.operation(url)
    path = f"{urlsplit(url).path.rstrip('/')}/info/refs?service={_SERVICE}"
    send = _has_credentials(auth) and guard.challenges.asked(url, _SERVICE)
    connection: http.client.HTTPConnection
    try:
        if operation.origin.scheme == "https":
            connection = _TLSConnection(operation, timeout, _tls(auth))
        else:
            connection = _Connection(operation, timeout)
        try:
            response, body = _get(connection, path, auth if send else None)
            if response.status == 401 and not send and _has_credentials(auth):
                if not response.getheader("WWW-Authenticate"):
                    return None
                guard.challenges.remember(url, _SERVICE)
                response, body = _get(connection, path, auth)
        finally:
            connection.close()
    except egress.Refused:
        raise
    except (OSError, http.client.HTTPException, ssl.SSLError, ValueError) as error:
        # The type only: messages of some errors quote what was sent.
        logger.debug("reading the ref advertisement failed (%s); asking libgit2", type(error))
        return None
    content_type = response.getheader("Content-Type", "").split(";")[0].strip()
    if response.status != 200 or content_type != _CONTENT_TYPE:
        logger.debug("ref advertisement: HTTP %s %s; asking libgit2", response.status, content_type)
        return None
    if not body.startswith(b"001e# service=git-upload-pack\n") or not body.endswith(b"0000"):
        return None  # not smart HTTP, or cut short
    return Advertisement(body, _digest(body))


def _get(
    connection: http.client.HTTPConnection, path: str, auth: RemoteAuth | None
) -> tuple[http.client.HTTPResponse, bytes]:
    connection.request("GET", path, headers=_headers(auth))
    response = connection.getresponse()
    return response, response.read()
