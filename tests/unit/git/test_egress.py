"""Where Git connections go, and when credentials go with them (lanai.git.egress/sockets).

The guard allows 127.0.0.1 (as the test operator does) and nothing else local, so a
server on 127.0.0.2 is a forbidden loopback target. Every server here is a recorder
(tests/support/recorder.py): it counts connections before reading a byte and keeps
every Authorization header, so "refused" means "never connected" and "no credentials"
means "none received".
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest

from lanai.git import advert, egress, probe, sockets, storage
from lanai.local import gitserver
from lanai.trust import urls
from tests.support import guards
from tests.support.recorder import Recorder
from tests.support.waiting import wait_for

BASIC = probe.RemoteAuth("bot", "egress-pass-1")
BEARER = probe.RemoteAuth(bearer_token="egress-token-1")
AUTHOR = storage.Signature("A", "a@example.com")
KPTFILE = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: p\n"


@pytest.fixture
def guard() -> egress.Egress:
    return guards.local()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    return gitserver.init_bare(tmp_path / "served" / "repo.git")


def _recorder(**kwargs: Any) -> Iterator[Recorder]:
    with Recorder(**kwargs) as running:
        yield running


@pytest.fixture
def forbidden(repository: Path) -> Iterator[Recorder]:
    """A working Git server on 127.0.0.2: loopback, and not the allowed address."""
    yield from _recorder(host="127.0.0.2", repository=repository)


@pytest.fixture
def anonymous(repository: Path) -> Iterator[Recorder]:
    """A working Git server that never asks for credentials."""
    yield from _recorder(repository=repository)


@pytest.fixture
def challenging(repository: Path) -> Iterator[Recorder]:
    yield from _recorder(repository=repository, challenge=True)


@pytest.fixture
def push_challenging(repository: Path) -> Iterator[Recorder]:
    """Anyone may fetch; pushing needs credentials."""
    yield from _recorder(repository=repository, challenge_push=True)


def _mirror(guard: egress.Egress, url: str, tmp: Path, auth: probe.RemoteAuth | None) -> Any:
    return storage.GitStorage(url, "main", "", tmp / "mirror", auth, guard=guard)


# -- addresses --------------------------------------------------------------------------


def test_a_forbidden_address_is_never_connected_to(
    guard: egress.Egress, forbidden: Recorder, tmp_path: Path
) -> None:
    with pytest.raises(probe.ProbeError) as listed:
        probe.list_branches(guard, forbidden.repository_url, BASIC)
    assert listed.value.reason == "Forbidden"
    assert "127.0.0.2 is a loopback address" in str(listed.value)
    with pytest.raises(storage.RemoteError, match="loopback") as fetched:
        _mirror(guard, forbidden.repository_url, tmp_path, BASIC).fetch()
    assert fetched.value.reason == "Forbidden"
    assert forbidden.connections == 0


def test_libgit2_connects_only_through_the_guard(guard: egress.Egress, forbidden: Recorder) -> None:
    """Straight to libgit2 (no fast path): refused, and the server saw nothing."""

    def list_heads(access: probe.Access) -> Any:
        remote = probe._scratch_repository().remotes.create_anonymous(forbidden.repository_url)
        return remote.list_heads(callbacks=probe._Callbacks(BASIC, access))

    with pytest.raises(probe.ProbeError, match="loopback"):
        probe.run(guard, forbidden.repository_url, BASIC, egress.UPLOAD_PACK, list_heads)
    assert forbidden.connections == 0


def test_libgit2_without_a_bound_operation_connects_nowhere(anonymous: Recorder) -> None:
    sockets.install()
    remote = probe._scratch_repository().remotes.create_anonymous(anonymous.repository_url)
    with pytest.raises(pygit2.GitError, match="no Git operation is bound"):
        remote.list_heads()
    assert anonymous.connections == 0


def test_libgit2_resolves_names_through_the_guard(
    guard: egress.Egress, anonymous: Recorder, forbidden: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name only Python's resolver knows: libgit2 reaches it only through the guard,
    which connects to the address it checked; pointed at 127.0.0.2 it is refused."""
    answers = {"git.test": "127.0.0.1", "rebound.test": "127.0.0.2"}
    real = socket.getaddrinfo

    def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], int(port)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)

    def list_heads(url: str) -> Any:
        def call(access: probe.Access) -> Any:
            remote = probe._scratch_repository().remotes.create_anonymous(url)
            return remote.list_heads(callbacks=probe._Callbacks(None, access))

        return probe.run(guard, url, None, egress.UPLOAD_PACK, call)

    port = anonymous.url.rsplit(":", 1)[1]
    heads = list_heads(f"http://git.test:{port}/repo.git")
    assert "refs/heads/main" in {head.name for head in heads}
    assert anonymous.connections == 1
    port = forbidden.url.rsplit(":", 1)[1]
    with pytest.raises(probe.ProbeError, match=r"rebound\.test resolves to 127\.0\.0\.2, which is"):
        list_heads(f"http://rebound.test:{port}/repo.git")
    assert forbidden.connections == 0


