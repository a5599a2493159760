"""A package directory on disk: symlinks are never read through or written through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lanai.kpt import ondisk

KPTFILE = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: x\n"
TREE = {
    "Kptfile": KPTFILE,
    "deploy.yaml": b"kind: A\n",
    "nested/dir/more.yaml": b"kind: D\n",
    "sub/Kptfile": KPTFILE,
}


def test_load_and_save_round_trip_and_leave_git_alone(tmp_path: Path) -> None:
    ondisk.save(TREE, tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / "sub" / ".git").write_text("gitdir: elsewhere\n")
    assert ondisk.load(tmp_path) == ondisk.Loaded(TREE)
    smaller = dict(TREE)
    del smaller["nested/dir/more.yaml"]
    ondisk.save(smaller, tmp_path)
    assert ondisk.load(tmp_path).tree == smaller
    assert not (tmp_path / "nested").exists()
    assert (tmp_path / ".git" / "HEAD").exists()
    assert (tmp_path / "sub" / ".git").exists()


def test_symlinks_are_skipped_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0\n")
    (outside / "cm.yaml").write_text("kind: Secret\n")
    package = tmp_path / "pkg"
    ondisk.save(TREE, package)
    (package / "passwd.yaml").symlink_to(outside / "passwd")
    (package / "linked").symlink_to(outside)
    (package / "dangling.yaml").symlink_to(tmp_path / "nowhere")
    loaded = ondisk.load(package)
    assert loaded.tree == TREE
    assert [(s.path, s.kind) for s in loaded.skipped] == [
        ("dangling.yaml", "symlink"),
        ("linked", "symlink"),
        ("passwd.yaml", "symlink"),
    ]
    assert loaded.skipped[2].warning() == (
        '[WARN] ignoring symlink "passwd.yaml": symlinks within the package are ignored'
    )


def test_fifos_are_skipped_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")  # reading it would block forever
    (tmp_path / "Kptfile").write_bytes(KPTFILE)
    loaded = ondisk.load(tmp_path)
    assert loaded.tree == {"Kptfile": KPTFILE}
    assert [(s.path, s.kind) for s in loaded.skipped] == [("pipe.yaml", "special file")]


@pytest.mark.parametrize(
    ("name", "what"),
    [("bad\nname.yaml", "control character"), (".GIT", '".git" segment')],
)
def test_a_file_name_the_rules_refuse_stops_the_load(tmp_path: Path, name: str, what: str) -> None:
    (tmp_path / "Kptfile").write_bytes(KPTFILE)
    (tmp_path / name).write_text("x")
    with pytest.raises(ondisk.DirectoryError, match=what):
        ondisk.load(tmp_path)


def test_a_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Kptfile").write_bytes(KPTFILE)
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.yaml"), "w") as file:
        file.write("x")
    with pytest.raises(ondisk.DirectoryError, match="not UTF-8"):
        ondisk.load(tmp_path)


def test_save_never_writes_through_a_symlinked_file(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("mine\n")
    package = tmp_path / "pkg"
    ondisk.save(TREE, package)
    (package / "cm.yaml").symlink_to(outside)
    changed = {**TREE, "deploy.yaml": b"kind: Changed\n", "cm.yaml": b"kind: ConfigMap\n"}
    with pytest.raises(ondisk.DirectoryError, match=r'"cm\.yaml": it is a symlink'):
        ondisk.save(changed, package)
    assert outside.read_text() == "mine\n"
    assert (package / "deploy.yaml").read_bytes() == b"kind: A\n"  # nothing half-written


def test_save_never_writes_through_a_symlinked_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    package = tmp_path / "pkg"
    ondisk.save(TREE, package)
    (package / "linked").symlink_to(outside)
    with pytest.raises(ondisk.DirectoryError, match='"linked" is a symlink'):
        ondisk.save({**TREE, "linked/cm.yaml": b"kind: ConfigMap\n"}, package)
    assert list(outside.iterdir()) == []


def test_save_leaves_symlinks_it_did_not_read_where_they_are(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("mine\n")
    package = tmp_path / "pkg"
    ondisk.save(TREE, package)
    (package / "nested" / "dir" / "link.yaml").symlink_to(outside)
    ondisk.save({"Kptfile": KPTFILE}, package)
    assert (package / "nested" / "dir" / "link.yaml").is_symlink()
    assert outside.read_text() == "mine\n"


def test_save_refuses_bad_paths_before_writing_anything(tmp_path: Path) -> None:
    ondisk.save(TREE, tmp_path)
    for bad in ("../escape.yaml", "/etc/passwd", ".git/config", "a\nb"):
        with pytest.raises(ondisk.DirectoryError):
            ondisk.save({"Kptfile": b"changed", bad: b"x"}, tmp_path)
        assert (tmp_path / "Kptfile").read_bytes() == KPTFILE
    assert not (tmp_path.parent / "escape.yaml").exists()


def test_save_keeps_the_mode_of_a_rewritten_file(tmp_path: Path) -> None:
    ondisk.save({"run.sh": b"echo 1\n"}, tmp_path)
    (tmp_path / "run.sh").chmod(0o755)
    ondisk.save({"run.sh": b"echo 2\n"}, tmp_path)
    assert (tmp_path / "run.sh").read_bytes() == b"echo 2\n"
    assert (tmp_path / "run.sh").stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.sh"]  # no temporary left


def test_a_symlinked_directory_argument_is_resolved_with_kpts_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg").mkdir()
    monkeypatch.chdir(tmp_path / "pkg")
    Path("new-link").symlink_to(".")
    resolved, warning = ondisk.resolve("new-link")
    assert resolved == (tmp_path / "pkg").resolve()
    assert warning == (
        '[WARN] resolved symlink "new-link" to ".", please note that the symlinks within '
        "the package are ignored"
    )
    assert ondisk.resolve(str(tmp_path / "pkg")) == ((tmp_path / "pkg").resolve(), None)
