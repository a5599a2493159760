"""Which Git URLs a request may name, and which addresses the operator may connect to.

Whoever writes a Repository or a PackageRevision chooses a URL, and the operator goes
there with its own network position: inside the cluster, next to the API server, the
node's loopback and the cloud's metadata service. Two rules keep that from reaching
further than the writer could reach themselves:

- **URL form** (:func:`git_url`): only ``https://`` and ``http://`` URLs with a host, no
  credentials inside. ``file://`` and bare paths would read the operator's own disk
  (other namespaces' mirrors among it); ``ext::`` runs commands; ``git://`` has no
  authentication or TLS; ssh needs key Secrets and host-key pinning that Lanai does not
  have, and libssh2 opens its own sockets, out of reach of the address check below. The
  CRDs' CEL rules carry the same pattern (:data:`GIT_URL_PATTERN`), so the API server
  refuses these before the operator sees them.
- **Addresses** (:class:`AddressPolicy`): at connect time, on the address actually
  connected to, never loopback, link-local (169.254/16 holds the cloud metadata
  service), unspecified, multicast, known metadata addresses, nor the API server's own
  addresses. Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) stay allowed: Git
  servers inside the cluster (Gitea, GitLab) live there, and refusing them would break
  the most common install. IPv4 addresses wrapped in IPv6 (mapped, compatible, NAT64,
  6to4) are judged by the IPv4 address inside. An operator flag adds allowed hosts or
  networks; the API server's own port stays refused even then.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048

GIT_URL_PATTERN = (
    r"^https?://"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?)"
    r"(:[0-9]{1,5})?"
    r"(/[^\x00-\x20\x7f#?\\]*)?$"
)
"""What a Git URL must look like: scheme, host (name, IPv4 or bracketed IPv6), optional
port, optional path; no credentials, query, fragment, space or control character.
The same text is the CEL rule of the Repository and PackageRevision CRDs (RE2 and
Python's ``re`` read it alike); a unit test keeps them equal."""

ALLOWED_FORMS = (
    "must be an https:// or http:// URL such as https://git.example.com/org/repo.git, "
    "without credentials, query or fragment (put credentials in a Secret named by "
    "secretRef); file://, local paths, ssh://, user@host:path, git://, ext:: and other "
    "transports are not allowed"
)
"""The message for a refused URL form, word for word the CRDs' CEL message."""

DEFAULT_PORTS = {"https": 443, "http": 80}

_URL = re.compile(GIT_URL_PATTERN)
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")


class URLRefused(ValueError):
    """A URL the operator will not use; the message says which forms are allowed."""


class AddressRefused(ValueError):
    """An address the operator will not connect to; the message says why and what to do."""


@dataclass(frozen=True, order=True)
class Origin:
    """Scheme, host and port: where credentials may go and redirects may lead."""

    scheme: str
    host: str
    """Lowercase; an IPv6 literal without its brackets."""
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def address(self) -> IPAddress | None:
        """The host as an IP address, when it is one (no DNS needed)."""
        return literal(self.host)


def git_url(url: str, field_name: str = "the Git URL") -> Origin:
    """The origin of an allowed Git URL; :class:`URLRefused` for any other string.

    The message names the field, never the URL (it may hold credentials)."""
    refused = URLRefused(f"{field_name} {ALLOWED_FORMS}")
    if len(url) > MAX_URL_LENGTH or not _URL.fullmatch(url):
        raise refused
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise refused from None
    host = (parts.hostname or "").lower()
    if not host or port == 0:
        raise refused
    if ":" in host and literal(host) is None:  # brackets with something else than IPv6
        raise refused
    return Origin(parts.scheme, host, port or DEFAULT_PORTS[parts.scheme])


def literal(host: str) -> IPAddress | None:
    """``host`` as an IP address (brackets allowed), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def normalise(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), else it.

    ``::ffff:127.0.0.1`` reaches 127.0.0.1 on a dual-stack socket, so it is judged as that.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = int(address)
    if address in _COMPATIBLE and packed > 1:
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if address in _NAT64:
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return address


_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

_DENIED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), kind)
    for net, kind in (
        ("127.0.0.0/8", "a loopback address"),
        ("::1/128", "a loopback address"),
        ("169.254.0.0/16", "a link-local address (where cloud metadata services live)"),
        ("fe80::/10", "a link-local address"),
        ("0.0.0.0/8", "an unspecified address"),
        ("::/128", "an unspecified address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "a broadcast address"),
        ("ff00::/8", "a multicast address"),
        ("fd00:ec2::254/128", "a cloud metadata address"),
        ("100.100.100.200/32", "a cloud metadata address"),
    )
)
"""Never connected to unless an operator allows them (``--allow-git-host``)."""

ALLOW_FLAG = "--allow-git-host"


def parse_allowance(entry: str) -> str | IPNetwork:
    """One ``--allow-git-host`` value: a host name, an IP address or a CIDR network."""
    text = entry.strip().lower()
    address = literal(text)
    if address is not None:
        return ipaddress.ip_network(normalise(address))
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{ALLOW_FLAG} {entry!r} is not a valid CIDR network") from None
        return network
    if not _HOST_NAME.match(text):
        raise ValueError(
            f"{ALLOW_FLAG} {entry!r} must be a host name, an IP address or a CIDR network"
        )
    return text


@dataclass(frozen=True)
class AddressPolicy:
    """Where the operator may connect for Git. The default refuses what :data:`_DENIED`
    lists and the API server's addresses; everything else (private ranges included) is
    allowed."""

    allowed_hosts: frozenset[str] = frozenset()
    """Host names allowed whatever they resolve to (an operator's explicit choice)."""
    allowed_networks: tuple[IPNetwork, ...] = ()
    api_server_hosts: frozenset[str] = frozenset()
    """Names of the API server (from the kubeconfig): refused by name as well."""
    api_server_endpoints: frozenset[tuple[IPAddress, int]] = field(default_factory=frozenset)
    """The API server's (address, port) pairs: the address is refused unless allowed,
    the port on it always."""

    @classmethod
    def allowing(
        cls,
        entries: Iterable[str] = (),
        api_servers: Iterable[tuple[str, int]] = (),
        resolved: Mapping[str, Iterable[IPAddress]] | None = None,
    ) -> AddressPolicy:
        """A policy from ``--allow-git-host`` values and the API server's (host, port)s;
        ``resolved`` gives the addresses of API server hosts that are names."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            parsed = parse_allowance(entry)
            if isinstance(parsed, str):
                hosts.add(parsed)
            else:
                networks.append(parsed)
        names: set[str] = set()
        endpoints: set[tuple[IPAddress, int]] = set()
        for host, port in api_servers:
            address = literal(host)
            if address is not None:
                endpoints.add((normalise(address), port))
                continue
            names.add(host.lower())
            for found in (resolved or {}).get(host, ()):
                endpoints.add((normalise(found), port))
        return cls(frozenset(hosts), tuple(networks), frozenset(names), frozenset(endpoints))

    def allows_name(self, host: str) -> bool:
        """Allowed by name: its addresses are not checked against the denied ranges."""
        return host.lower() in self.allowed_hosts

    def check_name(self, host: str) -> None:
        """Refuse the API server's own names before resolving anything."""
        if host.lower() in self.api_server_hosts and not self.allows_name(host):
            raise AddressRefused(
                f"{host} is the Kubernetes API server, which Lanai does not connect to for Git"
            )

    def check(self, host: str, port: int, address: IPAddress) -> None:
        """Raise :class:`AddressRefused` unless connecting to ``address:port`` for ``host``
        is allowed."""
        judged = normalise(address)
        given = literal(host)
        if given is None:
            subject = f"{host} resolves to {judged}, which"
        else:
            subject = str(judged) if given == judged else f"{host} (that is {judged})"
        if (judged, port) in self.api_server_endpoints:
            raise AddressRefused(
                f"{subject} is the Kubernetes API server (port {port}); Lanai never "
                "connects to it for Git"
            )
        if self.allows_name(host) or any(judged in net for net in self.allowed_networks):
            return
        kind = self._denied_kind(judged)
        if kind:
            raise AddressRefused(
                f"{subject} is {kind}; Lanai does not connect to such addresses for Git "
                f"unless the operator allows them ({ALLOW_FLAG} HOST|CIDR)"
            )

    def _denied_kind(self, address: IPAddress) -> str:
        for network, kind in _DENIED:
            if address.version == network.version and address in network:
                return kind
        if any(address == server for server, _port in self.api_server_endpoints):
            return "an address of the Kubernetes API server"
        return ""


def api_servers(server_url: str | None, env: Mapping[str, str]) -> list[tuple[str, int]]:
    """The API server's (host, port)s: the kubeconfig's ``server`` and, in a pod,
    ``KUBERNETES_SERVICE_HOST``/``_PORT``."""
    found: list[tuple[str, int]] = []
    if server_url:
        parts = urlsplit(server_url)
        if parts.hostname:
            try:
                port = parts.port
            except ValueError:
                port = None
            found.append((parts.hostname.lower(), port or DEFAULT_PORTS.get(parts.scheme, 443)))
    host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    if host:
        text = env.get("KUBERNETES_SERVICE_PORT", "").strip()
        found.append((host.strip("[]").lower(), int(text) if text.isdigit() else 443))
    return found
