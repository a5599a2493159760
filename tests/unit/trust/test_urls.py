"""The Git URL and address rules, case by case (lanai.trust.urls)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from lanai.trust import urls

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://git.example.com/org/repo.git", ("https", "git.example.com", 443)),
        ("http://gitea.gitea.svc:3000/a/b.git", ("http", "gitea.gitea.svc", 3000)),
        ("https://Git.Example.COM/Org/Repo", ("https", "git.example.com", 443)),
        ("https://10.0.0.5/r", ("https", "10.0.0.5", 443)),
        ("http://[fd00::1]:8080/r.git", ("http", "fd00::1", 8080)),
        ("https://git_server/r", ("https", "git_server", 443)),
        ("https://host", ("https", "host", 443)),
        ("https://host/", ("https", "host", 443)),
        ("https://host/~user/a%20b.git", ("https", "host", 443)),
        ("http://127.0.0.1:8080/x.git", ("http", "127.0.0.1", 8080)),
    ],
)
def test_http_and_https_urls_are_allowed(url: str, origin: tuple[str, str, int]) -> None:
    assert urls.git_url(url) == urls.Origin(*origin)


REFUSED = [
    "file:///var/cache/lanai/0123abcd",
    "FILE:///etc",
    "/var/cache/lanai/0123abcd",
    "./relative/repo",
    "repo.git",
    "ext::sh -c id",
    "git://git.example.com/r.git",
    "ssh://git@git.example.com/r.git",
    "git@git.example.com:org/r.git",
    "git+ssh://git.example.com/r.git",
    "https://bob:hunter2@git.example.com/r.git",
    "https://bob@git.example.com/r.git",
    "https://:hunter2@git.example.com/r.git",
    "HTTPS://git.example.com/r.git",
    "https:///r.git",
    "https://",
    "https://git.example.com:0/r",
    "https://git.example.com:99999/r",
    "https://git.example.com:80abc/r",
    "https://git.example.com/r?service=x",
    "https://git.example.com/r#frag",
    "https://git.example.com/r x",
    "https://git.example.com/r\n",
    "https://git.example.com/r\x00",
    "https://git.example.com\\@evil.example/r",
    "https://evil.example\\.git.example.com/r",
    "http://[fe80::1%25eth0]/r",
    "https://[::1/r",
    "https://[zz]/r",
    "https://-host/r",
    "",
    "https://git.example.com/" + "a" * 2100,
]


@pytest.mark.parametrize("url", REFUSED)
def test_other_forms_are_refused_with_the_allowed_ones(url: str) -> None:
    with pytest.raises(urls.URLRefused) as refused:
        urls.git_url(url, "spec.git.repo")
    message = str(refused.value)
    assert message == f"spec.git.repo {urls.ALLOWED_FORMS}"
    assert "https:// or http://" in message
    assert "hunter2" not in message


def _rules(path: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(node.get("x-kubernetes-validations") or [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(path.read_text()))
    return found


@pytest.mark.parametrize(
    ("crd", "field"),
    [
        ("config.porch.kpt.dev_repositories.yaml", "spec.git.repo"),
        ("porch.kpt.dev_packagerevisions.yaml", "spec.source.cloneFrom.git.repo"),
    ],
)
def test_the_crds_carry_the_same_rule_and_message(crd: str, field: str) -> None:
    wanted = {"rule": f'self.matches(r"{urls.GIT_URL_PATTERN}")'}
    matching = [r for r in _rules(ROOT / "crds" / crd) if r.get("rule") == wanted["rule"]]
    assert [r["message"] for r in matching] == [f"{field} {urls.ALLOWED_FORMS}"]


DEFAULT = urls.AddressPolicy()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("2002:7f00:1::", "loopback"),  # 6to4
        ("169.254.169.254", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address to refuse, not to bind)
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
    ],
)
def test_local_and_metadata_addresses_are_refused_by_default(address: str, kind: str) -> None:
    with pytest.raises(urls.AddressRefused) as refused:
        DEFAULT.check(address, 443, ipaddress.ip_address(address))
    assert kind in str(refused.value)
    assert urls.ALLOW_FLAG in str(refused.value)


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "8.8.8.8", "2001:db8::1", "fd12::1"],
)
def test_private_and_public_addresses_are_allowed_by_default(address: str) -> None:
    DEFAULT.check("git.example.com", 443, ipaddress.ip_address(address))


def test_the_message_says_what_a_name_resolved_to() -> None:
    with pytest.raises(urls.AddressRefused) as refused:
        DEFAULT.check("git.evil.example", 443, ipaddress.ip_address("127.0.0.1"))
    assert str(refused.value).startswith(
        "git.evil.example resolves to 127.0.0.1, which is a loopback address; "
    )
    with pytest.raises(urls.AddressRefused) as literal:
        DEFAULT.check("::ffff:127.0.0.1", 443, ipaddress.ip_address("::ffff:127.0.0.1"))
    assert str(literal.value).startswith("::ffff:127.0.0.1 (that is 127.0.0.1) is a loopback")


def test_an_allowed_address_opens_that_address_only() -> None:
    policy = urls.AddressPolicy.allowing(["127.0.0.1"])
    policy.check("127.0.0.1", 8080, ipaddress.ip_address("127.0.0.1"))
    policy.check("::ffff:127.0.0.1", 8080, ipaddress.ip_address("::ffff:127.0.0.1"))
    for other in ("127.0.0.2", "::1", "169.254.169.254"):
        with pytest.raises(urls.AddressRefused):
            policy.check(other, 8080, ipaddress.ip_address(other))


def test_networks_and_names_can_be_allowed() -> None:
    policy = urls.AddressPolicy.allowing(["127.0.0.0/8", "Git.Local"])
    policy.check("127.0.0.2", 80, ipaddress.ip_address("127.0.0.2"))
    policy.check("git.local", 80, ipaddress.ip_address("169.254.1.1"))  # a name: any address
    with pytest.raises(urls.AddressRefused):
        policy.check("::1", 80, ipaddress.ip_address("::1"))
    with pytest.raises(urls.AddressRefused):
        policy.check("other.local", 80, ipaddress.ip_address("169.254.1.1"))


def test_the_api_server_is_refused_and_its_port_stays_refused_when_allowed() -> None:
    servers = [("10.96.0.1", 443)]
    policy = urls.AddressPolicy.allowing([], servers)
    for port, words in ((443, "is the Kubernetes API server (port 443)"), (80, "API server")):
        with pytest.raises(urls.AddressRefused) as refused:
            policy.check("10.96.0.1", port, ipaddress.ip_address("10.96.0.1"))
        assert words in str(refused.value)
    opened = urls.AddressPolicy.allowing(["10.96.0.0/12"], servers)
    opened.check("10.96.0.1", 80, ipaddress.ip_address("10.96.0.1"))
    with pytest.raises(urls.AddressRefused):
        opened.check("10.96.0.1", 443, ipaddress.ip_address("::ffff:10.96.0.1"))


def test_an_api_server_name_is_refused_by_name_and_by_its_addresses() -> None:
    resolved = {"api.example": [ipaddress.ip_address("10.0.0.9")]}
    policy = urls.AddressPolicy.allowing([], [("api.example", 6443)], resolved)
    with pytest.raises(urls.AddressRefused, match="Kubernetes API server"):
        policy.check_name("API.example")
    policy.check_name("git.example")
    with pytest.raises(urls.AddressRefused, match="Kubernetes API server"):
        policy.check("alias.example", 6443, ipaddress.ip_address("10.0.0.9"))


@pytest.mark.parametrize(
    ("server", "env", "found"),
    [
        ("https://127.0.0.1:6443", {}, [("127.0.0.1", 6443)]),
        ("https://Kubernetes.Default.svc", {}, [("kubernetes.default.svc", 443)]),
        ("https://[fd00::10]:6443", {}, [("fd00::10", 6443)]),
        (
            None,
            {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
            [("10.96.0.1", 443)],
        ),
        (
            "https://api:6443",
            {"KUBERNETES_SERVICE_HOST": "fd00::1"},
            [("api", 6443), ("fd00::1", 443)],
        ),
        (None, {}, []),
    ],
)
def test_api_servers_come_from_the_kubeconfig_and_the_pod(
    server: str | None, env: dict[str, str], found: list[tuple[str, int]]
) -> None:
    assert urls.api_servers(server, env) == found


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("127.0.0.1", ipaddress.ip_network("127.0.0.1/32")),
        ("[::1]", ipaddress.ip_network("::1/128")),
        ("::ffff:127.0.0.1", ipaddress.ip_network("127.0.0.1/32")),
        ("10.0.0.0/8", ipaddress.ip_network("10.0.0.0/8")),
        ("10.1.2.3/8", ipaddress.ip_network("10.0.0.0/8")),
        ("Gitea.Local", "gitea.local"),
    ],
)
def test_allowances_parse(entry: str, parsed: object) -> None:
    assert urls.parse_allowance(entry) == parsed


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not a host", "", "http://x", "a/b"])
def test_bad_allowances_are_refused_with_the_flag_named(entry: str) -> None:
    with pytest.raises(ValueError, match=urls.ALLOW_FLAG):
        urls.parse_allowance(entry)
