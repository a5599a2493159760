"""Kptfile merge, the other three strategies, bad input, and the generated merge keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lanai.kpt import kptfile as kf
from lanai.kpt import merge
from lanai.kpt.merge import schema
from tests.unit.kpt.merge.helpers import configmap, docs, kptfile, tree
from tools import gen_merge_keys


def _pipeline(*mutators: str) -> str:
    lines = ["pipeline:", "  mutators:"]
    for mutator in mutators:
        name, _, image = mutator.partition("=")
        lines.append(f"  - image: {image}" if not name else f"  - name: {name}\n    image: {image}")
    return "\n".join(lines) + "\n"


def _mutators(result: dict[str, bytes]) -> list[dict[str, str]]:
    return [
        dict(m)
        for m in kf.parse(result["Kptfile"]).model_dump(by_alias=True, exclude_none=True)[
            "pipeline"
        ]["mutators"]
    ]


PIPELINES = [
    # (case, original, upstream, local, expected [(name, image)])
    (
        "named functions: changed upstream, added on both sides",
        ("labels=set-labels:v1",),
        ("labels=set-labels:v2", "ns=set-namespace:v1"),
        ("labels=set-labels:v1", "mine=apply-setters:v1"),
        [("labels", "set-labels:v2"), ("mine", "apply-setters:v1"), ("ns", "set-namespace:v1")],
    ),
    (
        "unnamed functions are keyed by image without tag",
        ("=set-labels:v1", "=set-namespace:v1"),
        ("=set-labels:v2",),
        ("=set-labels:v1", "=set-namespace:v1", "=apply-setters:v1"),
        [(None, "set-labels:v2"), (None, "apply-setters:v1")],
    ),
    (
        "function removed locally stays removed",
        ("a=set-labels:v1", "b=set-namespace:v1"),
        ("a=set-labels:v1", "b=set-namespace:v1"),
        ("a=set-labels:v1",),
        [("a", "set-labels:v1")],
    ),
]


@pytest.mark.parametrize(
    ("original", "upstream", "local", "expected"),
    [row[1:] for row in PIPELINES],
    ids=[row[0] for row in PIPELINES],
)
def test_kptfile_pipeline_merge(
    original: tuple[str, ...], upstream: tuple[str, ...], local: tuple[str, ...], expected: list
) -> None:
    result = merge.upgrade(
        {"Kptfile": kptfile("up", _pipeline(*original))},
        {"Kptfile": kptfile("up", _pipeline(*upstream))},
        {"Kptfile": kptfile("mine", _pipeline(*local))},
        "resource-merge",
    )
    assert [(m.get("name"), m["image"]) for m in _mutators(result)] == expected
    assert kf.parse(result["Kptfile"]).metadata.name == "mine"


def test_kptfile_info_merges_and_upstream_is_not_merged() -> None:
    def k(name: str, description: str, ref: str) -> bytes:
        return kptfile(
            name,
            f"upstream:\n  type: git\n  git:\n    repo: r\n    directory: d\n    ref: {ref}\n"
            f"info:\n  description: {description} # why\n",
        )

    result = merge.upgrade(
        {"Kptfile": k("up", "old", "v1")},
        {"Kptfile": k("up", "new", "v2")},
        {"Kptfile": k("mine", "old", "v1")},
        "resource-merge",
    )
    text = result["Kptfile"].decode()
    assert "description: new # why" in text
    assert "ref: v1" in text  # the caller moves upstream with set_upstream_lock


def test_set_upstream_lock_moves_upstream_and_keeps_strategy() -> None:
    tree_ = {"Kptfile": kptfile("p", "upstream:\n  type: git\n  updateStrategy: copy-merge\n")}
    moved = merge.set_upstream_lock(tree_, "https://g/r.git", "pkgs/a", "a/v2", "abc123")
    parsed = kf.parse(moved["Kptfile"])
    assert parsed.upstream is not None
    assert parsed.upstream_lock is not None
    assert parsed.upstream.update_strategy == "copy-merge"
    assert parsed.upstream.git is not None
    assert parsed.upstream.git.ref == "a/v2"
    assert parsed.upstream_lock.git is not None
    assert parsed.upstream_lock.git.commit == "abc123"


def test_fast_forward_refuses_local_changes() -> None:
    original = tree(**{"cm.yaml": configmap("cm", {"a": "1"}), "README.md": "r"})
    upstream = tree(**{"cm.yaml": configmap("cm", {"a": "2"}), "README.md": "r"})
    local = tree(**{"cm.yaml": configmap("cm", {"a": "9"}), "README.md": "changed"})
    with pytest.raises(
        merge.MergeError,
        match=r"local package files have been modified: "
        r"README\.md, cm\.yaml",
    ):
        merge.upgrade(original, upstream, local, "fast-forward")


def test_fast_forward_takes_upstream_when_local_is_unchanged() -> None:
    original = tree(**{"cm.yaml": configmap("cm", {"a": "1"}), "old.md": "x"})
    upstream = tree(**{"cm.yaml": configmap("cm", {"a": "2"}), "new.md": "y"})
    # What clone leaves behind (merge identity, another name) is not a local change.
    local = {
        **tree(
            **{"cm.yaml": configmap("cm", {"a": "1"}, comment=" # kpt-merge: /cm"), "old.md": "x"}
        ),
        "Kptfile": kptfile("renamed"),
    }
    result = merge.upgrade(original, upstream, local, "fast-forward")
    assert sorted(result) == ["Kptfile", "cm.yaml", "new.md"]
    assert docs(result["cm.yaml"])[0]["data"] == {"a": "2"}
    assert kf.parse(result["Kptfile"]).metadata.name == "renamed"


def test_force_delete_replace_drops_local_content_but_keeps_the_name() -> None:
    original = tree(**{"cm.yaml": configmap("cm", {"a": "1"})})
    upstream = tree(**{"cm.yaml": configmap("cm", {"a": "2"})})
    local = {
        **tree(**{"cm.yaml": configmap("cm", {"a": "9"}), "mine.yaml": configmap("mine", {})}),
        "Kptfile": kptfile("renamed"),
    }
    result = merge.upgrade(original, upstream, local, "force-delete-replace")
    assert sorted(result) == ["Kptfile", "cm.yaml"]
    assert docs(result["cm.yaml"])[0]["data"] == {"a": "2"}
    assert kf.parse(result["Kptfile"]).metadata.name == "renamed"


def test_copy_merge_copies_upstream_keeps_local_only_and_drops_removed() -> None:
    original = tree(**{"cm.yaml": configmap("cm", {"a": "1"}), "gone.md": "g"})
    upstream = tree(**{"cm.yaml": configmap("cm", {"a": "2"}), "new.md": "n"})
    local = tree(**{"cm.yaml": configmap("cm", {"a": "9"}), "gone.md": "g", "mine.md": "m"})
    result = merge.upgrade(original, upstream, local, "copy-merge")
    assert sorted(result) == ["Kptfile", "cm.yaml", "mine.md", "new.md"]
    assert docs(result["cm.yaml"])[0]["data"] == {"a": "2"}


def test_unknown_strategy_lists_the_valid_ones() -> None:
    with pytest.raises(
        merge.MergeError, match="resource-merge, fast-forward, force-delete-replace, copy-merge"
    ):
        merge.upgrade(tree(), tree(), tree(), "rebase")


def test_upgrade_dirs_writes_the_local_directory(tmp_path: Path) -> None:
    for name, data in (("original", "1"), ("upstream", "2"), ("local", "1")):
        directory = tmp_path / name
        directory.mkdir()
        (directory / "Kptfile").write_bytes(kptfile())
        (directory / "cm.yaml").write_text(configmap("cm", {"a": data}))
    merge.upgrade_dirs(tmp_path / "original", tmp_path / "upstream", tmp_path / "local")
    assert docs((tmp_path / "local/cm.yaml").read_bytes())[0]["data"] == {"a": "2"}


def test_merge_keys_come_from_the_kubernetes_schema() -> None:
    table = schema.builtin()
    pod = table["apps/v1/Deployment"]
    assert pod["spec.template.spec.containers"] == ("name",)
    assert pod["spec.template.spec.containers.ports"] == ("containerPort", "protocol")
    assert pod["spec.template.spec.volumes"] == ("name",)
    assert table["v1/Service"]["spec.ports"] == ("port", "protocol")
    assert "spec.template.spec.containers.args" not in pod


def test_generator_resolves_refs_and_reads_both_extensions() -> None:
    swagger = {
        "definitions": {
            "x.Thing": {
                "x-kubernetes-group-version-kind": [
                    {"group": "x.io", "version": "v1", "kind": "Thing"}
                ],
                "properties": {"spec": {"$ref": "#/definitions/x.Spec"}},
            },
            "x.Spec": {
                "properties": {
                    "a": {
                        "type": "array",
                        "items": {"$ref": "#/definitions/x.Item"},
                        "x-kubernetes-patch-strategy": "merge",
                        "x-kubernetes-patch-merge-key": "id",
                    },
                    "b": {
                        "type": "array",
                        "items": {"type": "object"},
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["k1", "k2"],
                    },
                    "c": {"type": "array", "items": {"type": "string"}},
                    "self": {"$ref": "#/definitions/x.Spec"},
                }
            },
            "x.Item": {
                "properties": {
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "x-kubernetes-list-type": "set",
                    }
                }
            },
        }
    }
    data = gen_merge_keys.generate(swagger)
    assert data["kinds"] == {
        "x.io/v1/Thing": {"spec.a": ["id"], "spec.a.tags": [], "spec.b": ["k1", "k2"]}
    }


def test_committed_merge_keys_are_what_the_generator_makes() -> None:
    source = gen_merge_keys.DEFAULT_SCHEMA
    if not source.exists():
        pytest.skip("the Kubernetes schema is not on this machine")
    generated = gen_merge_keys.generate(json.loads(source.read_text()))
    committed = json.loads(gen_merge_keys.DEFAULT_OUTPUT.read_text())
    assert committed["kinds"] == generated["kinds"]
