"""cloneFrom.git mirrors: one per namespace and credentials, never answering unfetched."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from lanai.git import probe
from lanai.local import gitserver
from lanai.tasks import gitsource
from tests.support import guards

USER, PASSWORD = "team-a", "gitsource-pass-1"
KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: secret-pkg\n"


@pytest.fixture
def private(tmp_path: Path) -> tuple[gitserver.GitServer, str]:
    """A private repository holding a package, and a server that wants credentials."""
    server = gitserver.GitServer(
        tmp_path / "srv", gitserver.Credentials(users={USER: PASSWORD})
    ).start()
    url = server.create_repository("private")
    work = tmp_path / "work"
    authed = url.replace("://", f"://{USER}:{PASSWORD}@")
    subprocess.run(["git", "clone", "-q", authed, str(work)], check=True)
    (work / "pkg").mkdir()
    (work / "pkg" / "Kptfile").write_text(KPTFILE)
    for args in (["add", "."], ["commit", "-qm", "package"], ["push", "-q", "origin", "main"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@x", "-C", str(work), *args],
            check=True,
        )
    yield server, url
    server.stop()


def test_a_mirror_is_never_shared_across_namespaces_or_credentials(
    private: tuple[gitserver.GitServer, str], tmp_path: Path
) -> None:
    _server, url = private
    sources = gitsource.GitSources(tmp_path / "upstreams", guards.local())
    auth = probe.RemoteAuth(USER, PASSWORD)
    fetched = asyncio.run(sources.read("team-a", url, "main", "pkg", auth))
    assert fetched.files["Kptfile"].decode() == KPTFILE
    # Another namespace, without credentials or with wrong ones: the files fetched for
    # team-a are on disk, but nothing answers from them without a fetch of its own.
    for auth_b in (None, probe.RemoteAuth(USER, "guessed-wrong")):
        with pytest.raises(gitsource.GitSourceError, match="authentication failed"):
            asyncio.run(sources.read("team-b", url, "main", "pkg", auth_b))
        with pytest.raises(gitsource.GitSourceError):
            asyncio.run(sources.read("team-b", url, fetched.commit, "pkg", auth_b))
    keys = {
        sources.mirror_key("team-a", url, auth),
        sources.mirror_key("team-b", url, auth),
        sources.mirror_key("team-a", url, None),
        sources.mirror_key("team-a", url, probe.RemoteAuth(USER, "other")),
        sources.mirror_key("team-a", url + "x", auth),
    }
    assert len(keys) == 5
    assert sources.mirror_key("team-a", url, auth) == sources.mirror_key("team-a", url, auth)
    assert PASSWORD not in str(sorted(p.name for p in (tmp_path / "upstreams").iterdir()))


def test_refused_sources_say_why_and_nothing_about_the_disk(tmp_path: Path) -> None:
    sources = gitsource.GitSources(tmp_path / "upstreams", guards.local())
    mirror = gitserver.init_bare(tmp_path / "upstreams-of-someone" / "mirror.git")
    for url in (f"file://{mirror}", str(mirror), f"file://{tmp_path}/missing"):
        with pytest.raises(gitsource.GitSourceError) as refused:
            asyncio.run(sources.read("team-b", url, "main", "", None))
        message = str(refused.value)
        assert "must be an https:// or http:// URL" in message
        assert "exist" not in message
        assert str(tmp_path) not in message
    upstreams = tmp_path / "upstreams"
    assert not upstreams.exists() or not any(upstreams.iterdir())  # nothing was made
