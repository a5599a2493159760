"""Crash and freeze points act only where and for whom they are armed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROGRAM = (
    "from lanai import faults\n"
    "faults.point('somewhere', 'this')\n"
    "faults.point('somewhere', 'this')\n"  # a freeze acts once
    "print('went past', flush=True)\n"
)


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LANAI_")}
    return subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("armed", "crashes"),
    [
        ("", False),
        ("somewhere", True),
        ("somewhere:this", True),
        ("somewhere:that", False),
        ("elsewhere", False),
        ("somewhere:", False),
    ],
)
def test_a_crash_point_kills_only_where_armed(armed: str, crashes: bool) -> None:
    done = _run(LANAI_CRASH_AT=armed) if armed else _run()
    if crashes:
        assert done.returncode == 137
        assert "went past" not in done.stdout
        assert f"crashing at {armed}" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert "went past" in done.stdout


def _state(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2]


def test_a_freeze_point_stops_the_process_once_until_it_is_continued() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LANAI_")}
    child = subprocess.Popen(
        [sys.executable, "-c", PROGRAM],
        env={**clean, "LANAI_FREEZE_AT": "somewhere:this"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _state(child.pid) != "T":
            assert child.poll() is None, "exited instead of freezing"
            assert time.monotonic() < deadline, "never froze"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGCONT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err
    assert out == "went past\n"
    assert err.count("freezing at somewhere:this") == 1
