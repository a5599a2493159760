"""Field-level rules of the three-way merge, one table row per rule."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.kpt import yamlio
from lanai.kpt.merge import schema, three_way

DEPLOYMENT = schema.rules_for("apps/v1", "Deployment", {})
CONTAINERS = "spec.template.spec.containers"


def _merge(local: Any, original: Any, updated: Any, rules: Any = DEPLOYMENT) -> Any:
    result = three_way.merge(
        yamlio.from_plain(local), yamlio.from_plain(original), yamlio.from_plain(updated), rules
    )
    return yamlio.to_plain(result)


def _pod(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": containers, **spec}}}}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


SCALARS = [
    # (case, original, updated, local, expected)
    ("changed upstream only", {"a": 1}, {"a": 2}, {"a": 1}, {"a": 2}),
    ("changed locally only", {"a": 1}, {"a": 1}, {"a": 3}, {"a": 3}),
    ("changed on both sides: upstream wins", {"a": 1}, {"a": 2}, {"a": 3}, {"a": 2}),
    ("same change on both sides", {"a": 1}, {"a": 2}, {"a": 2}, {"a": 2}),
    ("added upstream", {}, {"a": 1}, {}, {"a": 1}),
    ("added locally", {}, {}, {"b": 1}, {"b": 1}),
    ("added on both sides: upstream wins", {}, {"a": 1}, {"a": 2}, {"a": 1}),
    ("deleted upstream", {"a": 1}, {}, {"a": 1}, {}),
    ("deleted upstream, changed locally: deletion wins", {"a": 1}, {}, {"a": 5}, {}),
    ("deleted locally, unchanged upstream", {"a": 1}, {"a": 1}, {}, {}),
    ("deleted locally, changed upstream: upstream wins", {"a": 1}, {"a": 2}, {}, {"a": 2}),
    (
        "nested map merges field by field",
        {"m": {"x": 1, "y": 1}},
        {"m": {"x": 2, "y": 1}},
        {"m": {"x": 1, "y": 3}},
        {"m": {"x": 2, "y": 3}},
    ),
    (
        "map deleted upstream keeps only local additions",
        {"m": {"x": 1}},
        {},
        {"m": {"x": 1, "z": 9}},
        {"m": {"z": 9}},
    ),
    (
        "atomic list changed upstream: upstream",
        {"args": ["a"]},
        {"args": ["b"]},
        {"args": ["c"]},
        {"args": ["b"]},
    ),
    (
        "atomic list unchanged upstream: local",
        {"args": ["a"]},
        {"args": ["a"]},
        {"args": ["a", "c"]},
        {"args": ["a", "c"]},
    ),
]


@pytest.mark.parametrize(
    ("original", "updated", "local", "expected"),
    [row[1:] for row in SCALARS],
    ids=[row[0] for row in SCALARS],
)
def test_fields(original: Any, updated: Any, local: Any, expected: Any) -> None:
    assert _merge(local, original, updated) == expected


NGINX = {"name": "nginx", "image": "nginx:1"}
SIDECAR = {"name": "sidecar", "image": "envoy:1"}
LOGGER = {"name": "logger", "image": "fluent:1"}

LISTS = [
    # (case, original, updated, local, expected containers)
    ("container added upstream", [NGINX], [NGINX, SIDECAR], [NGINX], [NGINX, SIDECAR]),
    ("container added locally", [NGINX], [NGINX], [NGINX, LOGGER], [NGINX, LOGGER]),
    ("added on both sides", [NGINX], [NGINX, SIDECAR], [NGINX, LOGGER], [NGINX, LOGGER, SIDECAR]),
    ("container removed upstream", [NGINX, SIDECAR], [NGINX], [NGINX, SIDECAR], [NGINX]),
    (
        "removed upstream though changed locally",
        [NGINX, SIDECAR],
        [NGINX],
        [NGINX, {**SIDECAR, "image": "envoy:2"}],
        [NGINX],
    ),
    (
        "container removed locally stays removed",
        [NGINX, SIDECAR],
        [NGINX, SIDECAR],
        [NGINX],
        [NGINX],
    ),
    (
        "reordered upstream: local order kept",
        [NGINX, SIDECAR],
        [SIDECAR, NGINX],
        [NGINX, SIDECAR],
        [NGINX, SIDECAR],
    ),
    (
        "reordered locally: local order kept",
        [NGINX, SIDECAR],
        [NGINX, SIDECAR],
        [SIDECAR, NGINX],
        [SIDECAR, NGINX],
    ),
    (
        "image changed upstream, reordered locally",
        [NGINX, SIDECAR],
        [{**NGINX, "image": "nginx:2"}, SIDECAR],
        [SIDECAR, NGINX],
        [SIDECAR, {**NGINX, "image": "nginx:2"}],
    ),
    (
        "field of one container changed on each side",
        [NGINX],
        [{**NGINX, "image": "nginx:2"}],
        [{**NGINX, "imagePullPolicy": "Always"}],
        [{"name": "nginx", "image": "nginx:2", "imagePullPolicy": "Always"}],
    ),
]


@pytest.mark.parametrize(
    ("original", "updated", "local", "expected"),
    [row[1:] for row in LISTS],
    ids=[row[0] for row in LISTS],
)
def test_containers_merge_by_name(original: Any, updated: Any, local: Any, expected: Any) -> None:
    assert _containers(_merge(_pod(local), _pod(original), _pod(updated))) == expected


def _with(container: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**container, **fields}


NESTED = [
    (
        "env by name: changed upstream, added locally",
        _with(NGINX, env=[{"name": "A", "value": "1"}]),
        _with(NGINX, env=[{"name": "A", "value": "2"}]),
        _with(NGINX, env=[{"name": "A", "value": "1"}, {"name": "B", "value": "x"}]),
        _with(NGINX, env=[{"name": "A", "value": "2"}, {"name": "B", "value": "x"}]),
    ),
    (
        "env removed upstream, env reordered locally",
        _with(NGINX, env=[{"name": "A"}, {"name": "B"}, {"name": "C"}]),
        _with(NGINX, env=[{"name": "A"}, {"name": "C"}]),
        _with(NGINX, env=[{"name": "C"}, {"name": "B"}, {"name": "A"}]),
        _with(NGINX, env=[{"name": "C"}, {"name": "A"}]),
    ),
    (
        "ports by containerPort (protocol defaulted on one side)",
        _with(NGINX, ports=[{"containerPort": 80, "name": "http"}]),
        _with(NGINX, ports=[{"containerPort": 80, "name": "web"}, {"containerPort": 443}]),
        _with(
            NGINX,
            ports=[
                {"containerPort": 80, "protocol": "TCP", "name": "http"},
                {"containerPort": 9090},
            ],
        ),
        _with(
            NGINX,
            ports=[
                {"containerPort": 80, "protocol": "TCP", "name": "web"},
                {"containerPort": 9090},
                {"containerPort": 443},
            ],
        ),
    ),
    (
        "ports with the same number and different protocols stay apart",
        _with(NGINX, ports=[{"containerPort": 53, "protocol": "TCP"}]),
        _with(
            NGINX,
            ports=[
                {"containerPort": 53, "protocol": "TCP"},
                {"containerPort": 53, "protocol": "UDP"},
            ],
        ),
        _with(NGINX, ports=[{"containerPort": 53, "protocol": "TCP", "name": "dns"}]),
        _with(
            NGINX,
            ports=[
                {"containerPort": 53, "protocol": "TCP", "name": "dns"},
                {"containerPort": 53, "protocol": "UDP"},
            ],
        ),
    ),
    (
        "volumeMounts by mountPath",
        _with(NGINX, volumeMounts=[{"mountPath": "/a", "name": "x"}]),
        _with(NGINX, volumeMounts=[{"mountPath": "/a", "name": "y"}]),
        _with(
            NGINX, volumeMounts=[{"mountPath": "/a", "name": "x"}, {"mountPath": "/b", "name": "z"}]
        ),
        _with(
            NGINX, volumeMounts=[{"mountPath": "/a", "name": "y"}, {"mountPath": "/b", "name": "z"}]
        ),
    ),
]


@pytest.mark.parametrize(
    ("original", "updated", "local", "expected"),
    [row[1:] for row in NESTED],
    ids=[row[0] for row in NESTED],
)
def test_lists_inside_containers(original: Any, updated: Any, local: Any, expected: Any) -> None:
    merged = _merge(_pod([local]), _pod([original]), _pod([updated]))
    assert _containers(merged) == [expected]


def test_volumes_by_name() -> None:
    config = {"name": "config", "configMap": {"name": "cm"}}
    cache = {"name": "cache", "emptyDir": {}}
    data = {"name": "data", "emptyDir": {"medium": "Memory"}}
    merged = _merge(
        _pod([NGINX], volumes=[config, cache]),
        _pod([NGINX], volumes=[config]),
        _pod([NGINX], volumes=[{"name": "config", "configMap": {"name": "cm2"}}, data]),
    )
    assert merged["spec"]["template"]["spec"]["volumes"] == [
        {"name": "config", "configMap": {"name": "cm2"}},
        cache,
        data,
    ]


def test_finalizers_merge_as_a_set() -> None:
    merged = _merge(
        {"metadata": {"finalizers": ["a", "local"]}},
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["b", "c"]}},
    )
    assert merged == {"metadata": {"finalizers": ["local", "c"]}}


def test_lists_without_schema_key_are_atomic() -> None:
    rules = schema.rules_for("example.com/v1", "Unknown", {})
    items = [{"name": "a", "v": 1}]
    merged = _merge(
        {"items": [*items, {"name": "b"}]},
        {"items": items},
        {"items": [{"name": "a", "v": 2}]},
        rules,
    )
    assert merged == {"items": [{"name": "a", "v": 2}]}


def test_local_document_is_edited_in_place_with_comments() -> None:
    text = (
        "spec:\n"
        "  replicas: 1 # kpt-set: ${replicas}\n"
        "  # the template\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: nginx # main\n"
        "        image: nginx:1\n"
    )
    local = yamlio.load_document(text)
    original = yamlio.load_document(text)
    updated = yamlio.load_document(text.replace("nginx:1", "nginx:2").replace(" 1 #", " 3 #"))
    merged = three_way.merge(local, original, updated, DEPLOYMENT)
    assert merged is local
    assert yamlio.dump_document(merged) == text.replace("nginx:1", "nginx:2").replace(
        " 1 #", " 3 #"
    )
