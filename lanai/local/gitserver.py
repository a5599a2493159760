"""Git over smart HTTP through git's own ``git http-backend``, with authentication.

This is a real Git server as far as clients can tell (the same CGI that hosting setups
put behind Apache or nginx), so pygit2 and the git CLI clone, fetch and push through it
exactly as they would against GitHub or Gitea. Requests must carry either HTTP basic
credentials or a bearer token; anything else gets 401 with a Basic challenge.
With a serving certificate (e.g. from ``lanai.local.pki``) it speaks HTTPS instead,
which is how CA-bundle handling is tested against a CA no system trusts.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import io
import shutil
import ssl
import subprocess
import sys
import threading
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from lanai.local import pki
from lanai.local.housekeeping import NO_AUTO_GC, Housekeeping

_CHUNK = 64 * 1024
HOST = "127.0.0.1"
"""Where the server listens: this machine only."""


@dataclass
class Credentials:
    """Who may talk to the server: basic-auth users and bearer tokens."""

    users: dict[str, str] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)

    def allows(self, authorization: str | None) -> str | None:
        """The authenticated user name, or None."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            for token in self.tokens:
                if hmac.compare_digest(token.encode(), value.strip().encode()):
                    return "token-user"
            return None
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            expected = self.users.get(user)
            if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
                return user
        return None


