"""Git over HTTPS with a CA no system trusts: the Repository's CA bundle decides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.git import advert, probe, storage
from lanai.local import gitserver, pki
from tests.support import guards

GUARD = guards.local()
USER, PASSWORD = "bot", "tls-pass-1"


@pytest.fixture(scope="module")
def ca() -> pki.CertificateAuthority:
    return pki.CertificateAuthority("lanai-test-git-ca")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, ca: pki.CertificateAuthority
) -> Iterator[gitserver.GitServer]:
    srv = gitserver.GitServer(
        tmp_path_factory.mktemp("git"),
        gitserver.Credentials(users={USER: PASSWORD}),
        certificate=ca.serving("git.test", ["127.0.0.1", "localhost"]),
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def url(server: gitserver.GitServer) -> str:
    assert server.url.startswith("https://")
    return server.create_repository("secure")


def _fetch(url: str, tmp: Path, ca_bundle: bytes = b"") -> storage.GitStorage:
    auth = probe.RemoteAuth(USER, PASSWORD, ca_bundle=ca_bundle)
    git = storage.GitStorage(url, "main", "", tmp / "mirror", auth, guard=GUARD)
    git.fetch()
    return git


def test_fetch_and_push_over_https_with_the_ca_bundle(
    url: str, tmp_path: Path, ca: pki.CertificateAuthority
) -> None:
    git = _fetch(url, tmp_path, ca.cert_pem)
    assert git.head()
    kptfile = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: p\n"
    git.create_draft("p", "ws", {"Kptfile": kptfile}, {}, storage.Signature("A", "a@x"))
    assert probe.list_branches(GUARD, url, probe.RemoteAuth(USER, PASSWORD, ca_bundle=ca.cert_pem))


def test_without_the_bundle_the_certificate_is_refused_clearly(url: str, tmp_path: Path) -> None:
    with pytest.raises(storage.RemoteError) as caught:
        _fetch(url, tmp_path)
    assert caught.value.reason == "CertificateInvalid"
    assert "certificate" in str(caught.value)
    assert "ca.crt" in str(caught.value)
    with pytest.raises(probe.ProbeError) as probed:
        probe.list_branches(GUARD, url, probe.RemoteAuth(USER, PASSWORD))
    assert probed.value.reason == "CertificateInvalid"


def test_another_repositorys_ca_is_not_trusted(url: str, tmp_path: Path) -> None:
    other = pki.CertificateAuthority("someone-else")
    with pytest.raises(storage.RemoteError) as caught:
        _fetch(url, tmp_path, other.cert_pem)
    assert caught.value.reason == "CertificateInvalid"
    assert "not trusted by the Repository's CA bundle" in str(caught.value)


def test_a_broken_bundle_is_reported(url: str, tmp_path: Path) -> None:
    with pytest.raises(storage.RemoteError) as caught:
        _fetch(url, tmp_path, b"not a certificate")
    assert caught.value.reason == "CertificateInvalid"
    assert "PEM" in str(caught.value)


def test_credentials_never_appear_in_certificate_errors(url: str, tmp_path: Path) -> None:
    with pytest.raises(storage.RemoteError) as caught:
        _fetch(url, tmp_path)
    assert PASSWORD not in str(caught.value)


def test_the_fast_ref_advertisement_trusts_the_bundle_and_nothing_else(
    url: str, ca: pki.CertificateAuthority
) -> None:
    assert (
        advert.read(GUARD, url, probe.RemoteAuth(USER, PASSWORD, ca_bundle=ca.cert_pem)) is not None
    )
    other = pki.CertificateAuthority("someone-else")
    assert (
        advert.read(GUARD, url, probe.RemoteAuth(USER, PASSWORD, ca_bundle=other.cert_pem)) is None
    )
    assert advert.read(GUARD, url, probe.RemoteAuth(USER, PASSWORD)) is None
    assert advert.read(GUARD, url, probe.RemoteAuth(USER, PASSWORD, ca_bundle=b"\xffjunk")) is None
