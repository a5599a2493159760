from __future__ import annotations

from lanai.kpt import package

KPTFILE = b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: x\n"

TREE: package.PackageTree = {
    "Kptfile": KPTFILE,
    "deploy.yaml": b"kind: A\n",
    "README.md": b"# readme\n",
    "ignored/x.yaml": b"kind: B\n",
    "tmp.yml": b"kind: C\n",
    "data.json": b"{}",
    ".krmignore": b"# comment\nignored/\n*.yml\n",
    "nested/dir/more.yaml": b"kind: D\n",
    "sub/Kptfile": KPTFILE,
    "sub/a.yaml": b"kind: E\n",
    "sub/deeper/Kptfile": KPTFILE,
    "sub/deeper/b.yaml": b"kind: F\n",
    "other/inner/Kptfile": KPTFILE,
    "other/inner/c.yaml": b"kind: G\n",
}


def test_subpackages_are_directories_with_a_kptfile() -> None:
    assert package.packages(TREE) == ["", "other/inner", "sub", "sub/deeper"]
    assert package.subpackages(TREE, "sub") == ["sub/deeper"]
    assert package.direct_subpackages(TREE) == ["other/inner", "sub"]
    assert package.direct_subpackages(TREE, "sub") == ["sub/deeper"]
    assert package.owner(TREE, "sub/deeper/b.yaml") == "sub/deeper"
    assert package.owner(TREE, "nested/dir/more.yaml") == ""


def test_own_resources_skip_subpackages_krmignore_and_non_krm() -> None:
    assert package.resource_files(TREE) == [
        "Kptfile",
        "data.json",
        "deploy.yaml",
        "nested/dir/more.yaml",
    ]
    assert package.resource_files(TREE, "sub") == ["sub/Kptfile", "sub/a.yaml"]


def test_krmignore_patterns() -> None:
    assert package.is_ignored(["*.yml"], "a/b.yml")
    assert package.is_ignored(["/top.yaml"], "top.yaml")
    assert not package.is_ignored(["/top.yaml"], "a/top.yaml")
    assert package.is_ignored(["build/"], "build/x.yaml")
    assert not package.is_ignored(["build/"], "build")
    assert not package.is_ignored(["*.yaml", "!keep.yaml"], "keep.yaml")


def test_normalize_refuses_escapes() -> None:
    assert package.normalize("a/./b/../c.yaml") == "a/c.yaml"
    assert package.normalize("../x.yaml") is None
    assert package.normalize("a/../../x.yaml") is None
    assert package.normalize("/etc/passwd") is None
