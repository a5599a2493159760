"""Can we reach a remote and does its branch exist? One ls-remote, nothing stored.

Used to report a Repository's reachability precisely (unreachable host, rejected
credentials, missing branch) before any mirror exists. Credentials go to libgit2 only;
messages never contain them.

Also the one way Lanai runs a libgit2 network call (:func:`run`): its connections
checked by :mod:`lanai.git.egress`, and credentials only in answer to the server's
challenge. libgit2 asks the credentials callback only after a 401, which is right for
basic auth; a bearer token can only go as a header on every request, so it is sent
only to a repository that has challenged before, and a first challenge makes the call
start again with it.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pygit2

from lanai.git import advert, egress, sockets

T = TypeVar("T")

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
FORBIDDEN = egress.Refused.reason
_UNSUPPORTED_CHALLENGE = "server requires authentication that we do not support"
"""libgit2's words for a 401 whose challenge it cannot answer (e.g. only ``Bearer``)."""


class ProbeError(Exception):
    """The remote could not be listed; ``reason`` is a short machine-readable cause."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Challenged(Exception):
    """The server asked for credentials that only a header can carry: start again."""


@dataclass(frozen=True)
class Access:
    """What one libgit2 call may do: connect for ``operation``, send the bearer header."""

    operation: egress.Operation | None = None
    bearer: bool = False


class _Callbacks(pygit2.RemoteCallbacks):
    def __init__(self, auth: RemoteAuth | None, access: Access | None = None) -> None:
        super().__init__()
        self._auth = auth
        self._access = access or Access()
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
        """Called by libgit2 only after a 401 challenge from ``url``."""
        self._attempts += 1
        operation = self._access.operation
        if operation is not None and not operation.same_origin(url):
            raise ProbeError(FORBIDDEN, "the Git server asked for credentials for another host")
        if self._auth and self._auth.bearer_token and not self._access.bearer:
            raise _Challenged
        if self._attempts > 1 or not self._auth or not self._auth.username:
            # libgit2 asks again after a 401; a second answer would only loop.
            raise ProbeError(
                "AuthenticationFailed",
                "authentication failed: the Git server rejected the credentials",
            )
        return pygit2.UserPass(self._auth.username, self._auth.password)

    def custom_headers(self) -> list[str] | None:
        if self._access.bearer and self._auth and self._auth.bearer_token:
            return [f"Authorization: Bearer {self._auth.bearer_token}"]
        return None


def run(
    guard: egress.Egress,
    url: str,
    auth: RemoteAuth | None,
    service: str,
    call: Callable[[Access], T],
) -> T:
    """``call`` (one libgit2 network call, given its :class:`Access`) with its
    connections checked and credentials sent only in answer to a challenge.

    Raises :class:`ProbeError` for a refused URL or address (reason ``Forbidden``);
    libgit2's own errors pass through for the caller to classify.
    """
    try:
        operation = guard.operation(url)
    except egress.Refused as error:
        raise ProbeError(FORBIDDEN, str(error)) from None
    has_token = bool(auth and auth.bearer_token)
    bearer = has_token and guard.challenges.asked(url, service)
    while True:
        try:
            with sockets.bound(operation):
                return call(Access(operation, bearer))
        except sockets.Unavailable as error:
            raise ProbeError("Unreachable", str(error)) from None
        except _Challenged:
            pass  # a 401 with a basic-auth challenge, and a token to answer it
        except ProbeError:
            if operation.refusal:
                raise ProbeError(FORBIDDEN, operation.refusal) from None
            raise
        except (pygit2.GitError, OSError, KeyError) as error:
            if operation.refusal:
                raise ProbeError(FORBIDDEN, operation.refusal) from None
            if bearer or not has_token or _UNSUPPORTED_CHALLENGE not in str(error):
                raise
        guard.challenges.remember(url, service)
        bearer = True


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


_LOCAL_PATH = re.compile(r"(?<![\w.:/~-])/[^\s'\"]+")
"""An absolute path standing on its own (not the path of a URL)."""


def redact(text: str) -> str:
    """Remove userinfo from URLs (``https://user:pass@host`` → ``https://host``), and paths
    of the operator's own disk (a mirror that cannot be written, say) from messages that
    users see: they learn nothing about that disk from Lanai."""
    text = re.sub(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", r"\g<scheme>", text)
    return _LOCAL_PATH.sub("<local path>", text)


def _scratch_repository() -> pygit2.Repository:
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = pygit2.init_repository(tempfile.mkdtemp(prefix="lanai-probe-"), bare=True)
        return _scratch


def list_branches(guard: egress.Egress, url: str, auth: RemoteAuth | None) -> dict[str, str]:
    """``refs/heads/<name>`` → commit id of every branch on the remote."""
    try:
        fast = advert.read(guard, url, auth)
    except egress.Refused as error:
        raise ProbeError(FORBIDDEN, str(error)) from None
    if fast is not None:
        return fast.branches()

    def call(access: Access) -> list[pygit2.remotes.RemoteHead]:
        remote = _scratch_repository().remotes.create_anonymous(url)
        return remote.list_heads(callbacks=_Callbacks(auth, access))

    try:
        heads = run(guard, url, auth, egress.UPLOAD_PACK, call)
    except ProbeError:
        raise
    except (pygit2.GitError, KeyError, OSError) as error:
        raise ProbeError(*classify(redact(str(error)))) from None
    return {
        head.name: str(head.oid)
        for head in heads
        if head.name and head.name.startswith("refs/heads/")
    }
