from __future__ import annotations

from lanai.kpt import context, package, resourcelist, yamlio


def test_package_context_is_local_config_next_to_root() -> None:
    tree: package.PackageTree = {"Kptfile": b"kind: Kptfile\n", "package-context.yaml": b"old"}
    result = context.with_package_context(tree, "catalog/app", "catalog/app")
    document = yamlio.load_document(result["package-context.yaml"].decode())
    assert document["kind"] == "ConfigMap"
    assert document["metadata"]["name"] == "kptfile.kpt.dev"
    assert document["metadata"]["annotations"]["config.kubernetes.io/local-config"] == "true"
    assert yamlio.to_plain(document["data"]) == {"name": "app", "package-path": "catalog/app"}
    assert tree["package-context.yaml"] == b"old"


def test_package_context_without_path_and_odd_names() -> None:
    document = yamlio.load_document(context.package_context("true").decode())
    assert yamlio.to_plain(document["data"]) == {"name": "true"}
    document = yamlio.load_document(context.package_context("0123").decode())
    assert document["data"]["name"] == "0123"


def test_package_context_is_a_package_resource() -> None:
    tree = context.with_package_context({"Kptfile": b"kind: Kptfile\n"}, "app")
    items = resourcelist.read_resources(tree, package.resource_files(tree))
    assert [resourcelist.resource_path(i) for i in items] == ["Kptfile", "package-context.yaml"]
