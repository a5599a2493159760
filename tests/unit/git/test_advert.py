"""The ref advertisement read over smart HTTP: the fast "did anything change?" of a sync."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.git import advert, egress, probe, storage
from lanai.local import gitserver
from tests.support import guards

GUARD = guards.local()
USER, PASSWORD, TOKEN = "bot", "advert-pass-1", "advert-token-1"
AUTH = probe.RemoteAuth(USER, PASSWORD)
AUTHOR = storage.Signature("Alice", "alice@example.com")
KPTFILE = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: p\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    srv = gitserver.GitServer(
        tmp_path_factory.mktemp("git"),
        gitserver.Credentials(users={USER: PASSWORD}, tokens={TOKEN}),
    ).start()
    yield srv
    srv.stop()


@pytest.fixture
def url(server: gitserver.GitServer, request: pytest.FixtureRequest) -> str:
    return server.create_repository(request.node.name)


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def _authed(url: str) -> str:
    return url.replace("://", f"://{USER}:{PASSWORD}@")


def _ls_remote(url: str) -> dict[str, str]:
    lines = _git("ls-remote", _authed(url)).splitlines()
    return {
        name: oid
        for oid, name in (line.split("\t") for line in lines)
        if name.startswith(("refs/heads/", "refs/tags/")) and not name.endswith("^{}")
    }


def _push_from_elsewhere(url: str, tmp: Path, *refspecs: str) -> None:
    """Another client (the git CLI) changes the remote behind the mirror's back."""
    clone = tmp / "elsewhere"
    if not clone.exists():
        _git("clone", "--quiet", _authed(url), str(clone))
    for spec in refspecs:
        _git("push", "--quiet", _authed(url), spec, cwd=clone)


def test_lists_what_ls_remote_lists(url: str, tmp_path: Path) -> None:
    _push_from_elsewhere(url, tmp_path, "HEAD:refs/heads/drafts/p/ws", "HEAD:refs/tags/p/v1")
    found = advert.read(GUARD, url, AUTH)
    assert found is not None
    assert found.refs() == _ls_remote(url)


def test_bearer_tokens_work_and_refused_credentials_fall_back(url: str) -> None:
    assert advert.read(GUARD, url, probe.RemoteAuth(bearer_token=TOKEN)) is not None
    assert advert.read(GUARD, url, probe.RemoteAuth(USER, "wrong-pass-9")) is None
    assert advert.read(GUARD, url, None) is None


def test_other_transports_and_credentials_in_urls_are_refused(url: str, tmp_path: Path) -> None:
    for refused in (f"file://{tmp_path}", _authed(url), str(tmp_path)):
        with pytest.raises(egress.Refused, match="must be an https:// or http:// URL"):
            advert.read(GUARD, refused, AUTH)
    assert advert.read(GUARD, "http://127.0.0.1:1/nothing.git", AUTH) is None  # libgit2 says why


def test_the_digest_ignores_capabilities_but_not_refs(url: str, tmp_path: Path) -> None:
    first = advert.read(GUARD, url, AUTH)
    assert first is not None
    agent = first.body.replace(b"agent=git/", b"agent=git/9")
    assert advert._digest(agent) == first.digest
    _push_from_elsewhere(url, tmp_path, "HEAD:refs/tags/p/v1")
    second = advert.read(GUARD, url, AUTH)
    assert second is not None
    assert second.digest != first.digest


def test_a_noop_fetch_is_one_request(server: gitserver.GitServer, url: str, tmp_path: Path) -> None:
    git = storage.GitStorage(url, "main", "", tmp_path / "mirror", AUTH, guard=GUARD)
    assert git.fetch() is True
    assert git.fetch() is False  # level with the advertisement from here on
    before = server.requests
    assert git.fetch() is False
    assert server.requests - before == 1


def test_every_change_on_the_remote_is_fetched(url: str, tmp_path: Path) -> None:
    git = storage.GitStorage(url, "main", "", tmp_path / "mirror", AUTH, guard=GUARD)
    git.fetch()
    git.fetch()
    _push_from_elsewhere(url, tmp_path, "HEAD:refs/tags/p/v1")
    assert git.fetch() is True
    assert git._refs() == _ls_remote(url)
    _push_from_elsewhere(url, tmp_path, ":refs/tags/p/v1")
    assert git.fetch() is True
    assert "refs/tags/p/v1" not in git._refs()


def test_a_remote_back_where_it_was_still_prunes_our_own_writes(url: str, tmp_path: Path) -> None:
    """The digest matches an earlier advertisement, but the mirror moved since."""
    git = storage.GitStorage(url, "main", "", tmp_path / "mirror", AUTH, guard=GUARD)
    git.fetch()
    git.create_draft("p", "ws", {"Kptfile": KPTFILE}, {}, AUTHOR)
    _push_from_elsewhere(url, tmp_path, ":refs/heads/drafts/p/ws")
    assert git.fetch() is True
    assert git._refs() == _ls_remote(url)


def test_credentials_stay_out_of_logs(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    advert.read(GUARD, url, probe.RemoteAuth(USER, "wrong-pass-9"))
    advert.read(GUARD, "http://127.0.0.1:1/nothing.git", probe.RemoteAuth(USER, "wrong-pass-9"))
    advert.read(GUARD, url, probe.RemoteAuth(bearer_token="tok-secret-7"))
    assert "wrong-pass-9" not in caplog.text
    assert "tok-secret-7" not in caplog.text


def test_branches_are_found_without_walking_every_line(url: str, tmp_path: Path) -> None:
    _push_from_elsewhere(
        url, tmp_path, "HEAD:refs/heads/drafts/p/ws", "HEAD:refs/tags/p/v1", "HEAD:refs/heads/b"
    )
    found = advert.read(GUARD, url, AUTH)
    assert found is not None
    heads = {k: v for k, v in found.refs().items() if k.startswith("refs/heads/")}
    assert found.branches() == heads
    assert set(heads) == {"refs/heads/main", "refs/heads/b", "refs/heads/drafts/p/ws"}
    assert probe.list_branches(GUARD, url, AUTH) == heads
