"""``lanai pkg update`` merges a new upstream into a local directory, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: app\n"


def _configmap(data: dict[str, str]) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: settings", "data:"]
    return "\n".join(lines + [f'  {k}: "{v}"' for k, v in data.items()]) + "\n"


def _package(directory: Path, data: dict[str, str], **extra: str) -> Path:
    directory.mkdir()
    (directory / "Kptfile").write_text(KPTFILE)
    (directory / "settings.yaml").write_text(_configmap(data))
    for name, text in extra.items():
        (directory / name).write_text(text)
    return directory


def _lanai(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lanai", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_update_keeps_local_changes_and_takes_upstream_ones(tmp_path: Path) -> None:
    original = _package(tmp_path / "v1", {"replicas": "1", "tier": "web"})
    upstream = _package(tmp_path / "v2", {"replicas": "2", "tier": "web"}, NOTES="read me\n")
    local = _package(tmp_path / "site", {"replicas": "1", "tier": "edge"})
    done = _lanai("pkg", "update", local, "--original", original, "--upstream", upstream)
    assert done.returncode == 0, done.stderr
    merged = (local / "settings.yaml").read_text()
    assert 'replicas: "2"' in merged
    assert 'tier: "edge"' in merged
    assert "updated settings.yaml" in done.stdout
    assert "added NOTES" in done.stdout


def test_fast_forward_over_local_changes_is_refused_and_leaves_the_directory(
    tmp_path: Path,
) -> None:
    original = _package(tmp_path / "v1", {"replicas": "1"})
    upstream = _package(tmp_path / "v2", {"replicas": "2"})
    local = _package(tmp_path / "site", {"replicas": "5"})
    before = (local / "settings.yaml").read_text()
    done = _lanai(
        "pkg", "update", local, "--original", original, "--upstream", upstream,
        "--strategy", "fast-forward",
    )  # fmt: skip
    assert done.returncode == 1
    assert "local package files have been modified" in done.stderr
    assert "is unchanged" in done.stderr
    assert (local / "settings.yaml").read_text() == before


def test_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    local = _package(tmp_path / "site", {"replicas": "5"})
    done = _lanai("pkg", "update", local, "--original", tmp_path / "nope", "--upstream", local)
    assert done.returncode == 2
    assert "--original" in done.stderr
    assert "is not a directory" in done.stderr


def test_symlinks_are_neither_read_nor_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(_configmap({"replicas": "9"}))
    original = _package(tmp_path / "v1", {"replicas": "1"})
    upstream = _package(tmp_path / "v2", {"replicas": "2"}, **{"extra.yaml": "kind: A\n"})
    local = _package(tmp_path / "site", {"replicas": "1"})
    (upstream / "passwd.yaml").symlink_to("/etc/passwd")
    (local / "extra.yaml").symlink_to(outside)  # where the upstream adds a file
    done = _lanai("pkg", "update", local, "--original", original, "--upstream", upstream)
    assert done.returncode == 1
    assert '"extra.yaml": it is a symlink on disk' in done.stderr
    assert '[WARN] ignoring symlink "passwd.yaml"' in done.stderr
    assert outside.read_text() == _configmap({"replicas": "9"})
    assert 'replicas: "1"' in (local / "settings.yaml").read_text()  # nothing half-written
    assert not (local / "passwd.yaml").exists()


def test_a_symlinked_dir_is_resolved_like_kpt(tmp_path: Path) -> None:
    original = _package(tmp_path / "v1", {"replicas": "1"})
    upstream = _package(tmp_path / "v2", {"replicas": "2"})
    local = _package(tmp_path / "site", {"replicas": "1"})
    (tmp_path / "link").symlink_to(local)
    done = _lanai(
        "pkg", "update", tmp_path / "link", "--original", original, "--upstream", upstream
    )
    assert done.returncode == 0, done.stderr
    assert "[WARN] resolved symlink" in done.stderr
    assert 'replicas: "2"' in (local / "settings.yaml").read_text()
    assert (tmp_path / "link").is_symlink()


def test_a_file_name_the_rules_refuse_stops_the_update(tmp_path: Path) -> None:
    original = _package(tmp_path / "v1", {"replicas": "1"})
    upstream = _package(tmp_path / "v2", {"replicas": "2"}, **{"bad\nname.yaml": "kind: A\n"})
    local = _package(tmp_path / "site", {"replicas": "1"})
    done = _lanai("pkg", "update", local, "--original", original, "--upstream", upstream)
    assert done.returncode == 1
    assert 'file name "bad\\nname.yaml" holds a control character' in done.stderr
    assert 'replicas: "1"' in (local / "settings.yaml").read_text()
