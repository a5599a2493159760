"""A push as one smart-HTTP request: every ref of a lifecycle move, atomically.

libgit2 pushes in three requests (the receive-pack ref advertisement, its 401 challenge,
then the POST) and cannot push atomically, so publishing took two pushes (the approval
commit on the branch, then the tag and the proposal branch's deletion) and a fetch before
them. Against ``git http-backend`` each request starts a Git process: a push cost ~23 ms,
an approval ~60 ms of Git alone.

Here a push is one ``POST <url>/git-receive-pack``: commands ``<old> <new> <ref>`` with
the old values Lanai's mirror holds, and a pack of the objects the remote lacks. The
server checks each old value under its ref lock, so a ref that moved since Lanai last
saw it is refused (compare-and-swap), and with the ``atomic`` capability either every
ref moves or none does. What the remote advertises for receive-pack is read once per
repository (:class:`Capabilities`); a server without ``atomic`` and ``report-status`` is
pushed to by libgit2, as before.

This is a fast path, never the only one: :func:`push` returns None for anything it does
not handle the way libgit2 would (redirects, an unanswerable challenge, an unexpected
answer, a network failure), and the caller then pushes with libgit2, which reports the
cause precisely. A push whose answer was lost may have landed: the refs libgit2 then
finds are checked against the expected old values, as for any push of libgit2's.

Connections and credentials as in :mod:`lanai.git.advert`: through
:mod:`lanai.git.egress`, credentials only once the repository has challenged.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import ssl
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lanai.git import advert, egress, network

if TYPE_CHECKING:
    from lanai.git.probe import RemoteAuth

logger = logging.getLogger(__name__)

SERVICE = egress.RECEIVE_PACK
ZERO = "0" * 40
NEEDED = frozenset({"atomic", "report-status"})
_RESULT_TYPE = f"application/x-{SERVICE}-result"
_ADVERT_TYPE = f"application/x-{SERVICE}-advertisement"
_AGENT = "agent=git/2.0-lanai"


@dataclass(frozen=True)
class Capabilities:
    """What the remote's receive-pack announced (``atomic``, ``report-status``, ...)."""

    names: frozenset[str]

    @property
    def usable(self) -> bool:
        return self.names >= NEEDED


@dataclass(frozen=True)
class Command:
    old: str
    """The value Lanai expects the remote ref to have (ZERO: must not exist)."""
    new: str
    """ZERO deletes the ref."""
    ref: str


class Failed(Exception):
    """The server answered, but not as smart HTTP receive-pack: let libgit2 push."""


def pkt_line(payload: bytes) -> bytes:
    return b"%04x" % (len(payload) + 4) + payload


def pack(objects: Iterable[tuple[int, bytes]]) -> bytes:
    """A version 2 pack of whole objects (``(type, raw content)``; no deltas)."""
    body = bytearray()
    count = 0
    for kind, data in objects:
        size = len(data)
        byte = (kind << 4) | (size & 0x0F)
        size >>= 4
        while size:
            body.append(byte | 0x80)
            byte = size & 0x7F
            size >>= 7
        body.append(byte)
        body += zlib.compress(data, 1)
        count += 1
    whole = b"PACK" + struct.pack(">II", 2, count) + bytes(body)
    return whole + hashlib.sha1(whole).digest()  # noqa: S324 (the pack format's checksum)


def request_body(commands: list[Command], objects: bytes | None) -> bytes:
    """The commands as pkt-lines (capabilities after the first), a flush, the pack.

    Git wants a pack whenever a command is not a deletion (an empty one if no object is
    new), and none when every command deletes."""
    lines = []
    for n, command in enumerate(commands):
        text = f"{command.old} {command.new} {command.ref}".encode()
        if n == 0:
            text += f"\0report-status atomic {_AGENT}".encode()
        lines.append(pkt_line(text + b"\n"))
    body = b"".join(lines) + b"0000"
    if any(c.new != ZERO for c in commands):
        body += objects if objects is not None else pack(())
    return body


def parse_result(body: bytes, refs: Iterable[str]) -> dict[str, str]:
    """The refs the server refused (ref → its reason) from a report-status answer.

    Raises :class:`Failed` when the answer is not a complete report for ``refs``."""
    lines: list[str] = []
    pos = 0
    while pos + 4 <= len(body):
        size = int(body[pos : pos + 4], 16)
        if size == 0:
            pos += 4
            break
        if size < 4 or pos + size > len(body):
            raise Failed("the push answer ends inside a pkt-line")
        lines.append(body[pos + 4 : pos + size].decode("utf-8", "replace").rstrip("\n"))
        pos += size
    if not lines or not lines[0].startswith("unpack "):
        raise Failed("the push answer has no unpack status")
    unpacked = lines[0].removeprefix("unpack ")
    rejected: dict[str, str] = {}
    reported: set[str] = set()
    for line in lines[1:]:
        verdict, _, rest = line.partition(" ")
        ref, _, reason = rest.partition(" ")
        if verdict == "ok":
            reported.add(ref)
        elif verdict == "ng":
            reported.add(ref)
            rejected[ref] = reason or "rejected"
    wanted = set(refs)
    if unpacked != "ok":
        return dict.fromkeys(wanted, f"the server could not unpack: {unpacked}")
    if not wanted <= reported:
        raise Failed("the push answer does not report every ref")
    return rejected


