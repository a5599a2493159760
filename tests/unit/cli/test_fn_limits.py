"""``lanai fn render/eval`` against pipelines that attack memory and time, as a user runs it.

Whatever a function does, the user sees exit code 1 and one line on stderr that names the
function and the limit: no Python traceback, no Rust panic, no file changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import pipelines
from tests.support.pipelines import STARLARK_IMAGE
from tests.unit.cli.test_fn import lanai, snapshot


def _package(tmp_path: Path, source: str) -> Path:
    directory = tmp_path / "attack"
    directory.mkdir()
    for path, text in pipelines.starlark_package(source).items():
        (directory / path).write_text(text)
    return directory


def _no_crash_text(*outputs: str) -> None:
    for output in outputs:
        for marker in ("Traceback", "panicked", "RUST_BACKTRACE", "PanicException"):
            assert marker not in output


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("source", "flags", "limit"),
    [
        (pipelines.HUGE_LIST, [], "256 MiB memory limit"),
        (pipelines.DOUBLING, [], "256 MiB memory limit"),
        (pipelines.DOUBLING, ["--memory", "64Mi"], "64 MiB memory limit"),
        (pipelines.ENDLESS, ["--timeout", "1"], "1 s time limit"),
    ],
    ids=["list-of-a-billion", "string-doubling", "smaller-memory", "endless-loop"],
)
def test_render_stops_a_hostile_function_in_one_line(
    tmp_path: Path, source: str, flags: list[str], limit: str
) -> None:
    directory = _package(tmp_path, source)
    before = snapshot(directory)
    done = lanai("fn", "render", str(directory), *flags, timeout=120)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    # kpt's progress, then its one closing error line
    assert lines[-1].rstrip() == f"Error: function {STARLARK_IMAGE} exceeded its {limit}"
    _no_crash_text(done.stdout, done.stderr)
    after = snapshot(directory)
    assert {k: v for k, v in after.items() if k != "Kptfile"} == {
        k: v for k, v in before.items() if k != "Kptfile"
    }


def test_eval_stops_a_hostile_function_in_one_line(tmp_path: Path) -> None:
    directory = _package(tmp_path, pipelines.HARMLESS)
    before = snapshot(directory)
    done = lanai(
        "fn", "eval", str(directory), "--image", "starlark:v0.5.0", "--memory", "64",
        "--", f"source={pipelines.DOUBLING}",
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    # kpt's progress, then its one closing error line
    assert lines[-1].rstrip() == (
        f"Error: function {STARLARK_IMAGE} exceeded its 64 MiB memory limit"
    )
    _no_crash_text(done.stdout, done.stderr)
    assert snapshot(directory) == before


def test_a_harmless_pipeline_still_renders_in_the_box(tmp_path: Path) -> None:
    directory = _package(tmp_path, pipelines.HARMLESS)
    done = lanai("fn", "render", str(directory), "--memory", "64", "--timeout", "30", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "harmless" in done.stderr  # the function's stderr, in kpt's " Stderr:" line
    assert "RenderSuccess" in (directory / "Kptfile").read_text()


@pytest.mark.parametrize(
    ("flag", "value", "complaint"),
    [
        ("--memory", "8", "memory limit 8 MiB is outside 32 MiB"),
        ("--memory", "lots", "is not a size"),
        ("--timeout", "0", "is outside 0 s"),
        ("--timeout", "soon", "is not a duration"),
    ],
)
def test_bad_limits_are_usage_errors(tmp_path: Path, flag: str, value: str, complaint: str) -> None:
    directory = _package(tmp_path, pipelines.HARMLESS)
    done = lanai("fn", "render", str(directory), flag, value)
    assert done.returncode == 2
    assert complaint in done.stderr
    _no_crash_text(done.stderr)
