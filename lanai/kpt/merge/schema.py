"""Which lists are merged by key: Kubernetes' own schema, and CRDs shipped in a package.

A list is merged element by element only where the schema says which field identifies
an element; anything else is atomic. Built-in kinds use ``mergekeys.json``, generated
from the Kubernetes OpenAPI schema by ``tools/gen_merge_keys.py`` (never typed by hand);
custom kinds use the ``x-kubernetes-list-type: map`` / ``x-kubernetes-list-map-keys``
of a CustomResourceDefinition found in the package.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from lanai.kpt.merge import three_way

KeyTable = Mapping[str, tuple[str, ...]]
"""Dotted field path → merge key fields (empty: a set of scalars)."""

CRD_KIND = "CustomResourceDefinition"


@functools.cache
def builtin() -> dict[str, dict[str, tuple[str, ...]]]:
    """``apiVersion/Kind`` → key table, for every built-in kind that has keyed lists."""
    text = resources.files("lanai.kpt.merge").joinpath("mergekeys.json").read_text()
    kinds: dict[str, dict[str, list[str]]] = json.loads(text)["kinds"]
    return {gvk: {p: tuple(keys) for p, keys in table.items()} for gvk, table in kinds.items()}


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _builtin_table(api_version: str, kind: str) -> KeyTable | None:
    table = builtin()
    exact = table.get(f"{api_version}/{kind}")
    if exact is not None:
        return exact
    # An older or newer version of a known kind: same group and kind, any version.
    group = group_of(api_version)
    for gvk, keys in table.items():
        other_version, _, other_kind = gvk.rpartition("/")
        if other_kind == kind and group_of(other_version) == group:
            return keys
    return None


def _walk_crd_schema(schema: Any, prefix: str, found: dict[str, tuple[str, ...]]) -> None:
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, prop in properties.items():
            if not isinstance(prop, dict):
                continue
            path = three_way.join(prefix, name)
            if prop.get("type") == "array":
                list_type = prop.get("x-kubernetes-list-type")
                map_keys = prop.get("x-kubernetes-list-map-keys")
                if list_type == "map" and isinstance(map_keys, list) and map_keys:
                    found[path] = tuple(str(k) for k in map_keys)
                elif list_type == "set":
                    found[path] = ()
                _walk_crd_schema(prop.get("items"), path, found)
            else:
                _walk_crd_schema(prop, path, found)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        _walk_crd_schema(additional, three_way.join(prefix, "*"), found)


def crd_tables(doc: Mapping[str, Any]) -> dict[str, KeyTable]:
    """``apiVersion/Kind`` → key table for each version a CRD serves (empty if not a CRD)."""
    if doc.get("kind") != CRD_KIND or not isinstance(doc.get("spec"), dict):
        return {}
    spec = doc["spec"]
    group = spec.get("group")
    names = spec.get("names")
    kind = names.get("kind") if isinstance(names, dict) else None
    versions = spec.get("versions")
    if not group or not kind or not isinstance(versions, list):
        return {}
    tables: dict[str, KeyTable] = {}
    for version in versions:
        if not isinstance(version, dict) or not version.get("name"):
            continue
        schema = version.get("schema")
        found: dict[str, tuple[str, ...]] = {}
        if isinstance(schema, dict):
            _walk_crd_schema(schema.get("openAPIV3Schema"), "", found)
        tables[f"{group}/{version['name']}/{kind}"] = found
    return tables


def _key_of(fields: tuple[str, ...]) -> three_way.KeyOf:
    def key_of(item: Any) -> three_way.Identity | None:
        if not fields:
            if isinstance(item, (dict, list)) or item is None:
                return None
            return (str(item),)
        if not isinstance(item, dict):
            return None
        parts = tuple(None if item.get(f) is None else str(item[f]) for f in fields)
        return None if all(p is None for p in parts) else parts

    return key_of


@dataclass(frozen=True)
class ResourceRules:
    """Merge rules of one kind: its key table; nothing is kept local unconditionally."""

    table: KeyTable = field(default_factory=dict)

    def list_key(self, path: str) -> three_way.KeyOf | None:
        fields = self.table.get(path)
        if fields is None:
            # Map values (``*``) share one schema; try the path with the map key starred.
            parts = path.split(".")
            for index in range(len(parts) - 1, 0, -1):
                starred = ".".join([*parts[:index], "*", *parts[index + 1 :]])
                if starred in self.table:
                    fields = self.table[starred]
                    break
        return None if fields is None else _key_of(fields)

    def keep_local(self, path: str) -> bool:
        return False


def rules_for(api_version: str, kind: str, crds: Mapping[str, KeyTable]) -> ResourceRules:
    """The rules of a kind: a CRD in the package first, else the built-in schema."""
    table = crds.get(f"{api_version}/{kind}")
    if table is None:
        table = _builtin_table(api_version, kind)
    return ResourceRules(table or {})


def collect_crds(docs: Iterable[Mapping[str, Any]]) -> dict[str, KeyTable]:
    found: dict[str, KeyTable] = {}
    for doc in docs:
        found.update(crd_tables(doc))
    return found