def capabilities(
    guard: egress.Egress, url: str, auth: RemoteAuth | None, timeout: float | None = None
) -> Capabilities | None:
    """What the remote's receive-pack announces, or None (then libgit2 pushes)."""
    path = f"{urlsplit(url).path.rstrip('/')}/info/refs?service={SERVICE}"
    try:
        status, content_type, body = _exchange(guard, url, auth, "GET", path, None, timeout)
    except Failed as error:
        logger.debug("receive-pack advertisement: %s; pushing with libgit2", error)
        return None
    if status != 200 or content_type != _ADVERT_TYPE:
        return None
    head = f"# service={SERVICE}\n".encode()
    if not body.startswith(pkt_line(head)):
        return None
    first = body[len(pkt_line(head)) :]
    if first.startswith(b"0000"):
        first = first[4:]
    if len(first) < 4:
        return None
    line = first[4 : int(first[:4], 16)]
    _refs, _nul, names = line.partition(b"\0")
    return Capabilities(frozenset(names.decode("utf-8", "replace").split()))


def push(
    guard: egress.Egress,
    url: str,
    auth: RemoteAuth | None,
    commands: list[Command],
    objects: bytes | None,
    timeout: float | None = None,
) -> dict[str, str] | None:
    """Send ``commands`` and the pack ``objects`` in one request: the refs refused
    (ref → reason; all of them when one is, the push being atomic), or None when the
    answer was not one this module understands (libgit2 should push instead).

    Raises :class:`egress.Refused` for a URL or an address Lanai does not connect to."""
    path = f"{urlsplit(url).path.rstrip('/')}/{SERVICE}"
    body = request_body(commands, objects)
    try:
        status, content_type, answer = _exchange(guard, url, auth, "POST", path, body, timeout)
        if status != 200 or content_type != _RESULT_TYPE:
            raise Failed(f"HTTP {status} {content_type}")
        return parse_result(answer, (c.ref for c in commands))
    except Failed as error:
        logger.debug("push by one request: %s; pushing with libgit2", error)
        return None


def _exchange(
    guard: egress.Egress,
    url: str,
    auth: RemoteAuth | None,
    method: str,
    path: str,
    body: bytes | None,
    timeout: float | None,
) -> tuple[int, str, bytes]:
    """One request (answering one challenge on the same connection): status, content
    type, body. :class:`Failed` for a network or protocol failure; the error's text is
    left out (some quote what was sent)."""
    if timeout is None:
        timeout = network.timeouts()[1] or advert.TIMEOUT
    operation = guard.operation(url)
    has_credentials = advert._has_credentials(auth)
    send = has_credentials and guard.challenges.asked(url, SERVICE)
    connection: http.client.HTTPConnection
    try:
        if operation.origin.scheme == "https":
            connection = advert._TLSConnection(operation, timeout, advert._tls(auth))
        else:
            connection = advert._Connection(operation, timeout)
        try:
            status, content_type, answer, challenged = _send(
                connection, method, path, body, auth if send else None
            )
            if status == 401 and not send and has_credentials:
                if not challenged:
                    raise Failed("HTTP 401 without a challenge")
                guard.challenges.remember(url, SERVICE)
                status, content_type, answer, _ = _send(connection, method, path, body, auth)
        finally:
            connection.close()
    except egress.Refused:
        raise
    except (OSError, http.client.HTTPException, ssl.SSLError, ValueError) as error:
        raise Failed(f"the request failed ({type(error).__name__})") from None
    if 300 <= status < 400:
        raise Failed(f"HTTP {status} (a redirect)")
    return status, content_type, answer


def _send(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    auth: RemoteAuth | None,
) -> tuple[int, str, bytes, bool]:
    headers = advert._headers(auth)
    if body is not None:
        headers["Content-Type"] = f"application/x-{SERVICE}-request"
        headers["Accept"] = _RESULT_TYPE
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    content_type = response.getheader("Content-Type", "").split(";")[0].strip()
    if response.status == 200 and content_type == _RESULT_TYPE:
        answer = _report(response)
    else:
        answer = response.read(MAX_ANSWER)
    return response.status, content_type, answer, bool(response.getheader("WWW-Authenticate"))


MAX_ANSWER = 1 << 20
"""Bytes of an answer read at most: a report names a few refs; anything longer is not one."""


def _report(response: http.client.HTTPResponse) -> bytes:
    """A push's answer up to the end of its report (the flush-pkt after the ref lines).

    The report is complete once the refs are updated; what the server does after it
    (``git gc --auto`` and the end of the CGI, ~10-20 ms on ``git http-backend``) is not
    waited for: the connection is closed. Everything, if the answer ends first."""
    answer = b""
    while len(answer) < MAX_ANSWER:
        piece = response.read1(65536)
        if not piece:
            break
        answer += piece
        if _ends_report(answer):
            break
    return answer


def _ends_report(data: bytes) -> bool:
    """``data`` holds pkt-lines up to and including a flush-pkt."""
    pos = 0
    while pos + 4 <= len(data):
        try:
            size = int(data[pos : pos + 4], 16)
        except ValueError:
            return False
        if size == 0:
            return True
        if size < 4:
            return False
        pos += size
    return False


def expected_old(refs: Mapping[str, str], name: str, guarded: Mapping[str, str | None]) -> str:
    """The old value to send for ``name``: the guarded one if given, else the mirror's."""
    if name in guarded:
        return guarded[name] or ZERO
    return refs.get(name) or ZERO
