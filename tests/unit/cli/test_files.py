from __future__ import annotations

from pathlib import Path

import pytest

from lanai.cli import files, kube

PRR = {
    "metadata": {
        "name": "bp.basens.v1",
        "namespace": "team",
        "uid": "u-1",
        "resourceVersion": "42",
        "managedFields": [{"manager": "lanai"}],
    }
}
KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: basens\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"


def test_pull_writes_files_and_metadata_and_push_reads_them_back(tmp_path: Path) -> None:
    target = tmp_path / "pkg"
    resources = {"Kptfile": KPTFILE, "sub/cm.yaml": CONFIGMAP, "README.md": "# hi\n"}
    files.write_dir(target, "bp.basens.v1", resources, files.metadata_text(PRR))
    assert (target / "sub" / "cm.yaml").read_text() == CONFIGMAP
    read, marker = files.read_dir(target)
    assert read == resources
    assert marker is not None
    assert files.pulled_from(marker) == ("bp.basens.v1", "42")
    assert "managedFields" not in marker


def test_pulling_again_refreshes_the_copy_and_drops_files_gone_on_the_server(
    tmp_path: Path,
) -> None:
    files.write_dir(tmp_path, "bp.basens.v1", {"a.yaml": CONFIGMAP}, files.metadata_text(PRR))
    files.write_dir(tmp_path, "bp.basens.v1", {"b.yaml": CONFIGMAP}, files.metadata_text(PRR))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".KptRevisionMetadata", "b.yaml"]


def test_pull_never_overwrites_a_directory_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(kube.Failure, match="not empty"):
        files.write_dir(tmp_path, "bp.basens.v1", {"a.yaml": CONFIGMAP}, files.metadata_text(PRR))
    other = tmp_path / "other"
    files.write_dir(other, "bp.other.v1", {}, files.metadata_text({"metadata": {"name": "x"}}))
    with pytest.raises(kube.Failure, match="not a pulled copy"):
        files.write_dir(other, "bp.basens.v1", {}, files.metadata_text(PRR))


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("../escape.yaml", '".." segment'),
        ("/etc/passwd", 'starts with "/"'),
        (".git/config", '".git" segment'),
        (".GIT/config", '".git" segment'),
        ("a/./b.yaml", '"." segment'),
        ("a\nb.yaml", "control character"),
        (".KptRevisionMetadata", "metadata file"),
    ],
)
def test_unsafe_paths_from_the_server_are_refused_and_nothing_is_written(
    tmp_path: Path, path: str, what: str
) -> None:
    target = tmp_path / "p"
    with pytest.raises(kube.Failure, match="will not write") as refused:
        files.write_dir(target, "n", {"ok.yaml": "x", path: "x"}, files.metadata_text(PRR))
    assert what in str(refused.value)
    assert not target.exists()


def test_pull_never_writes_through_a_symlink_in_the_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("mine\n")
    target = tmp_path / "pkg"
    files.write_dir(target, "bp.basens.v1", {"a.yaml": CONFIGMAP}, files.metadata_text(PRR))
    (target / "cm.yaml").symlink_to(outside)
    with pytest.raises(kube.Failure, match="symlink"):
        files.write_dir(
            target,
            "bp.basens.v1",
            {"a.yaml": "new", "cm.yaml": CONFIGMAP},
            files.metadata_text(PRR),
        )
    assert outside.read_text() == "mine\n"
    assert (target / "a.yaml").read_text() == CONFIGMAP  # checked whole before any write


def test_push_ignores_symlinks_in_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0\n")
    target = tmp_path / "pkg"
    target.mkdir()
    (target / "Kptfile").write_text(KPTFILE)
    (target / "passwd.yaml").symlink_to(secret)
    (target / "linked").symlink_to(tmp_path)
    read, _marker = files.read_dir(target)
    assert read == {"Kptfile": KPTFILE}
    warned = capsys.readouterr().err
    assert '[WARN] ignoring symlink "passwd.yaml"' in warned
    assert '[WARN] ignoring symlink "linked"' in warned


def test_binary_files_cannot_be_pushed(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\xff\xfe")
    with pytest.raises(kube.Failure, match="not UTF-8"):
        files.read_dir(tmp_path)


def test_resource_list_round_trip_keeps_other_files() -> None:
    current = {"Kptfile": KPTFILE, "cm.yaml": CONFIGMAP, "README.md": "# hi\n"}
    pulled = {"metadata": {"name": "r.p.w", "namespace": "n", "resourceVersion": "7"}}
    text = files.as_resource_list(current, pulled)
    assert "kind: ResourceList" in text
    assert "README" not in text
    edited = text.replace("a: b", "a: changed")
    result, metadata = files.from_resource_list(edited, current)
    assert metadata is not None
    assert {k: metadata[k] for k in ("name", "namespace", "resourceVersion")} == pulled["metadata"]
    assert "a: changed" in result["cm.yaml"]
    assert result["README.md"] == "# hi\n"
    assert set(result) == set(current)
