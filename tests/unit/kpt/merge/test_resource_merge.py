"""The resource-merge strategy over whole packages."""

from __future__ import annotations

import pytest

from lanai.kpt import merge
from tests.unit.kpt.merge.helpers import configmap, docs, kptfile, strip_identity, tree


def _data(result: dict[str, bytes], path: str) -> list[dict[str, str]]:
    return [strip_identity(d).get("data") for d in docs(result[path], path)]


def test_field_changed_on_each_side_and_both() -> None:
    original = tree(**{"cm.yaml": configmap("cm", {"a": "1", "b": "1", "c": "1"})})
    upstream = tree(**{"cm.yaml": configmap("cm", {"a": "2", "b": "1", "c": "2"})})
    local = tree(**{"cm.yaml": configmap("cm", {"a": "1", "b": "3", "c": "3"})})
    result = merge.upgrade(original, upstream, local, "resource-merge")
    assert _data(result, "cm.yaml") == [{"a": "2", "b": "3", "c": "2"}]


CASES = [
    # (case, original files, upstream files, local files, expected {path: [data]})
    (
        "added upstream",
        {},
        {"new.yaml": configmap("new", {"x": "1"})},
        {},
        {"new.yaml": [{"x": "1"}]},
    ),
    (
        "added locally",
        {},
        {},
        {"mine.yaml": configmap("mine", {"x": "1"})},
        {"mine.yaml": [{"x": "1"}]},
    ),
    (
        "deleted upstream, unchanged locally: removed",
        {"old.yaml": configmap("old", {"x": "1"})},
        {},
        {"old.yaml": configmap("old", {"x": "1"})},
        {},
    ),
    (
        "deleted upstream, modified locally: kept as local changed it",
        {"old.yaml": configmap("old", {"x": "1"})},
        {},
        {"old.yaml": configmap("old", {"x": "2"})},
        {"old.yaml": [{"x": "2"}]},
    ),
    (
        "deleted locally, changed upstream: stays deleted",
        {"gone.yaml": configmap("gone", {"x": "1"})},
        {"gone.yaml": configmap("gone", {"x": "2"})},
        {},
        {},
    ),
    (
        "one of two resources in a file deleted upstream",
        {"two.yaml": configmap("a", {"x": "1"}) + "---\n" + configmap("b", {"y": "1"})},
        {"two.yaml": configmap("b", {"y": "2"})},
        {"two.yaml": configmap("a", {"x": "1"}) + "---\n" + configmap("b", {"y": "1"})},
        {"two.yaml": [{"y": "2"}]},
    ),
    (
        "resource added upstream to an existing file goes after local ones",
        {"f.yaml": configmap("a", {"x": "1"})},
        {"f.yaml": configmap("z", {"z": "1"}) + "---\n" + configmap("a", {"x": "1"})},
        {"f.yaml": configmap("a", {"x": "1"}) + "---\n" + configmap("l", {"l": "1"})},
        {"f.yaml": [{"x": "1"}, {"l": "1"}, {"z": "1"}]},
    ),
    (
        "renamed locally: the kpt-merge comment keeps its identity",
        {"cm.yaml": configmap("cm", {"a": "1", "b": "1"})},
        {"cm.yaml": configmap("cm", {"a": "2", "b": "1"})},
        {"cm.yaml": configmap("prod-cm", {"a": "1", "b": "3"}, "prod", " # kpt-merge: /cm")},
        {"cm.yaml": [{"a": "2", "b": "3"}]},
    ),
    (
        "renamed locally: the upstream-identifier annotation keeps its identity",
        {"cm.yaml": configmap("cm", {"a": "1"})},
        {"cm.yaml": configmap("cm", {"a": "2"})},
        {
            "cm.yaml": configmap("prod-cm", {"a": "1"}).replace(
                "  name: prod-cm\n",
                "  name: prod-cm\n  annotations:\n"
                "    internal.kpt.dev/upstream-identifier: '|ConfigMap|default|cm'\n",
            )
        },
        {"cm.yaml": [{"a": "2"}]},
    ),
    (
        "resource moved to another file locally still matches",
        {"a.yaml": configmap("cm", {"a": "1"})},
        {"a.yaml": configmap("cm", {"a": "2"})},
        {"b.yaml": configmap("cm", {"a": "1", "l": "1"})},
        {"b.yaml": [{"a": "2", "l": "1"}]},
    ),
]


