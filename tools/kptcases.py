"""Measure ``lanai fn render`` against kpt's own render e2e cases, as kpt's runner checks them.

Usage: ``python -m tools.kptcases KPT_CHECKOUT [CASE_SUBSTRING ...] [-v]``

KPT_CHECKOUT is a kpt source tree (or an extract of one) holding
``e2e/testdata/fn-render``; nothing of it is copied into this repository. Each case is run
the way kpt's runner (``pkg/test/runner``) runs it: the case directory is copied into a
temporary directory and committed to a fresh Git repository, ``.expected/setup.sh`` runs
there, then ``.expected/exec.sh`` (with ``kpt`` on PATH meaning ``lanai``) or
``lanai fn render PKG`` with the flags the case's ``config.yaml`` asks for, from the
``e2e`` directory (relative ``exec:`` paths are relative to it). The run passes when the
exit code, stderr and stdout (substrings and regular expression), the results file and
the exact ``git diff`` against the first commit all match.

Only cases whose functions Lanai can run are measured: every ``image`` must be a builtin
catalog function (``exec`` functions are local executables and count); WASM cases are
left out. Out-of-scope cases are listed with the reason.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lanai.functions import builtin, images

EXPECTED = ".expected"
LANAI = str(Path(sys.executable).with_name("lanai"))


@dataclass
class Outcome:
    name: str
    passed: bool
    reason: str = ""
    detail: str = ""


def cases(root: Path) -> list[Path]:
    """Directories holding a ``.expected`` directory, as kpt's ScanTestCases finds them."""
    found = []
    for directory, subdirs, _ in os.walk(root):
        subdirs.sort()
        if EXPECTED in subdirs and Path(directory, EXPECTED).is_dir():
            found.append(Path(directory))
        subdirs[:] = [d for d in subdirs if d != EXPECTED]
    return sorted(found)


def config_of(case: Path) -> dict[str, Any]:
    path = case / EXPECTED / "config.yaml"
    if not path.exists():
        return {}
    loaded = yaml.safe_load(path.read_text()) or {}
    return loaded if isinstance(loaded, dict) else {}


def out_of_scope(case: Path, config: dict[str, Any]) -> str:
    """Why the case is not measured, or "" when every function is one Lanai runs."""
    if config.get("allowWasm"):
        return "WASM runtime"
    if config.get("testType", "render") != "render":
        return "not a render case"
    texts = [
        p.read_text(errors="replace") for p in case.rglob("Kptfile") if EXPECTED not in p.parts
    ]
    script = case / EXPECTED / "exec.sh"
    if script.exists():
        texts.append(script.read_text())
    for text in texts:
        for image in re.findall(r"image:\s*['\"]?([^\s'\"#]+)", text):
            function = images.catalog_function(image)
            if function is None or builtin.lookup(function.name) is None:
                return f"image {image} is not a builtin"
    return ""


def _strip_lines(text: str, lines: list[str]) -> str:
    for line in lines or []:
        text = text.replace(line + "\n", "")
    return text


def _sanitize_timestamps(stderr: str) -> str:
    out = []
    for line in stderr.split("\n"):
        if line.startswith("[PASS]") or line.startswith("[FAIL]"):
            tokens = line.split()
            if len(tokens) == 4 and tokens[2] == "in":
                tokens[3] = "0s"
                line = " ".join(tokens)
        out.append(line)
    return "\n".join(out)


def _normalize_diff(diff: str, strip: str) -> str:
    pattern = re.compile(strip)
    out = []
    for line in diff.split("\n"):
        if pattern.search(line):
            continue
        line = re.sub(r"^index [0-9a-f]+\.\.[0-9a-f]+", "index NORMALIZED", line)
        line = re.sub(r"^@@ -\d+,\d+ \+\d+,\d+ @@", "@@ NORMALIZED @@", line)
        out.append(line)
    return "\n".join(out)


def _git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_DIFF_OPTS": ""},
    )
    return done.stdout


def _commit(directory: Path, message: str) -> None:
    _git(directory, "add", "--all")
    _git(directory, "-c", "user.name=none", "-c", "user.email=none", "commit", "-q", "-m", message,
         "--allow-empty")  # fmt: skip