def test_each_connection_uses_the_address_it_checked(
    anonymous: Recorder, forbidden: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: one answer per connection, judged and then used; a later answer
    pointing elsewhere is judged again and cannot slip past the check."""
    answers = iter(["127.0.0.1", "127.0.0.2"])

    def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    policy = urls.AddressPolicy.allowing([gitserver.HOST])
    port = int(anonymous.url.rsplit(":", 1)[1])
    egress.dial(policy, "flip.test", port, 5).close()
    wait_for(lambda: anonymous.connections == 1, timeout=10, what="the allowed connection")
    with pytest.raises(egress.Refused, match=r"flip\.test resolves to 127\.0\.0\.2"):
        egress.dial(policy, "flip.test", int(forbidden.url.rsplit(":", 1)[1]), 5)
    assert forbidden.connections == 0


@pytest.mark.parametrize("host", ["localhost", "2130706433", "0x7f.0.0.1", "127.1", "0177.0.0.1"])
def test_names_and_odd_spellings_of_loopback_are_refused(host: str) -> None:
    """Whatever the resolver makes of a host (decimal, hex, short forms), the address it
    yields is what is judged."""
    with pytest.raises(egress.Refused, match=f"{host} resolves to .*loopback"):
        egress.dial(urls.AddressPolicy(), host, 80, 5)


def test_urls_of_other_forms_never_reach_libgit2(guard: egress.Egress, tmp_path: Path) -> None:
    source = gitserver.init_bare(tmp_path / "local.git")
    for url in (str(source), f"file://{source}", "ext::sh -c touch% /tmp/pwned", "git://h/r"):
        with pytest.raises(probe.ProbeError, match="must be an https:// or http://") as caught:
            probe.list_branches(guard, url, None)
        assert caught.value.reason == "Forbidden"
        assert str(tmp_path) not in str(caught.value)


# -- redirects ----------------------------------------------------------------------------


def test_a_redirect_to_another_origin_gets_no_connection_and_no_credentials(
    guard: egress.Egress, challenging: Recorder, tmp_path: Path
) -> None:
    with Recorder(redirect_to=challenging.url) as redirecting:
        for auth in (BASIC, BEARER):
            with pytest.raises(probe.ProbeError, match="redirected to another server") as caught:
                probe.list_branches(guard, redirecting.repository_url, auth)
            assert caught.value.reason == "Forbidden"
            with pytest.raises(storage.RemoteError, match="redirected to another server"):
                _mirror(guard, redirecting.repository_url, tmp_path, auth).fetch()
        assert redirecting.requests  # it was asked, and answered with a redirect
        assert redirecting.authorizations == []
    assert challenging.connections == 0
    assert challenging.authorizations == []


@pytest.mark.parametrize("auth", [BASIC, BEARER], ids=["basic", "bearer"])
def test_a_redirect_after_authenticating_takes_the_credentials_nowhere(
    guard: egress.Egress, challenging: Recorder, auth: probe.RemoteAuth
) -> None:
    """The server asks, gets the credentials (it asked), then redirects: libgit2 alone
    would follow and send them on (a bearer header on every request, basic ones to the
    next challenge); here the other server is never connected to."""
    with Recorder(redirect_to=challenging.url, challenge=True) as redirecting:

        def list_heads(access: probe.Access) -> Any:
            remote = probe._scratch_repository().remotes.create_anonymous(
                redirecting.repository_url
            )
            return remote.list_heads(callbacks=probe._Callbacks(auth, access))

        with pytest.raises(probe.ProbeError, match="redirected to another server"):
            probe.run(guard, redirecting.repository_url, auth, egress.UPLOAD_PACK, list_heads)
        assert redirecting.authorizations  # it challenged, so it was answered
    assert challenging.connections == 0
    assert challenging.authorizations == []


def test_an_operation_connects_only_to_its_own_origin(guard: egress.Egress) -> None:
    operation = guard.operation("http://127.0.0.1:8080/r.git")
    for host, port in (("127.0.0.1", 8081), ("git.example.com", 8080), ("localhost", 8080)):
        with pytest.raises(egress.Refused, match="redirected to another server"):
            operation.connect(host, port, 1)
    assert operation.connections == 0
    assert "redirected" in operation.refusal


# -- credentials only when challenged ---------------------------------------------------


@pytest.mark.parametrize("auth", [BASIC, BEARER], ids=["basic", "bearer"])
def test_a_server_that_does_not_ask_gets_no_credentials(
    guard: egress.Egress, anonymous: Recorder, tmp_path: Path, auth: probe.RemoteAuth
) -> None:
    assert probe.list_branches(guard, anonymous.repository_url, auth)
    git = _mirror(guard, anonymous.repository_url, tmp_path, auth)
    assert git.fetch() is True
    git.create_draft("p", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)  # a push, anonymous too
    assert "refs/heads/drafts/p/ws" in git._refs()
    assert anonymous.authorizations == []


@pytest.mark.parametrize(
    ("auth", "scheme"), [(BASIC, "Basic "), (BEARER, "Bearer ")], ids=["basic", "bearer"]
)
def test_credentials_answer_a_challenge_and_are_then_sent_at_once(
    guard: egress.Egress,
    challenging: Recorder,
    tmp_path: Path,
    auth: probe.RemoteAuth,
    scheme: str,
) -> None:
    git = _mirror(guard, challenging.repository_url, tmp_path, auth)
    git.fetch()
    first = challenging.requests[0]
    assert first.authorization is None  # the first request carries nothing
    assert all(value.startswith(scheme) for value in challenging.authorizations)
    git.create_draft("p", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    assert "refs/heads/drafts/p/ws" in _served_refs(challenging)
    before = len(challenging.requests)
    assert git.fetch() is False
    # The no-op fetch: one request, with the credentials it was asked for before.
    assert [r.authorization is not None for r in challenging.requests[before:]] == [True]


def test_anonymous_fetch_and_challenged_push_send_credentials_for_the_push_only(
    guard: egress.Egress, push_challenging: Recorder, tmp_path: Path
) -> None:
    git = _mirror(guard, push_challenging.repository_url, tmp_path, BEARER)
    git.fetch()
    git.create_draft("p", "ws1", {"Kptfile": KPTFILE}, {}, AUTHOR)
    git.create_draft("p", "ws2", {"Kptfile": KPTFILE}, {}, AUTHOR)
    git.fetch()
    fetches = [r for r in push_challenging.requests if "upload-pack" in r.path]
    pushes = [r for r in push_challenging.requests if "receive-pack" in r.path]
    assert fetches
    assert all(r.authorization is None for r in fetches)
    assert [r.authorization for r in pushes if r.authorization is None] == [None]  # one 401
    assert {r.authorization for r in pushes} - {None} == {"Bearer egress-token-1"}
    assert {"refs/heads/drafts/p/ws1", "refs/heads/drafts/p/ws2"} <= set(
        _served_refs(push_challenging)
    )


def test_a_bearer_only_challenge_to_libgit2_is_answered_with_the_token(
    guard: egress.Egress, repository: Path
) -> None:
    """libgit2 cannot answer ``WWW-Authenticate: Bearer`` itself: the call starts again
    with the token, and only then."""
    with Recorder(repository=repository, challenge=True, challenge_scheme="Bearer") as server:

        def list_heads(auth: probe.RemoteAuth) -> Any:
            def call(access: probe.Access) -> Any:
                remote = probe._scratch_repository().remotes.create_anonymous(server.repository_url)
                return remote.list_heads(callbacks=probe._Callbacks(auth, access))

            return probe.run(guard, server.repository_url, auth, egress.UPLOAD_PACK, call)

        heads = list_heads(BEARER)
        assert "refs/heads/main" in {head.name for head in heads}
        assert [r.authorization for r in server.requests] == [None, "Bearer egress-token-1"]
        with pytest.raises(pygit2.GitError, match="authentication that we do not support"):
            list_heads(BASIC)  # basic credentials cannot answer it: reported, not sent
        assert server.authorizations == ["Bearer egress-token-1"]


def test_a_rejected_token_is_reported_once_not_retried_forever(
    guard: egress.Egress, tmp_path: Path, repository: Path
) -> None:
    server = gitserver.GitServer(tmp_path / "srv", gitserver.Credentials(tokens={"good"})).start()
    try:
        url = server.create_repository("r")
        with pytest.raises(probe.ProbeError) as caught:
            probe.list_branches(guard, url, probe.RemoteAuth(bearer_token="bad-token-7"))
        assert caught.value.reason == "AuthenticationFailed"
        assert "bad-token-7" not in str(caught.value)
        assert server.requests <= 4
    finally:
        server.stop()


def test_the_advert_fast_path_answers_a_challenge_once(
    guard: egress.Egress, challenging: Recorder
) -> None:
    assert advert.read(guard, challenging.repository_url, BASIC) is not None
    assert [r.authorization is not None for r in challenging.requests] == [False, True]
    assert challenging.connections == 1  # the answer goes on the same connection
    assert advert.read(guard, challenging.repository_url, None) is None


def test_messages_hide_paths_of_the_operators_disk() -> None:
    message = "could not open '/var/cache/lanai/0a1b/objects/pack/x.pack': No space left"
    assert probe.redact(message) == "could not open '<local path>': No space left"
    assert probe.redact("GET http://h:80/a/b.git/info/refs") == "GET http://h:80/a/b.git/info/refs"


def test_challenges_are_remembered_per_repository_and_service_within_a_bound() -> None:
    memory = egress.Challenges(limit=2)
    memory.remember("http://h/a.git/", egress.UPLOAD_PACK)
    assert memory.asked("http://h/a.git", egress.UPLOAD_PACK)
    assert not memory.asked("http://h/a.git", egress.RECEIVE_PACK)
    assert not memory.asked("http://h/b.git", egress.UPLOAD_PACK)
    memory.remember("http://h/b.git", egress.UPLOAD_PACK)
    memory.remember("http://h/c.git", egress.UPLOAD_PACK)
    assert not memory.asked("http://h/a.git", egress.UPLOAD_PACK)


def _served_refs(recorder: Recorder) -> list[str]:
    assert recorder.repository is not None
    return [ref.name for ref in pygit2.Repository(str(recorder.repository)).references.objects]
