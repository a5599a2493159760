"""A person's working copy: the git CLI clones, commits and pushes like anyone would.

Tests use it to put content into the Git server behind the operator's back (as a
person, CI or Porch would), and read what the operator pushed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_USER = "blueprint-bot"
GIT_PASSWORD = "correct-horse-battery-staple"  # a test fixture, not a secret
GIT_TOKEN = "lanai-test-token-7f3a"

KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\n"


def git(workdir: Path, *args: str) -> str:
    env_args = ["-c", "user.name=Pat", "-c", "user.email=pat@example.com"]
    done = subprocess.run(
        ["git", *env_args, *args], cwd=workdir, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def clone(url: str, workdir: Path) -> Path:
    authed = url.replace("://", f"://{GIT_USER}:{GIT_PASSWORD}@")
    subprocess.run(["git", "clone", "-q", authed, str(workdir)], check=True, capture_output=True)
    return workdir


def commit_package(work: Path, path: str, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        target = work / path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)


def seed(
    url: str, work: Path, packages: dict[str, dict[str, str]], tags: tuple[str, ...] = ()
) -> Path:
    """Clone ``url`` into ``work``, commit each package (path → files) to main, tag the
    result with ``tags`` and push it all; the working copy, for more."""
    clone(url, work)
    for path, files in packages.items():
        commit_package(work, path, files, path)
    for tag in tags:
        git(work, "tag", tag)
    git(work, "push", "-q", "origin", "main", *tags)
    return work