def run_case(case: Path, e2e: Path) -> Outcome:
    config = config_of(case)
    name = str(case.relative_to(e2e / "testdata" / "fn-render"))
    tmp = Path(tempfile.mkdtemp(prefix="kpt-pipeline-e2e-"))
    try:
        pkg = tmp / case.name
        shutil.copytree(case, pkg, symlinks=True)
        _git(pkg, "init", "-q")
        _commit(pkg, "first")
        first = _git(pkg, "log", "-n", "1", "--pretty=format:%h")
        bindir = tmp / "bin"
        bindir.mkdir()
        shim = bindir / "kpt"
        shim.write_text(f'#!/bin/sh\nexec "{LANAI}" "$@"\n')
        shim.chmod(0o755)
        env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
        for key, value in (config.get("env") or {}).items():
            env[str(key)] = str(value)
        setup = case / EXPECTED / "setup.sh"
        if setup.exists():
            subprocess.run(["bash", str(setup.resolve())], cwd=pkg, env=env, capture_output=True)
        results_dir = tmp / "results" if (case / EXPECTED / "results.yaml").exists() else None
        script = case / EXPECTED / "exec.sh"
        if script.exists():
            command = ["bash", str(script.resolve())]
            cwd = pkg
        else:
            command = [LANAI, "fn", "render", str(pkg)]
            if results_dir:
                command += ["--results-dir", str(results_dir)]
            if (case / "out").is_dir():
                command += ["-o", str(pkg / "out")]
            if config.get("imagePullPolicy"):
                command += ["--image-pull-policy", str(config["imagePullPolicy"])]
            if config.get("allowExec"):
                command += ["--allow-exec"]
            if config.get("disableOutputTruncate"):
                command += ["--truncate-output=false"]
            cwd = e2e
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        return compare(name, case, config, done, pkg, first, results_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compare(
    name: str,
    case: Path,
    config: dict[str, Any],
    done: subprocess.CompletedProcess[str],
    pkg: Path,
    first: str,
    results_dir: Path | None,
) -> Outcome:
    stderr = _strip_lines(_sanitize_timestamps(done.stderr), config.get("stdErrStripLines") or [])
    stderr = re.sub(r"/?\w+/kpt-pipeline-e2e-\w+/", "", stderr)
    want_exit = int(config.get("exitCode") or 0)
    if done.returncode != want_exit:
        return Outcome(name, False, f"exit code {done.returncode}, want {want_exit}", stderr)
    want_stderr = str(config.get("stdErr") or "")
    if want_stderr not in stderr:
        return Outcome(name, False, "stderr", f"want:\n{want_stderr}\ngot:\n{stderr}")
    regex = config.get("stdErrRegEx") or config.get("StdErrRegEx")
    if regex and not re.search(str(regex), stderr):
        return Outcome(name, False, "stderr regex", f"want /{regex}/\ngot:\n{stderr}")
    want_stdout = str(config.get("stdOut") or "")
    if want_stdout not in done.stdout:
        return Outcome(name, False, "stdout", f"want:\n{want_stdout}\ngot:\n{done.stdout}")
    actual_results = ""
    if results_dir is not None and results_dir.is_dir():
        files = list(results_dir.iterdir())
        if len(files) > 1:
            return Outcome(name, False, "results", f"{len(files)} result files")
        if files:
            actual_results = files[0].read_text().strip()
    actual_results = _strip_lines(actual_results, config.get("actualStripLines") or [])
    expected_results_file = case / EXPECTED / "results.yaml"
    expected_results = (
        expected_results_file.read_text().strip() if expected_results_file.exists() else ""
    )
    if actual_results != expected_results:
        return Outcome(name, False, "results", _udiff(expected_results, actual_results))
    _commit(pkg, "second")
    actual_diff = _git(pkg, "diff", first, "HEAD").strip()
    patch = case / EXPECTED / "diff.patch"
    expected_diff = patch.read_text().strip() if patch.exists() else ""
    strip = config.get("diffStripRegEx")
    if strip:
        actual_diff = _normalize_diff(actual_diff, str(strip))
        expected_diff = _normalize_diff(expected_diff, str(strip))
    if actual_diff != expected_diff:
        return Outcome(name, False, "diff", _udiff(expected_diff, actual_diff))
    return Outcome(name, True)


def _udiff(expected: str, actual: str) -> str:
    import difflib

    return "\n".join(
        difflib.unified_diff(
            expected.split("\n"), actual.split("\n"), "expected", "actual", lineterm=""
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kpt", type=Path, help="a kpt checkout holding e2e/testdata/fn-render")
    parser.add_argument("only", nargs="*", help="run only cases whose name contains one of these")
    parser.add_argument("-v", "--verbose", action="store_true", help="show why each case failed")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    args = parser.parse_intermixed_args(argv)
    e2e = (args.kpt / "e2e").resolve()
    root = e2e / "testdata" / "fn-render"
    measured: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for case in cases(root):
        name = str(case.relative_to(root))
        if args.only and not any(part in name for part in args.only):
            continue
        reason = out_of_scope(case, config_of(case))
        if reason:
            skipped.append((name, reason))
        else:
            measured.append(case)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(lambda case: run_case(case, e2e), measured))
    for outcome in outcomes:
        mark = "PASS" if outcome.passed else "FAIL"
        reason = f"  ({outcome.reason})" if outcome.reason else ""
        print(f"{mark} {outcome.name}{reason}")
        if args.verbose and not outcome.passed:
            print("    " + outcome.detail.replace("\n", "\n    "))
    for name, reason in skipped:
        print(f"SKIP {name}  ({reason})")
    passed = sum(o.passed for o in outcomes)
    print(f"\n{passed}/{len(outcomes)} passed; {len(skipped)} out of scope")
    return 0 if passed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
