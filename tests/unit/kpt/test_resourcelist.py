from __future__ import annotations

import pytest
from ruamel.yaml.comments import CommentedMap

from lanai.kpt import package, resourcelist, yamlio

TREE: package.PackageTree = {
    "Kptfile": b"apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: root\n",
    "app.yaml": (
        b"# the app\n"
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # name\n"
        b"data:\n  list:\n    - x\n"
        b"---\n"
        b"apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"
        b"  annotations:\n    keep: 'me'\n"
    ),
    "gone.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gone\n",
    "notes.txt": b"not krm\n",
}


def _items() -> list[CommentedMap]:
    return resourcelist.read_resources(TREE, package.resource_files(TREE))


def test_items_carry_path_index_and_id() -> None:
    items = _items()
    located = [
        (
            resourcelist.resource_path(i),
            resourcelist.resource_index(i),
            resourcelist.resource_id(i),
        )
        for i in items
    ]
    assert located == [
        ("Kptfile", 0, "0"),
        ("app.yaml", 0, "1"),
        ("app.yaml", 1, "2"),
        ("gone.yaml", 0, "3"),
    ]
    annotations = items[2]["metadata"]["annotations"]
    assert annotations["config.kubernetes.io/path"] == "app.yaml"
    assert annotations["config.kubernetes.io/index"] == "1"
    assert annotations["keep"] == "me"


def test_write_back_unchanged_is_byte_identical() -> None:
    items = _items()
    assert (
        resourcelist.write_resources(TREE, items, owned_files=package.resource_files(TREE)) == TREE
    )


def test_write_back_edits_removals_and_generated_files() -> None:
    items = [i for i in _items() if i["metadata"]["name"] != "gone"]
    items[1]["metadata"]["labels"] = CommentedMap(app="x")
    generated = yamlio.load_document("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n")
    namespaced = yamlio.load_document(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: prod\n"
    )
    items += [generated, namespaced]
    files = package.resource_files(TREE)
    out = resourcelist.write_resources(TREE, items, owned_files=files)
    assert "gone.yaml" not in out
    assert out["notes.txt"] == TREE["notes.txt"]
    text = out["app.yaml"].decode()
    assert text.startswith("# the app\n")
    assert "name: a # name" in text
    assert "    - x\n" in text
    assert "labels:\n    app: x" in text
    assert "internal.config.kubernetes.io" not in text
    assert "config.kubernetes.io/index" not in text
    assert "keep: 'me'" in text
    assert out["secret_s1.yaml"].startswith(b"apiVersion: v1\nkind: Secret")
    assert b"name: d" in out["prod/deployment_d.yaml"]


def test_escaping_path_is_refused() -> None:
    item = yamlio.load_document("apiVersion: v1\nkind: A\nmetadata:\n  name: a\n")
    resourcelist.set_location(item, "../outside.yaml", 0)
    with pytest.raises(resourcelist.ResourceError, match="outside"):
        resourcelist.write_resources(TREE, [item])


def test_duplicate_place_is_refused() -> None:
    items = _items()
    resourcelist.set_location(items[2], "app.yaml", 0)
    with pytest.raises(resourcelist.ResourceError, match="index 0"):
        resourcelist.write_resources(TREE, items)


def test_encode_decode_round_trip() -> None:
    rl = resourcelist.build(_items(), yamlio.load_document("kind: X\n"))
    decoded = resourcelist.decode(resourcelist.encode(rl))
    assert decoded["kind"] == "ResourceList"
    assert len(resourcelist.items_of(decoded)) == 4
    assert decoded["functionConfig"]["kind"] == "X"
    with pytest.raises(resourcelist.ResourceError):
        resourcelist.decode(b"kind: Other\n")


def test_dropped_comments_are_restored_by_id() -> None:
    items = _items()
    stripped = [yamlio.from_plain(yamlio.to_plain(i)) for i in items]
    stripped[1]["data"]["new"] = "v"
    resourcelist.restore_comments(items, stripped)
    out = resourcelist.write_resources(TREE, stripped, owned_files=package.resource_files(TREE))
    text = out["app.yaml"].decode()
    assert text.startswith("# the app\n")
    assert "name: a # name" in text
    assert "new: v" in text


def test_legacy_location_change_wins_when_only_it_changed() -> None:
    original = _items()[1]
    moved = yamlio.clone(original)
    moved["metadata"]["annotations"]["config.kubernetes.io/path"] = "moved.yaml"
    resourcelist.reconcile_location(moved, "app.yaml", "0")
    assert resourcelist.resource_path(moved) == "moved.yaml"
    both = yamlio.clone(original)
    both["metadata"]["annotations"][resourcelist.PATH] = "internal.yaml"
    both["metadata"]["annotations"][resourcelist.LEGACY_PATH] = "legacy.yaml"
    resourcelist.reconcile_location(both, "app.yaml", "0")
    assert both["metadata"]["annotations"][resourcelist.LEGACY_PATH] == "internal.yaml"
