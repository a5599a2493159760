"""Run a render case the way kpt's e2e runner checks its own ``fn-render`` cases.

The package is committed to a fresh Git repository, ``lanai fn render`` runs over it from
the directory above (exec paths and ``-o DIR`` are relative to it), and the outcome is
what kpt compares: the exit code, substrings of stderr and stdout, the results file and
the exact ``git diff`` of everything the render changed (index lines left out: they
only repeat the contents' hashes).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanai import cli

PACKAGE = "pkg"


@dataclass(frozen=True)
class Case:
    """One behaviour: the package, the flags, and what kpt's runner would check."""

    name: str
    files: dict[str, str]
    args: tuple[str, ...] = ()
    exit_code: int = 0
    stderr: tuple[str, ...] = ()
    """Substrings stderr must hold, in this order."""
    stdout: str = ""
    diff: str = ""
    results: str | None = None
    """The results file (``--results-dir``), when the case asks for one."""
    executables: dict[str, str] = field(default_factory=dict)
    """Scripts written beside the package (for ``exec:`` steps), made executable."""
    pipeline: tuple[tuple[str, ...], ...] = ()
    """Instead of ``fn render pkg ARGS``: these commands (``lanai`` arguments), each
    reading what the one before wrote to stdout, as ``set -o pipefail`` runs them."""


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stderr: str
    stdout: str
    diff: str
    results: str | None


def _git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.com",
         "-c", "core.quotepath=off", *args],
        capture_output=True, text=True, check=True, env={**os.environ, "GIT_DIFF_OPTS": ""},
    )  # fmt: skip
    return done.stdout


@contextlib.contextmanager
def _stdin(stream: Any) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved


def run(case: Case, where: Path) -> Outcome:
    package = where / PACKAGE
    for path, text in case.files.items():
        target = package / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for name, text in case.executables.items():
        script = where / name
        script.write_text(text)
        script.chmod(0o755)
    _git(package, "init", "-q")
    _git(package, "add", "--all")
    _git(package, "commit", "-q", "-m", "first", "--allow-empty")
    commands = case.pipeline or (("fn", "render", PACKAGE, *case.args),)
    err = io.StringIO()
    previous = Path.cwd()
    os.chdir(where)
    code = 0
    piped = b""
    try:
        for number, command in enumerate(commands):
            argv = [a.replace("{results}", str(where / "results")) for a in command]
            out = io.StringIO()
            stdin = io.TextIOWrapper(io.BytesIO(piped)) if number else sys.stdin
            with (
                contextlib.redirect_stderr(err),
                contextlib.redirect_stdout(out),
                _stdin(stdin),
            ):
                status = cli.main(argv)
            code = status or code  # pipefail: the last command that failed
            piped = out.getvalue().encode()
    finally:
        os.chdir(previous)
    _git(package, "add", "--all")
    diff = _git(package, "diff", "--cached", "HEAD")
    diff = "\n".join(line for line in diff.split("\n") if not line.startswith("index "))
    results_file = where / "results" / "results.yaml"
    results = results_file.read_text() if results_file.exists() else None
    stderr = re.sub(r" in \d[\d.]*(ms|s|µs)\n", " in 0s\n", err.getvalue())
    return Outcome(code, stderr, piped.decode(), diff.strip(), results)