@pytest.mark.parametrize(
    ("original", "upstream", "local", "expected"),
    [row[1:] for row in CASES],
    ids=[row[0] for row in CASES],
)
def test_resources(original: dict, upstream: dict, local: dict, expected: dict) -> None:
    result = merge.upgrade(tree(**original), tree(**upstream), tree(**local), "resource-merge")
    assert {p: _data(result, p) for p in result if p != "Kptfile"} == expected


def test_renamed_resource_keeps_local_name_and_namespace() -> None:
    original = tree(**{"cm.yaml": configmap("cm", {"a": "1"})})
    upstream = tree(**{"cm.yaml": configmap("cm", {"a": "2"})})
    local = tree(**{"cm.yaml": configmap("prod-cm", {"a": "1"}, "prod", " # kpt-merge: /cm")})
    result = merge.upgrade(original, upstream, local, "resource-merge")
    text = result["cm.yaml"].decode()
    assert "metadata: # kpt-merge: /cm\n  name: prod-cm\n  namespace: prod\n" in text
    assert "internal.kpt.dev/upstream-identifier: '|ConfigMap|default|cm'" in text


def test_comments_and_formatting_are_kept() -> None:
    body = (
        "# a head comment\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata: # kpt-merge: /web\n"
        "  name: web\n"
        "  annotations:\n"
        "    internal.kpt.dev/upstream-identifier: 'apps|Deployment|default|web'\n"
        "spec:\n"
        "  replicas: 2 # kpt-set: ${replicas}\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "        # the main container\n"
        "        - name: web\n"
        "          image: web:1 # pinned\n"
    )
    original = tree(**{"d.yaml": body})
    upstream = tree(**{"d.yaml": body.replace("web:1", "web:2")})
    local = tree(**{"d.yaml": body.replace("replicas: 2", "replicas: 5")})
    result = merge.upgrade(original, upstream, local, "resource-merge")
    expected = body.replace("web:1", "web:2").replace("replicas: 2", "replicas: 5")
    assert result["d.yaml"].decode() == expected


def test_unchanged_file_keeps_its_bytes() -> None:
    annotated = configmap("cm", {"a": "1"}, comment=" # kpt-merge: /cm").replace(
        "  name: cm\n",
        "  name: cm\n  annotations:\n"
        "    internal.kpt.dev/upstream-identifier: '|ConfigMap|default|cm'\n",
    )
    odd = annotated.replace('data:\n  a: "1"', "data: {a: '1'}")
    local = tree(**{"cm.yaml": odd})
    result = merge.upgrade(tree(), tree(), local, "resource-merge")
    assert result["cm.yaml"] == odd.encode()


def test_duplicate_identities_are_an_error_naming_file_and_identity() -> None:
    twice = configmap("cm", {"a": "1"}) + "---\n" + configmap("cm", {"a": "2"})
    with pytest.raises(merge.MergeError, match=r"\|ConfigMap\|default\|cm.*twice\.yaml"):
        merge.upgrade(tree(), tree(), tree(**{"twice.yaml": twice}), "resource-merge")


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: routers.example.com
spec:
  group: example.com
  names: {kind: Router, plural: routers}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              routes:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [host]
                items:
                  type: object
                  properties:
                    host: {type: string}
                    backend: {type: string}
