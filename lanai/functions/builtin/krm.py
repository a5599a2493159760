"""Small shared vocabulary of the builtin functions: reading a ResourceList in place.

Every builtin edits the ruamel round-trip maps it is given (that is how comments and
field order survive), so they share the same few helpers to read identity, the
functionConfig, local-config marks and kustomize-style field specs, and to append
results in ResourceList form.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.tokens import CommentToken

from lanai.kpt import fnapi

LOCAL_CONFIG = "config.kubernetes.io/local-config"
DEPENDS_ON = "config.kubernetes.io/depends-on"
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")


def fail(message: str, results: list[dict[str, Any]] | None = None) -> fnapi.FunctionError:
    """A FunctionError whose results carry the message as an error result too."""
    found = list(results or [])
    if not any(r.get("message") == message for r in found):
        found.append({"message": message, "severity": "error"})
    return fnapi.FunctionError(message=message, stderr=message, exit_code=1, results=found)


def items(resource_list: CommentedMap) -> list[CommentedMap]:
    """The resources of the list (mappings only), creating ``items`` if absent."""
    found = resource_list.get("items")
    if found is None:
        found = CommentedSeq()
        resource_list["items"] = found
    if not isinstance(found, list):
        raise fail("ResourceList items must be a list")
    return [item for item in found if isinstance(item, CommentedMap)]


def function_config(resource_list: CommentedMap) -> CommentedMap | None:
    """The functionConfig, or ``None`` when the list carries none."""
    config = resource_list.get("functionConfig")
    if config is None:
        return None
    if not isinstance(config, dict):
        raise fail("functionConfig must be a KRM object")
    return config  # type: ignore[return-value]


def add_result(
    resource_list: CommentedMap,
    message: str,
    severity: str = "info",
    resource: dict[str, Any] | None = None,
    field: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one entry to the list's ``results`` and return it."""
    result: dict[str, Any] = {"message": message, "severity": severity}
    if resource is not None:
        result["resourceRef"] = resource_ref(resource)
        where = file_of(resource)
        if where is not None:
            result["file"] = where
    if field is not None:
        result["field"] = field
    results = resource_list.get("results")
    if not isinstance(results, list):
        results = CommentedSeq()
        resource_list["results"] = results
    results.append(result)
    return result


def metadata(resource: dict[str, Any]) -> dict[str, Any]:
    found = resource.get("metadata")
    return found if isinstance(found, dict) else {}


def annotations_of(resource: dict[str, Any]) -> dict[str, Any]:
    found = metadata(resource).get("annotations")
    return found if isinstance(found, dict) else {}


def kind(resource: dict[str, Any]) -> str:
    return str(resource.get("kind") or "")


def name(resource: dict[str, Any]) -> str:
    return str(metadata(resource).get("name") or "")


def namespace(resource: dict[str, Any]) -> str:
    return str(metadata(resource).get("namespace") or "")


def group_version(resource: dict[str, Any]) -> tuple[str, str]:
    """``apps/v1`` → (``apps``, ``v1``); ``v1`` → (``""``, ``v1``)."""
    api_version = str(resource.get("apiVersion") or "")
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def resource_ref(resource: dict[str, Any]) -> dict[str, str]:
    ref = {
        "apiVersion": str(resource.get("apiVersion") or ""),
        "kind": kind(resource),
        "name": name(resource),
    }
    if namespace(resource):
        ref["namespace"] = namespace(resource)
    return ref


def file_of(resource: dict[str, Any]) -> dict[str, Any] | None:
    notes = annotations_of(resource)
    path = next((notes[k] for k in PATH_ANNOTATIONS if notes.get(k)), None)
    if path is None:
        return None
    where: dict[str, Any] = {"path": str(path)}
    index = next((notes[k] for k in INDEX_ANNOTATIONS if notes.get(k) is not None), None)
    if index is not None:
        with contextlib.suppress(ValueError):
            where["index"] = int(str(index))
    return where


def is_local_config(resource: dict[str, Any]) -> bool:
    value = annotations_of(resource).get(LOCAL_CONFIG)
    return str(value).strip().lower() == "true"


def is_kind(config: dict[str, Any], kind_name: str, group: str | None = None) -> bool:
    """Whether ``config`` is a ``kind_name`` (and, if given, of API group ``group``)."""
    if kind(config) != kind_name:
        return False
    return group is None or group_version(config)[0] == group


def config_map_data(config: dict[str, Any]) -> dict[str, str]:
    """A ConfigMap's ``data`` as strings (values kept as the user wrote them)."""
    data = config.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise fail("ConfigMap data must be a map of strings")
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


