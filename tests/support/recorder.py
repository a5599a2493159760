"""A Git server that records everything it receives: connections, requests, credentials.

Security tests ask "did the operator send credentials there?" and "did it connect at
all?"; this server answers both. It counts every TCP connection it accepts (before any
byte is read) and records each request's method, path and ``Authorization`` header.
What it answers is chosen per test:

- ``Recorder(repository=path)`` serves a real bare repository (``git http-backend``),
  so clones and fetches work; without one it serves a valid ref advertisement of
  ``refs`` (``advertisement()``) and 404 for anything else;
- ``challenge=True`` answers every request without an ``Authorization`` header with
  401 and a Basic challenge, and serves any request that has one (whatever it holds:
  the point is to see what was sent); ``challenge_push=True`` does that for pushes
  (``git-receive-pack``) only, as servers that let anyone fetch do;
  ``challenge_scheme="Bearer"`` challenges for a token instead of basic credentials;
- ``redirect_to=URL`` answers every request with 302 to ``URL`` + the request's path
  (with ``challenge=True``, every request that passed the challenge).

Listen on ``host="127.0.0.2"`` for a loopback address the test operator may not reach
(it is allowed 127.0.0.1 only); every address of 127.0.0.0/8 is loopback on Linux.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from lanai.local import gitserver

FAKE_COMMIT = "1" * 40


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    authorization: str | None


def _pkt(line: bytes) -> bytes:
    return b"%04x%s" % (len(line) + 4, line)


def advertisement(refs: Mapping[str, str], service: str = "git-upload-pack") -> bytes:
    """A smart-HTTP ref advertisement of ``refs`` (name → object id)."""
    body = _pkt(f"# service={service}\n".encode()) + b"0000"
    capabilities = b"\0multi_ack side-band-64k ofs-delta agent=git/recorder"
    for index, (name, oid) in enumerate(sorted(refs.items())):
        extra = capabilities if index == 0 else b""
        body += _pkt(f"{oid} {name}".encode() + extra + b"\n")
    return body + b"0000"


class _Handler(gitserver.BackendHandler):
    server: _Server

    def serve(self) -> None:
        recorder = self.server.recorder
        authorization = self.headers.get("Authorization")
        with recorder.lock:
            recorder.requests.append(Request(self.command, self.path, authorization))
        pushing = "git-receive-pack" in self.path
        if (recorder.challenge or (recorder.challenge_push and pushing)) and not authorization:
            challenge = ("WWW-Authenticate", f'{recorder.challenge_scheme} realm="recorder"')
            self.reply(HTTPStatus.UNAUTHORIZED, b"authentication required\n", [challenge])
            return
        if recorder.redirect_to is not None:
            target = recorder.redirect_to.rstrip("/") + self.path
            self.reply(HTTPStatus.FOUND, b"moved\n", [("Location", target)])
            return
        if recorder.repository is not None:
            self.run_backend("recorded")
            return
        service = "git-upload-pack"
        if self.command == "GET" and self.path.endswith(f"/info/refs?service={service}"):
            body = advertisement(recorder.refs)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"application/x-{service}-advertisement")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.reply(HTTPStatus.NOT_FOUND, b"not found\n")


class _Server(gitserver.Server):
    def __init__(self, address: tuple[str, int], recorder: Recorder, root: Path) -> None:
        super().__init__(address, _Handler, root)
        self.recorder = recorder

    def get_request(self) -> tuple[socket.socket, Any]:
        accepted = super().get_request()
        with self.recorder.lock:
            self.recorder.connections += 1
        return accepted


class Recorder:
    """Records every connection and request; see the module docstring for the modes."""

    def __init__(
        self,
        host: str = gitserver.HOST,
        *,
        repository: Path | None = None,
        refs: Mapping[str, str] | None = None,
        challenge: bool = False,
        challenge_push: bool = False,
        challenge_scheme: str = "Basic",
        redirect_to: str | None = None,
    ) -> None:
        self.repository = repository
        self.refs = dict(refs or {"refs/heads/main": FAKE_COMMIT})
        self.challenge = challenge
        self.challenge_push = challenge_push
        self.challenge_scheme = challenge_scheme
        self.redirect_to = redirect_to
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[Request] = []
        root = repository.parent if repository is not None else Path("/nonexistent")
        self._server = _Server((host, 0), self, root)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"recorder-{host}", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def repository_url(self) -> str:
        """The URL of the repository it serves (any name works without a repository)."""
        name = self.repository.name if self.repository is not None else "recorded.git"
        return f"{self.url}/{name}"

    @property
    def authorizations(self) -> list[str]:
        """Every ``Authorization`` header received, in order."""
        with self.lock:
            return [r.authorization for r in self.requests if r.authorization]

    def start(self) -> Recorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
