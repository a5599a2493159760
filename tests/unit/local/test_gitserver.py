"""The test Git server speaks smart HTTP and insists on credentials.

Real git and pygit2 against a real ``git http-backend``: if these pass, the e2e tests
can trust the server's behaviour.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from lanai.git import probe, sockets
from lanai.local import gitserver
from tests.support import guards

GUARD = guards.local()
USER, PASSWORD, TOKEN = "alice", "wonderland", "tok-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gitserver.GitServer]:
    srv = gitserver.GitServer(
        tmp_path_factory.mktemp("srv"),
        gitserver.Credentials(users={USER: PASSWORD}, tokens={TOKEN}),
    ).start()
    yield srv
    srv.stop()


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


def test_git_cli_clones_and_pushes_a_large_pack_with_basic_auth(
    server: gitserver.GitServer, tmp_path: Path
) -> None:
    url = server.create_repository("cli")
    authed = url.replace("http://", f"http://{USER}:{PASSWORD}@")
    assert _git("clone", "-q", authed, str(tmp_path / "c")).returncode == 0
    # Bigger than git's 1 MiB post buffer, so the push body arrives chunked.
    (tmp_path / "c" / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    _git("add", ".", cwd=tmp_path / "c")
    _git("commit", "-qm", "big", cwd=tmp_path / "c")
    pushed = _git("push", "-q", "origin", "main", cwd=tmp_path / "c")
    assert pushed.returncode == 0, pushed.stderr
    recloned = _git(
        "-c",
        f"http.extraHeader=Authorization: Bearer {TOKEN}",
        "clone",
        "-q",
        url,
        str(tmp_path / "d"),
    )
    assert recloned.returncode == 0, recloned.stderr
    assert (tmp_path / "d" / "blob.bin").stat().st_size == 3 * 1024 * 1024


def test_wrong_credentials_are_refused(server: gitserver.GitServer, tmp_path: Path) -> None:
    url = server.create_repository("refused")
    bad = _git("clone", "-q", url.replace("http://", f"http://{USER}:nope@"), str(tmp_path / "x"))
    assert bad.returncode != 0
    assert "Authentication failed" in bad.stderr


def test_pygit2_lists_branches_with_basic_auth_and_bearer_token(
    server: gitserver.GitServer,
) -> None:
    url = server.create_repository("pygit2")
    head = (server.repository_path("pygit2") / "refs/heads/main").read_text().strip()
    basic = probe.list_branches(GUARD, url, probe.RemoteAuth(username=USER, password=PASSWORD))
    bearer = probe.list_branches(GUARD, url, probe.RemoteAuth(bearer_token=TOKEN))
    assert basic == bearer == {"refs/heads/main": head}


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (probe.RemoteAuth(username=USER, password="wrong"), "AuthenticationFailed"),
        (probe.RemoteAuth(bearer_token="wrong"), "AuthenticationFailed"),
        (None, "AuthenticationFailed"),
    ],
)
def test_probe_reports_rejected_credentials_without_leaking_them(
    server: gitserver.GitServer, auth: probe.RemoteAuth | None, reason: str
) -> None:
    url = server.create_repository(f"rejected-{reason}-{id(auth)}")
    with pytest.raises(probe.ProbeError) as caught:
        probe.list_branches(GUARD, url, auth)
    assert caught.value.reason == reason
    assert "wrong" not in str(caught.value)


def test_pygit2_clone_through_the_server(server: gitserver.GitServer, tmp_path: Path) -> None:
    url = server.create_repository("clone")
    callbacks = pygit2.RemoteCallbacks(credentials=pygit2.UserPass(USER, PASSWORD))
    with sockets.bound(GUARD.operation(url)):  # libgit2 connects only for a bound operation
        repo = pygit2.clone_repository(url, str(tmp_path / "m"), bare=True, callbacks=callbacks)
    assert "refs/heads/main" in list(repo.references)


def test_redact_strips_userinfo() -> None:
    assert probe.redact("failed: https://bob:hunter2@host/x.git") == "failed: https://host/x.git"


def test_a_paused_server_holds_clients_until_it_resumes(
    server: gitserver.GitServer, tmp_path: Path
) -> None:
    """What a hanging Git server looks like: the connection is taken, no answer comes."""
    url = server.create_repository("paused")
    authed = url.replace("http://", f"http://{USER}:{PASSWORD}@")
    server.pause()
    try:
        waiting = subprocess.Popen(
            ["git", "ls-remote", authed],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ, GIT_TERMINAL_PROMPT="0"),
        )
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=1)
    finally:
        server.resume()
    out, _ = waiting.communicate(timeout=30)
    assert b"refs/heads/main" in out


def test_a_stopped_server_refuses_and_starts_again_at_the_same_address(tmp_path: Path) -> None:
    credentials = gitserver.Credentials(users={USER: PASSWORD})
    server = gitserver.GitServer(tmp_path / "srv", credentials).start()
    try:
        url = server.create_repository("again")
        authed = url.replace("http://", f"http://{USER}:{PASSWORD}@")
        server.stop()
        refused = _git("ls-remote", authed)
        assert refused.returncode != 0
        server.start()
        assert server.url in url
        assert "refs/heads/main" in _git("ls-remote", authed).stdout
    finally:
        server.stop()