def string_map(value: Any, what: str) -> dict[str, str]:
    """A ``map[string]string`` field, or a FunctionError naming ``what``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(f"{what} must be a map of strings")
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, dict | list):
            raise fail(f"{what}: value of {k!r} must be a string")
        out[str(k)] = "" if v is None else str(v)
    return out


def new_map(pairs: dict[str, Any] | None = None) -> CommentedMap:
    created = CommentedMap()
    for k, v in (pairs or {}).items():
        created[k] = v
    return created


def set_key(mapping: CommentedMap, key: str, value: Any, after: str | None = None) -> None:
    """Set ``key`` keeping its position (and line comment) or insert it after ``after``."""
    if key in mapping or after is None or after not in mapping:
        mapping[key] = value
        return
    position = list(mapping.keys()).index(after) + 1
    mapping.insert(position, key, value)


def merge_string_map(target: CommentedMap, values: dict[str, str]) -> bool:
    """Update existing keys in place, then append new ones in sorted order."""
    changed = False
    for key in values:
        if key in target and target[key] != values[key]:
            target[key] = values[key]
            changed = True
    for key in sorted(values):
        if key not in target:
            target[key] = values[key]
            changed = True
    return changed


@dataclass(frozen=True)
class FieldSpec:
    """A kustomize field spec: which resources (group/version/kind) and which path."""

    path: str
    kind: str | None = None
    group: str | None = None
    version: str | None = None
    create: bool = False

    def selects(self, resource: dict[str, Any]) -> bool:
        group, version = group_version(resource)
        if self.kind is not None and self.kind != kind(resource):
            return False
        if self.group is not None and self.group != group:
            return False
        return self.version is None or self.version == version

    @classmethod
    def from_config(cls, raw: Any, what: str) -> FieldSpec:
        if not isinstance(raw, dict) or not raw.get("path"):
            raise fail(f"{what}: every entry needs a `path`")
        return cls(
            path=str(raw["path"]),
            kind=str(raw["kind"]) if raw.get("kind") else None,
            group=str(raw["group"]) if raw.get("group") is not None else None,
            version=str(raw["version"]) if raw.get("version") else None,
            create=bool(raw.get("create", False)),
        )


def field_spec_targets(resource: CommentedMap, spec: FieldSpec) -> Iterator[tuple[Any, Any]]:
    """Yield (parent, key) for each place ``spec.path`` reaches in ``resource``.

    Segments are ``/``-separated; a list met on the way is entered element by element
    (``spec/volumeClaimTemplates/metadata/labels`` or with an explicit ``[]``). With
    ``create`` missing maps are made on the way, but the final key is never invented
    here: callers decide whether to create it.
    """
    segments = [s.removesuffix("[]") for s in spec.path.strip("/").split("/") if s]
    yield from _walk_spec(resource, segments, spec.create)


def _walk_spec(node: Any, segments: list[str], create: bool) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, list):
        for element in node:
            yield from _walk_spec(element, segments, create)
        return
    if not isinstance(node, dict) or not segments:
        return
    head, rest = segments[0], segments[1:]
    if not rest:
        yield node, head
        return
    child = node.get(head)
    if child is None:
        if not create:
            return
        child = CommentedMap()
        node[head] = child
    yield from _walk_spec(child, rest, create)


def apply_string_map(resource: CommentedMap, spec: FieldSpec, values: dict[str, str]) -> bool:
    """Merge ``values`` into every map ``spec`` reaches; create it if ``spec.create``."""
    changed = False
    for parent, key in list(field_spec_targets(resource, spec)):
        target = parent.get(key)
        if target is None:
            if not spec.create:
                continue
            target = CommentedMap()
            parent[key] = target
            changed = True
        if not isinstance(target, dict):
            continue
        changed = merge_string_map(target, values) or changed  # type: ignore[arg-type]
    return changed


def pairs(mapping: Any) -> Any:
    """A map's (key, value) pairs in order, without ruamel's slow key view when the map
    merges no anchors (its own keys are then exactly the dict's, in insertion order)."""
    if isinstance(mapping, CommentedMap) and not getattr(mapping, merge_attrib, None):
        return dict.items(mapping)
    return mapping.items()


def for_each(resource_list: CommentedMap, visit: Callable[[CommentedMap], None]) -> None:
    for item in items(resource_list):
        visit(item)


# -- scalars and line comments -------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def parse_scalar(text: str) -> Any:
    """``"3"`` → 3, ``"true"`` → True, ``"null"`` → None; anything else stays a string.

    Memoised: the answer is an immutable scalar, and building a YAML loader per call was
    a fifth of a setters function's time. (The cache is thread-safe, a loader is not.)"""
    try:
        value = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return text
    if value is None and text.strip() not in ("", "~", "null", "Null", "NULL"):
        return text
    if isinstance(value, bool | int | float) or value is None:
        return value
    return text


def coerce_like(old: Any, text: str) -> Any:
    """``text`` as a value replacing ``old``: same quoting style, or same scalar kind."""
    if isinstance(old, ScalarString):
        return type(old)(text)
    if isinstance(old, str):
        return text
    return parse_scalar(text)


def line_comment(parent: Any, key: Any) -> str | None:
    """The end-of-line comment on ``parent[key]`` without ``#``, or ``None``."""
    token = _comment_token(parent, key)
    if token is None:
        return None
    first = str(token.value).split("\n", 1)[0].strip()
    if not first.startswith("#"):
        return None
    return first[1:].strip()


def set_line_comment(parent: Any, key: Any, text: str) -> None:
    """Put ``# text`` at the end of ``parent[key]``'s line, replacing any there."""
    token = _comment_token(parent, key)
    if token is not None:
        rest = str(token.value).split("\n", 1)
        tail = "\n" + rest[1] if len(rest) > 1 else "\n"
        token.value = f"# {text}{tail}"
        return
    entry = getattr(parent, "ca", None) and parent.ca.items.get(key)
    if isinstance(parent, dict) and entry and len(entry) > 3 and entry[3] is not None:
        # Comment lines before a nested value: ruamel's yaml_add_eol_comment would try to
        # extend that list with a token and fail; put the token in its slot instead.
        entry[2] = CommentToken(f"# {text}", CommentMark(0))
        return
    parent.yaml_add_eol_comment(f"# {text}", key, column=0)


def _comment_token(parent: Any, key: Any) -> Any:
    ca = getattr(parent, "ca", None)
    if ca is None:
        return None
    entry = ca.items.get(key)
    if not entry:
        return None
    position = 0 if isinstance(parent, list) else 2
    token = entry[position] if len(entry) > position else None
    if token is None or isinstance(token, list):
        return None
    return token
