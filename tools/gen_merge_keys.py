#!/usr/bin/env python3
"""Derive lanai/kpt/merge/mergekeys.json from the Kubernetes OpenAPI (swagger) schema.

Upgrades merge lists of built-in kinds by the keys the API server itself uses. Typing
those keys by hand leaves gaps (ports are keyed by port *and* protocol, finalizers are a
set), so they are read from the schema: for every kind (``x-kubernetes-group-version-kind``)
the generator walks its properties through ``$ref`` definitions and records each list
field that is a map (``x-kubernetes-list-type: map`` + ``x-kubernetes-list-map-keys``),
a strategic-merge list (``x-kubernetes-patch-strategy: merge`` + ``patch-merge-key``) or
a set of scalars (``list-type: set`` or ``patch-strategy: merge`` without a key, written
as an empty key list). Paths are dotted field names; list items add no segment.

Usage: python tools/gen_merge_keys.py [SWAGGER_JSON] [OUTPUT_JSON]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_SCHEMA = Path("/root/go/pkg/mod/k8s.io/kubernetes@v1.36.3/api/openapi-spec/swagger.json")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "lanai/kpt/merge/mergekeys.json"
REF_PREFIX = "#/definitions/"


def list_keys(prop: dict[str, Any]) -> list[str] | None:
    """The merge keys a list property declares (``[]`` for a set), or ``None`` if atomic."""
    list_type = prop.get("x-kubernetes-list-type")
    strategy = str(prop.get("x-kubernetes-patch-strategy", ""))
    if list_type == "map" and prop.get("x-kubernetes-list-map-keys"):
        return [str(k) for k in prop["x-kubernetes-list-map-keys"]]
    if "merge" in strategy.split(","):
        key = prop.get("x-kubernetes-patch-merge-key")
        return [str(key)] if key else []
    if list_type == "set":
        return []
    return None


def _resolve(definitions: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        name = ref[len(REF_PREFIX) :]
        return name, definitions.get(name, {})
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        return _resolve(definitions, all_of[0])
    return "", schema


def walk(
    definitions: dict[str, Any],
    schema: dict[str, Any],
    prefix: str,
    stack: tuple[str, ...],
    found: dict[str, list[str]],
) -> None:
    name, schema = _resolve(definitions, schema)
    if name in stack:  # recursive types (JSONSchemaProps) end here
        return
    stack = (*stack, name) if name else stack
    for field, prop in sorted(schema.get("properties", {}).items()):
        path = f"{prefix}.{field}" if prefix else field
        _, resolved = _resolve(definitions, prop)
        if resolved.get("type") == "array" or "items" in prop:
            keys = list_keys(prop)
            if keys is not None:
                found[path] = keys
            items = prop.get("items")
            if isinstance(items, dict):
                walk(definitions, items, path, stack, found)
        else:
            walk(definitions, prop, path, stack, found)
        additional = prop.get("additionalProperties")
        if isinstance(additional, dict):
            walk(definitions, additional, f"{path}.*", stack, found)


def generate(swagger: dict[str, Any]) -> dict[str, Any]:
    definitions: dict[str, Any] = swagger["definitions"]
    kinds: dict[str, dict[str, list[str]]] = {}
    for name in sorted(definitions):
        definition = definitions[name]
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            if name.endswith("List") or gvk["kind"] in ("WatchEvent", "DeleteOptions", "Status"):
                continue
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            key = f"{group}/{version}/{kind}" if group else f"{version}/{kind}"
            found: dict[str, list[str]] = {}
            walk(definitions, definition, "", (), found)
            if found:
                kinds[key] = dict(sorted(found.items()))
    return {"source": "Kubernetes OpenAPI swagger.json", "kinds": dict(sorted(kinds.items()))}


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SCHEMA
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    data = generate(json.loads(source.read_text()))
    data["source"] = f"{source.parent.parent.parent.name}: api/openapi-spec/swagger.json"
    output.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    print(f"{output}: {len(data['kinds'])} kinds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
