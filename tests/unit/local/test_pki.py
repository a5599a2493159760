"""Minted certificates carry the identity Kubernetes reads: CN = user, O = groups."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lanai.local import pki


def test_client_certificate_names_user_and_groups() -> None:
    ca = pki.CertificateAuthority()
    pair = ca.client("system:serviceaccount:lanai-system:lanai", ["system:serviceaccounts"])
    cert = x509.load_pem_x509_certificate(pair.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "system:serviceaccount:lanai-system:lanai"
    )
    groups = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert groups == ["system:serviceaccounts"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    cert.verify_directly_issued_by(ca_cert)


def test_serving_certificate_covers_ips_and_names() -> None:
    pair = pki.CertificateAuthority().serving("api", ["127.0.0.1", "localhost"])
    cert = x509.load_pem_x509_certificate(pair.cert_pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