class BackendHandler(BaseHTTPRequestHandler):
    """Smart HTTP by ``git http-backend`` for the repositories under ``root``.

    Subclasses decide who may (:meth:`authorize`) and may answer some requests
    themselves; :meth:`run_backend` serves the rest as the named user."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate small writes; with Nagle on, the second
    # waits for the client's delayed ACK (~40 ms per request, e.g. every 401
    # challenge). Real Git hosts (nginx, Go) set TCP_NODELAY too.
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.serve()

    def do_POST(self) -> None:
        self.serve()

    def authorize(self) -> str | None:
        """The user the request is served as, or None to answer with a challenge."""
        return "anonymous"

    def serve(self) -> None:
        user = self.authorize()
        if user is None:
            self.challenge()
            return
        self.run_backend(user)

    def challenge(self) -> None:
        challenge = ("WWW-Authenticate", 'Basic realm="lanai-git"')
        self.reply(HTTPStatus.UNAUTHORIZED, b"authentication required\n", [challenge])

    def reply(
        self, status: HTTPStatus, body: bytes, headers: list[tuple[str, str]] | None = None
    ) -> None:
        """A complete small answer; a request body is skipped (or the connection closed)."""
        length = int(self.headers.get("Content-Length") or 0)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
        else:
            for _piece in self._body(False, length):
                pass
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def run_backend(self, user: str) -> None:
        parts = urlsplit(self.path)
        env = {
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "GIT_HTTP_MAX_REQUEST_BUFFER": str(1024 * 1024 * 1024),
        }
        if self.server.housekeeping is not None:
            env.update(NO_AUTO_GC)
        if protocol := self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = protocol
        if encoding := self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = encoding
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = int(self.headers.get("Content-Length") or 0)
        if not chunked:
            env["CONTENT_LENGTH"] = str(length)
        backend = subprocess.Popen(
            [self.server.git, "http-backend"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert backend.stdin is not None
        assert backend.stdout is not None
        feeder = threading.Thread(
            target=self._feed, args=(backend.stdin, chunked, length), daemon=True
        )
        feeder.start()
        status, headers = self._read_cgi_headers(backend.stdout)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # Stay on the buffered reader: the header parse above may have read ahead.
        stdout = typing.cast(io.BufferedReader, backend.stdout)
        try:
            while chunk := stdout.read1(_CHUNK):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up once it had what it wanted (a push's report): git
            # finishes its own work (git gc --auto) unhurried, its output unread.
            self.close_connection = True
            stdout.read()
        finally:
            feeder.join()
            backend.wait()

    def _feed(self, sink: IO[bytes], chunked: bool, length: int) -> None:
        try:
            for piece in self._body(chunked, length):
                sink.write(piece)
        except BrokenPipeError:
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                sink.close()

    def _body(self, chunked: bool, length: int) -> Iterator[bytes]:
        if not chunked:
            remaining = length
            while remaining > 0:
                piece = self.rfile.read(min(_CHUNK, remaining))
                if not piece:
                    return
                remaining -= len(piece)
                yield piece
            return
        while True:
            size_line = self.rfile.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    @staticmethod
    def _read_cgi_headers(stdout: IO[bytes]) -> tuple[int, list[tuple[str, str]]]:
        status, headers = 200, []
        while True:
            line = stdout.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            else:
                headers.append((name.strip(), value.strip()))
        return status, headers


class _Handler(BackendHandler):
    """Served only with valid basic credentials or a bearer token."""

    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        self.server.requests += 1

    def authorize(self) -> str | None:
        user = self.server.credentials.allows(self.headers.get("Authorization"))
        if user is None:
            self.server.rejected += 1
        return user

    def serve(self) -> None:
        if self.server.down.is_set():
            self.close_connection = True  # no answer at all, as from a server that died
            return
        user = self.authorize()
        if user is None:
            self.challenge()
            return
        if self.server.dies_at(self.command, self.path):
            self.close_connection = True
            return
        self.run_backend(user)
        if self.server.housekeeping is not None and _is_push(self.command, self.path):
            repository = self.server.repository_of(self.path)
            if repository is not None:
                self.server.housekeeping.pushed(repository)


class Server(ThreadingHTTPServer):
    """A threading HTTP server sized for Git clients (many may connect at once)."""

    daemon_threads = True
    # socketserver's default backlog (5) resets connections when dozens of clients
    # (e.g. concurrent publishers) connect at once; hosting servers queue them.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BackendHandler], root: Path) -> None:
        super().__init__(address, handler)
        self.root = root
        self.git = shutil.which("git") or "git"
        self.housekeeping: Housekeeping | None = None

    def repository_of(self, path: str) -> Path | None:
        """The bare repository a request's path names: a directory right under the root."""
        name = urlsplit(path).path.rsplit("/", 1)[0].strip("/")
        root = self.root.resolve()
        found = (root / name).resolve()
        return found if found.parent == root and found.is_dir() else None

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up (or refuse our certificate) are not server errors."""
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Server(Server):
    def __init__(self, address: tuple[str, int], root: Path, credentials: Credentials) -> None:
        super().__init__(address, _Handler, root)
        self.credentials = credentials
        self.requests = 0
        self.rejected = 0
        self.down = threading.Event()
        """Set when the server died of :meth:`GitServer.stop_after_pushes`."""
        self.pushes_left: int | None = None
        self._counting = threading.Lock()

    def dies_at(self, method: str, path: str) -> bool:
        """Whether this request finds the server dead (a push beyond the ones allowed)."""
        if not _is_push(method, path):
            return False
        with self._counting:
            if self.pushes_left is None:
                return False
            if self.pushes_left > 0:
                self.pushes_left -= 1
                return False
            self.down.set()
            return True


def _is_push(method: str, path: str) -> bool:
    return method == "POST" and urlsplit(path).path.endswith("/git-receive-pack")


def _tls_context(root: Path, certificate: pki.KeyPair) -> ssl.SSLContext:
    directory = root / ".tls"
    directory.mkdir(exist_ok=True)
    cert, key = certificate.write(directory, "server")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


class GitServer:
    """Serves every bare repository under ``root`` at ``http://127.0.0.1:<port>/<name>``."""

    def __init__(
        self,
        root: Path,
        credentials: Credentials,
        port: int = 0,
        certificate: pki.KeyPair | None = None,
        housekeeping: Housekeeping | None = None,
    ) -> None:
        """``housekeeping``: maintain repositories every so many pushes, as a hosting
        service does (off by default: short-lived test repositories do not need it)."""
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.credentials = credentials
        self.housekeeping = housekeeping
        self._certificate = certificate
        self._scheme = "http" if certificate is None else "https"
        self._server = self._bind(port)
        self._closed = False
        self._thread = self._serving()

    def _bind(self, port: int) -> _Server:
        server = _Server((HOST, port), self.root, self.credentials)
        server.housekeeping = self.housekeeping
        if self._certificate is not None:
            server.socket = _tls_context(self.root, self._certificate).wrap_socket(
                server.socket, server_side=True
            )
        return server

    def _serving(self) -> threading.Thread:
        return threading.Thread(target=self._server.serve_forever, name="git-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    @property
    def requests(self) -> int:
        return self._server.requests

    @property
    def rejected(self) -> int:
        return self._server.rejected

    def start(self) -> GitServer:
        """Serve; after :meth:`stop`, again at the same address (a restarted server)."""
        if self._closed:
            self._server = self._bind(int(self._server.server_address[1]))
            self._closed = False
            self._thread = self._serving()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and close the port: clients are refused, as by a server that is down."""
        self._server.shutdown()
        self._server.server_close()
        self._closed = True
        if self.housekeeping is not None:
            self.housekeeping.drain()

    def stop_after_pushes(self, pushes: int) -> threading.Event:
        """Die on the push after the next ``pushes`` ones: that push and every request
        after it get no answer, then the port closes (as :meth:`stop`). A test can so
        stop Git in the middle of an operation that pushes twice (an approval pushes
        its commit, then its tag). The event is set once the server is stopped."""
        server = self._server
        stopped = threading.Event()
        with server._counting:
            server.pushes_left = pushes

        def die() -> None:
            server.down.wait()
            if self._server is server and not self._closed:
                self.stop()
            stopped.set()

        threading.Thread(target=die, name="git-http-outage", daemon=True).start()
        return stopped

    def pause(self) -> None:
        """Stop answering, but keep the port open: clients connect and then hang, as with
        a Git server that is overloaded or behind a black-holing network."""
        self._server.shutdown()

    def resume(self) -> None:
        """Answer again, starting with the connections that waited meanwhile."""
        self._thread = self._serving()
        self._thread.start()

    def create_repository(self, name: str, *, initial_branch: str | None = "main") -> str:
        """A new bare repository; returns its URL. With ``initial_branch`` it gets one
        empty commit so that the branch exists, as a hosting service's "initialise" does."""
        init_bare(self.root / f"{name}.git", initial_branch)
        return f"{self.url}/{name}.git"

    def repository_path(self, name: str) -> Path:
        return self.root / f"{name}.git"


def init_bare(path: Path, initial_branch: str | None = "main") -> Path:
    """A new bare repository at ``path`` that accepts pushes; with ``initial_branch`` it
    gets one empty commit so that the branch exists."""
    subprocess.run(
        ["git", "init", "--bare", "--quiet", "-b", initial_branch or "main", str(path)],
        check=True,
    )
    subprocess.run(["git", "-C", str(path), "config", "http.receivepack", "true"], check=True)
    if initial_branch:
        env = {
            "GIT_AUTHOR_NAME": "lanai-test",
            "GIT_AUTHOR_EMAIL": "test@lanai.invalid",
            "GIT_COMMITTER_NAME": "lanai-test",
            "GIT_COMMITTER_EMAIL": "test@lanai.invalid",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        }
        tree = subprocess.run(
            ["git", "-C", str(path), "hash-object", "-t", "tree", "-w", "--stdin"],
            input=b"",
            capture_output=True,
            check=True,
        ).stdout.strip()
        commit = subprocess.run(
            ["git", "-C", str(path), "commit-tree", tree.decode(), "-m", "Initial commit"],
            capture_output=True,
            check=True,
            env=env,
        ).stdout.strip()
        subprocess.run(
            ["git", "-C", str(path), "update-ref", f"refs/heads/{initial_branch}", commit],
            check=True,
        )
    return path
