"""Trusting a Repository's own CA for Git over HTTPS, and no other Repository's.

libgit2 verifies servers against one process-wide OpenSSL store: pygit2's
``settings.set_ssl_cert_locations`` only ever *adds* to it, so a CA configured for one
Repository would be trusted for every Repository in every namespace, and no lock around
the call can scope it. libgit2 also calls a certificate callback on every TLS
connection with the server's certificate, but pygit2 passes ``None`` to Python instead.

So this module re-binds pygit2's C-level certificate callback once: the DER
certificate reaches ``RemoteCallbacks.certificate_check`` as bytes. Callbacks that opt
in (``wants_certificate``) verify it themselves with :func:`verify`, against their
Repository's bundle only (chain and host name, by ``cryptography``'s X.509 verifier);
every other callback sees exactly what pygit2 gives it (``None``, same pass-through).
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

import pygit2
from cryptography import x509
from cryptography.x509 import verification

# The WebPKI profile, except that key identifiers may be missing: OpenSSL (hence git and
# libgit2) accepts private CAs without them, and many in-house CAs omit them.
_AGNOSTIC = verification.Criticality.AGNOSTIC
_EE_POLICY = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.AuthorityKeyIdentifier, _AGNOSTIC, None
)
_CA_POLICY = (
    verification.ExtensionPolicy.webpki_defaults_ca()
    .may_be_present(x509.AuthorityKeyIdentifier, _AGNOSTIC, None)
    .may_be_present(x509.SubjectKeyIdentifier, _AGNOSTIC, None)
)
_installed = False
_install_lock = threading.Lock()


class CertificateError(Exception):
    """The server's certificate is not trusted; the message says why and what to do."""


def load_bundle(pem: bytes) -> list[x509.Certificate]:
    """Certificates of a PEM bundle; a clear error for anything else."""
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise CertificateError("the CA bundle (ca.crt) is not PEM-encoded certificates") from None
    return certificates


def verify(der: bytes, host: str, bundle: list[x509.Certificate]) -> None:
    """Raise :class:`CertificateError` unless ``der`` is valid for ``host`` under ``bundle``."""
    try:
        leaf = x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertificateError(f"{host} sent a certificate that cannot be parsed") from None
    subject: x509.GeneralName
    try:
        subject = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        subject = x509.DNSName(host)
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(bundle))
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_server_verifier(subject)
    )
    try:
        # libgit2 hands over the leaf alone; intermediates come from the bundle.
        verifier.verify(leaf, bundle)
    except verification.VerificationError as error:
        raise CertificateError(
            f"the certificate of {host} is not trusted by the Repository's CA bundle: {error}"
        ) from None


def install() -> None:
    """Route libgit2's certificate callback through :func:`_certificate_check` (once)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        ffi: Any = pygit2.ffi
        try:
            ffi.def_extern(name="_certificate_check_cb")(_certificate_check)
        except Exception as error:  # a pygit2 whose callbacks are shaped differently
            raise CertificateError(
                "this pygit2 cannot check certificates per "
                f"Repository, so the CA bundle cannot be used: {error}"
            ) from None
        _installed = True


def _certificate_check(cert: Any, valid: int, host: Any, handle: Any) -> int:
    """pygit2's own callback, plus the DER certificate for callbacks that ask for it."""
    C: Any = pygit2.C
    ffi: Any = pygit2.ffi
    callbacks = ffi.from_handle(handle)
    try:
        is_ssh = cert.cert_type == C.GIT_CERT_HOSTKEY_LIBSSH2
        certificate = None
        if getattr(callbacks, "wants_certificate", False) and cert.cert_type == C.GIT_CERT_X509:
            x509_cert = ffi.cast("git_cert_x509 *", cert)
            certificate = bytes(ffi.buffer(x509_cert.data, x509_cert.len))
        accepted = callbacks.certificate_check(certificate, bool(valid), ffi.string(host))
        return 0 if accepted else int(C.GIT_ECERTIFICATE)
    except pygit2.errors.Passthrough:
        return 0 if is_ssh or valid else int(C.GIT_ECERTIFICATE)
    except BaseException as error:  # re-raised by pygit2 once the operation returns
        callbacks._stored_exception = error
        return int(C.GIT_EUSER)
