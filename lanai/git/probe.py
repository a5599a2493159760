"""Can we reach a remote and does its branch exist? One ls-remote, nothing stored.

Used to report a Repository's reachability precisely (unreachable host, rejected
credentials, missing branch) before any mirror exists. Credentials go to libgit2 only;
messages never contain them.
"""

from __future__ import annotations

import re
import tempfile
import threading
from dataclasses import dataclass

import pygit2

from lanai.git import advert

_scratch_lock = threading.Lock()
_scratch: pygit2.Repository | None = None


@dataclass(frozen=True)
class RemoteAuth:
    """Basic credentials or a bearer token, and a CA bundle, from the Repository's Secrets."""

    username: str = ""
    password: str = ""
    bearer_token: str = ""
    ca_bundle: bytes = b""
    """PEM certificates trusted for this remote's HTTPS, besides the system's."""

    def __repr__(self) -> str:  # never show credentials, even in debug output
        kind = "bearer" if self.bearer_token else "basic" if self.username else "none"
        return f"RemoteAuth(<{kind}>)"


CERTIFICATE_INVALID = "CertificateInvalid"


class ProbeError(Exception):
    """The remote could not be listed; ``reason`` is a short machine-readable cause."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Callbacks(pygit2.RemoteCallbacks):
    def __init__(self, auth: RemoteAuth | None) -> None:
        super().__init__()
        self._auth = auth
        self._attempts = 0
        self._bundle = None
        if auth and auth.ca_bundle:
            from lanai.git import tls  # cryptography (~7 MiB) only for Repositories with a CA

            try:
                self._bundle = tls.load_bundle(auth.ca_bundle)
                tls.install()
            except tls.CertificateError as error:
                raise ProbeError(CERTIFICATE_INVALID, str(error)) from None
        self.wants_certificate = self._bundle is not None

    def certificate_check(self, certificate: bytes | None, valid: bool, host: bytes) -> bool:
        """The system's trust, or else this Repository's CA bundle (as Porch's caBundle)."""
        if self._bundle is None or valid:
            raise pygit2.errors.Passthrough
        name = host.decode() if isinstance(host, bytes) else str(host)
        if certificate is None:
            raise ProbeError(CERTIFICATE_INVALID, f"the certificate of {name} was not available")
        from lanai.git import tls

        try:
            tls.verify(certificate, name, self._bundle)
        except tls.CertificateError as error:
            raise ProbeError(CERTIFICATE_INVALID, str(error)) from None
        return True

    def credentials(
        self, url: str, username_from_url: str | None, allowed_types: pygit2.enums.CredentialType
    ) -> pygit2.UserPass:
        self._attempts += 1
        if self._attempts > 1 or not self._auth or not self._auth.username:
            # libgit2 asks again after a 401; a second answer would only loop.
            raise ProbeError(
                "AuthenticationFailed",
                "authentication failed: the Git server rejected the credentials",
            )
        return pygit2.UserPass(self._auth.username, self._auth.password)

    def custom_headers(self) -> list[str] | None:
        if self._auth and self._auth.bearer_token:
            return [f"Authorization: Bearer {self._auth.bearer_token}"]
        return None


def classify(message: str) -> tuple[str, str]:
    """(reason, message) for a libgit2 error text that has been redacted already."""
    lowered = message.lower()
    # Before "auth": "certificate authority" would read as a credentials problem.
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return CERTIFICATE_INVALID, (
            f"the server's TLS certificate is not trusted: {message}; put the CA that signed "
            'it in the "ca.crt" key of the Repository\'s Secret (or of the Secret '
            '"<namespace>-ca-bundle")'
        )
    if "timed out" in lowered:
        return "Timeout", f"the Git server did not answer in time: {message}"
    if "401" in message or "auth" in lowered or "credentials" in lowered:
        return "AuthenticationFailed", f"authentication failed: {message}"
    if "404" in message or "not found" in lowered or "does not exist" in lowered:
        return "NotFound", f"repository not found: {message}"
    return "Unreachable", f"cannot reach the repository: {message}"


def redact(text: str) -> str:
    """Remove userinfo from URLs (``https://user:pass@host`` → ``https://host``)."""
    return re.sub(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", r"\g<scheme>", text)


def _scratch_repository() -> pygit2.Repository:
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = pygit2.init_repository(tempfile.mkdtemp(prefix="lanai-probe-"), bare=True)
        return _scratch


def list_branches(url: str, auth: RemoteAuth | None) -> dict[str, str]:
    """``refs/heads/<name>`` → commit id of every branch on the remote."""
    fast = advert.read(url, auth)
    if fast is not None:
        return fast.branches()
    remote = _scratch_repository().remotes.create_anonymous(url)
    try:
        heads = remote.list_heads(callbacks=_Callbacks(auth))
    except ProbeError:
        raise
    except (pygit2.GitError, KeyError, OSError) as error:
        raise ProbeError(*classify(redact(str(error)))) from None
    return {
        head.name: str(head.oid)
        for head in heads
        if head.name and head.name.startswith("refs/heads/")
    }