"""


def _router(*routes: tuple[str, str]) -> str:
    lines = ["apiVersion: example.com/v1", "kind: Router", "metadata:", "  name: r", "spec:"]
    lines.append("  routes:")
    lines += [f"  - host: {host}\n    backend: {backend}" for host, backend in routes]
    return "\n".join(lines) + "\n"


def test_crd_in_the_package_declares_list_map_keys() -> None:
    original = tree(**{"crd.yaml": CRD, "r.yaml": _router(("a", "svc-a"))})
    upstream = tree(**{"crd.yaml": CRD, "r.yaml": _router(("a", "svc-a2"), ("b", "svc-b"))})
    local = tree(**{"crd.yaml": CRD, "r.yaml": _router(("a", "svc-a"), ("local", "mine"))})
    result = merge.upgrade(original, upstream, local, "resource-merge")
    (router,) = docs(result["r.yaml"])
    assert router["spec"]["routes"] == [
        {"host": "a", "backend": "svc-a2"},
        {"host": "local", "backend": "mine"},
        {"host": "b", "backend": "svc-b"},
    ]


def test_without_the_crd_the_same_list_is_atomic() -> None:
    original = tree(**{"r.yaml": _router(("a", "svc-a"))})
    upstream = tree(**{"r.yaml": _router(("a", "svc-a2"))})
    local = tree(**{"r.yaml": _router(("a", "svc-a"), ("local", "mine"))})
    result = merge.upgrade(original, upstream, local, "resource-merge")
    (router,) = docs(result["r.yaml"])
    assert router["spec"]["routes"] == [{"host": "a", "backend": "svc-a2"}]


NON_KRM = [
    # (case, original, upstream, local, expected)
    ("changed upstream only", b"v1", b"v2", b"v1", b"v2"),
    ("changed locally only", b"v1", b"v1", b"mine", b"mine"),
    ("changed on both sides: local kept (kpt)", b"v1", b"v2", b"mine", b"mine"),
    ("added upstream", None, b"new", None, b"new"),
    ("added locally", None, None, b"mine", b"mine"),
    ("deleted upstream, unchanged locally", b"v1", None, b"v1", None),
    ("deleted upstream, changed locally", b"v1", None, b"mine", b"mine"),
    ("deleted locally, unchanged upstream", b"v1", b"v1", None, None),
]


@pytest.mark.parametrize(
    ("original", "upstream", "local", "expected"),
    [row[1:] for row in NON_KRM],
    ids=[row[0] for row in NON_KRM],
)
def test_non_krm_files(
    original: bytes | None, upstream: bytes | None, local: bytes | None, expected: bytes | None
) -> None:
    def with_readme(content: bytes | None) -> dict[str, bytes]:
        return tree() if content is None else tree(**{"README.md": content})

    result = merge.upgrade(
        with_readme(original), with_readme(upstream), with_readme(local), "resource-merge"
    )
    assert result.get("README.md") == expected


def test_yaml_that_is_not_krm_merges_as_a_whole_file() -> None:
    original = tree(**{"values.yaml": "replicas: 1\n"})
    upstream = tree(**{"values.yaml": "replicas: 2\n"})
    local = tree(**{"values.yaml": "replicas: 1\n"})
    result = merge.upgrade(original, upstream, local, "resource-merge")
    assert result["values.yaml"] == b"replicas: 2\n"


SUB = kptfile("sub")


def test_subpackage_added_upstream_appears() -> None:
    upstream = tree(**{"sub__Kptfile": SUB, "sub__cm.yaml": configmap("s", {"a": "1"})})
    result = merge.upgrade(tree(), upstream, tree(), "resource-merge")
    assert result["sub/Kptfile"] == SUB
    assert _data(result, "sub/cm.yaml") == [{"a": "1"}]


def test_subpackage_is_merged_with_its_own_files() -> None:
    def sub(data: dict[str, str]) -> dict[str, str | bytes]:
        return {"sub__Kptfile": SUB, "sub__cm.yaml": configmap("cm", data)}

    original = tree(**{"cm.yaml": configmap("cm", {"root": "1"})}, **sub({"a": "1", "b": "1"}))
    upstream = tree(**{"cm.yaml": configmap("cm", {"root": "2"})}, **sub({"a": "2", "b": "1"}))
    local = tree(**{"cm.yaml": configmap("cm", {"root": "1"})}, **sub({"a": "1", "b": "3"}))
    result = merge.upgrade(original, upstream, local, "resource-merge")
    assert _data(result, "cm.yaml") == [{"root": "2"}]
    assert _data(result, "sub/cm.yaml") == [{"a": "2", "b": "3"}]


def test_subpackage_deleted_upstream_is_removed_only_if_unchanged() -> None:
    sub = {"sub__Kptfile": SUB, "sub__cm.yaml": configmap("s", {"a": "1"})}
    changed = {**sub, "sub__cm.yaml": configmap("s", {"a": "2"})}
    assert "sub/Kptfile" not in merge.upgrade(tree(**sub), tree(), tree(**sub), "resource-merge")
    kept = merge.upgrade(tree(**sub), tree(), tree(**changed), "resource-merge")
    assert _data(kept, "sub/cm.yaml") == [{"a": "2"}]


def test_subpackage_added_on_both_sides_is_an_error() -> None:
    sub = tree(**{"sub__Kptfile": SUB})
    with pytest.raises(merge.MergeError, match="added both upstream and locally"):
        merge.upgrade(tree(), sub, sub, "resource-merge")
