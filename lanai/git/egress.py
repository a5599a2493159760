"""Every connection to a Git server, made by the code that checked where it goes.

A check on a host name proves nothing about where a socket ends up: DNS may answer
differently a moment later (rebinding), and a server may redirect anywhere. So Lanai
resolves the name itself, judges every address with :mod:`lanai.trust.urls`, and
connects to exactly the addresses it judged. Both ways Lanai talks to Git go through
:meth:`Operation.connect`: its own requests (:mod:`lanai.git.advert`) and libgit2's,
whose sockets :mod:`lanai.git.sockets` makes.

An :class:`Operation` is bound to the origin (scheme, host, port) of the URL it is for.
A connection anywhere else can only come from a redirect, and is refused before a byte
is sent: credentials never follow a redirect to another host.

:class:`Challenges` remembers which repositories asked for credentials, so credentials
go only in answer to a challenge and a no-op sync still costs one request.
"""

from __future__ import annotations

import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from lanai.trust import urls

UPLOAD_PACK = "git-upload-pack"
"""The service that fetches and lists refs."""
RECEIVE_PACK = "git-receive-pack"
"""The service that pushes (servers often let anyone fetch but challenge a push)."""


class Refused(Exception):
    """The operator will not connect there; the message says why and what to do."""

    reason = "Forbidden"


class Challenges:
    """(repository URL, service) pairs whose server asked for credentials.

    Kept per repository URL, not per host: a host with public and private repositories
    (GitHub, Gitea) gets credentials only for the ones that asked. Bounded: the oldest
    entries go first, and a forgotten one costs one extra round trip."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def asked(self, url: str, service: str) -> bool:
        with self._lock:
            return (url.rstrip("/"), service) in self._seen

    def remember(self, url: str, service: str) -> None:
        key = (url.rstrip("/"), service)
        with self._lock:
            self._seen[key] = None
            self._seen.move_to_end(key)
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)


@dataclass
class Operation:
    """One exchange with one Git server: connections go to its origin or nowhere."""

    url: str
    origin: urls.Origin
    policy: urls.AddressPolicy
    refusal: str = ""
    """Why a connection was refused (the user's message), once one was."""
    connections: int = 0

    def connect(self, host: str, port: int, timeout: float | None) -> socket.socket:
        """A connected socket to an allowed address of ``host:port``, which must be
        this operation's own host and port."""
        host = host.strip("[]").lower()
        if (host, port) != (self.origin.host, self.origin.port):
            return self._refuse(
                f"the Git server redirected to another server ({_hostport(host, port)}); "
                "Lanai follows redirects only within the same host and port, and never "
                "sends credentials elsewhere: use the address it redirects to"
            )
        try:
            sock = dial(self.policy, host, port, timeout)
        except Refused as error:
            return self._refuse(str(error))
        self.connections += 1
        return sock

    def same_origin(self, url: str) -> bool:
        try:
            origin = urls.git_url(url)
        except urls.URLRefused:
            return False
        return (origin.host, origin.port) == (self.origin.host, self.origin.port)

    def _refuse(self, message: str) -> socket.socket:
        self.refusal = self.refusal or message
        raise Refused(message)


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve(host: str, port: int) -> list[tuple[socket.AddressFamily, urls.IPAddress]]:
    """The addresses to try for ``host``, in the resolver's order; none looked up for an
    IP literal."""
    address = urls.literal(host)
    if address is not None:
        family = socket.AF_INET if address.version == 4 else socket.AF_INET6
        return [(family, address)]
    found: list[tuple[socket.AddressFamily, urls.IPAddress]] = []
    for family, _type, _proto, _name, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    ):
        address = urls.literal(str(sockaddr[0]).split("%", 1)[0])
        if address is not None and (family, address) not in found:
            found.append((family, address))
    return found


def dial(policy: urls.AddressPolicy, host: str, port: int, timeout: float | None) -> socket.socket:
    """Resolve ``host``, judge every address, connect to the first that answers.

    Any forbidden address refuses the whole host: a name that resolves to both a public
    and a loopback address is not one Lanai wants to guess about.
    """
    try:
        policy.check_name(host)
        try:
            candidates = resolve(host, port)
        except OSError as error:
            raise OSError(f"failed to resolve address for {host}: {error.strerror}") from None
        for _family, address in candidates:
            policy.check(host, port, address)
    except urls.AddressRefused as error:
        raise Refused(str(error)) from None
    last: OSError = OSError(f"failed to resolve address for {host}: no address")
    for family, address in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((str(address), port))
        except OSError as error:
            sock.close()
            if isinstance(error, TimeoutError):
                last = TimeoutError(f"failed to connect to {host}: timed out")
            else:
                last = OSError(f"failed to connect to {host}: {error.strerror or error}")
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last


@dataclass
class Egress:
    """Where Git connections may go, and what servers asked: built once at startup,
    handed to everything that talks to Git."""

    policy: urls.AddressPolicy = field(default_factory=urls.AddressPolicy)
    challenges: Challenges = field(default_factory=Challenges)

    def operation(self, url: str) -> Operation:
        """An operation on ``url``; :class:`Refused` for a URL Lanai does not use."""
        try:
            origin = urls.git_url(url)
        except urls.URLRefused as error:
            raise Refused(str(error)) from None
        return Operation(url, origin, self.policy)
