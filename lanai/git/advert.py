"""The remote's ref advertisement over smart HTTP, read without libgit2.

"Did anything change?" is one ``GET <url>/info/refs?service=git-upload-pack``: the
same bytes ``git ls-remote`` reads. At 10,000 refs libgit2 spends most of a no-op sync
turning them into 10,000 pygit2 ``RemoteHead`` objects (and asks for credentials only
after a 401, a second round trip); here the body is hashed as it arrives and parsed
only when the digest differs from the one the mirror was last brought level with.

This is a fast path, never the only one: :func:`read` returns None for anything it does
not handle the way libgit2 would (other schemes, credentials in the URL, redirects, a
refused login, a dumb-HTTP server, a network or TLS failure), and the caller then asks
libgit2, which reports the cause precisely. HTTPS trusts the system's CAs plus the
Repository's own bundle, as :mod:`lanai.git.tls` does for libgit2; credentials go into
one request header and never into a message or a log line.
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

from lanai.git import network

if TYPE_CHECKING:
    from lanai.git.probe import RemoteAuth

logger = logging.getLogger(__name__)

TIMEOUT = 20.0
"""Seconds to wait for the server when libgit2's own timeout (:mod:`lanai.git.network`)
is not set; when it is, the same bound applies here, so a silent server costs the
configured timeout on this path as on libgit2's."""
_SERVICE = "git-upload-pack"
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


def _tls(auth: RemoteAuth | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if auth and auth.ca_bundle:
        context.load_verify_locations(cadata=auth.ca_bundle.decode())
    return context


def read(url: str, auth: RemoteAuth | None, timeout: float | None = None) -> Advertisement | None:
    """The advertisement of ``url``, or None when libgit2 should be asked instead."""
    if timeout is None:
        timeout = network.timeouts()[1] or TIMEOUT
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" in parts.netloc or not parts.hostname:
        return None
    path = f"{parts.path.rstrip('/')}/info/refs?service={_SERVICE}"
    connection: http.client.HTTPConnection
    try:
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=_tls(auth)
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            connection.request("GET", path, headers=_headers(auth))
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
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
