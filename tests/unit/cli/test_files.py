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


@pytest.mark.parametrize("path", ["../escape.yaml", "/etc/passwd", ".git/config"])
def test_unsafe_paths_from_the_server_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(kube.Failure, match="unsafe path"):
        files.write_dir(tmp_path / "p", "n", {path: "x"}, files.metadata_text(PRR))


def test_binary_files_cannot_be_pushed(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\xff\xfe")
    with pytest.raises(kube.Failure, match="not UTF-8"):
        files.read_dir(tmp_path)


def test_resource_list_round_trip_keeps_other_files() -> None:
    current = {"Kptfile": KPTFILE, "cm.yaml": CONFIGMAP, "README.md": "# hi\n"}
    text = files.as_resource_list(current)
    assert "kind: ResourceList" in text
    assert "README" not in text
    edited = text.replace("a: b", "a: changed")
    result = files.from_resource_list(edited, current)
    assert "a: changed" in result["cm.yaml"]
    assert result["README.md"] == "# hi\n"
    assert set(result) == set(current)
