"""How the catalog's Go functions see a resource, for builtins that must behave the same.

Most catalog functions are written against the kpt functions SDK (``fn.KubeObject``), and
what users get from ``kpt fn render`` follows from that SDK's small rules as much as from
the function's own code: which resources count as local config, how a kind is matched
(an empty group or version matches any), that a string field holding a number is an
error rather than a string, that a new key goes at the end of its map and a new value is
written plain unless YAML would read it as something else, how results are ordered, and
that a failing function says ``failed to evaluate function: error: function failure``.
This module states those rules once so each builtin can follow them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib

from lanai.kpt import fnapi, goyaml

LOCAL_CONFIG = "config.kubernetes.io/local-config"
UPSTREAM_IDENTIFIER = "internal.kpt.dev/upstream-identifier"
FUNCTION_GROUP = "fn.kpt.dev"
FAILURE_STDERR = "failed to evaluate function: error: function failure"
PATH_ANNOTATION = "internal.config.kubernetes.io/path"
INDEX_ANNOTATION = "internal.config.kubernetes.io/index"


class FieldError(Exception):
    """A field exists but has another type than the function expects (an error result)."""


# -- identity ---------------------------------------------------------------------------


_MISSING = object()


def get(node: Any, key: Any) -> Any:
    """``node.get(key)`` without ruamel's slow path unless the map merges anchors."""
    if not isinstance(node, dict):
        return None
    found = dict.get(node, key, _MISSING)
    if found is _MISSING:
        merged = getattr(node, merge_attrib, None)  # not `.merge`: that property is slow
        return node.get(key) if merged else None
    return found


def text(node: Any, key: str) -> str:
    """``node[key]`` if it is a string, else ``""`` (the SDK reads non-strings as absent)."""
    value = get(node, key)
    return value if isinstance(value, str) else ""


def metadata_text(resource: Any, key: str) -> str:
    return text(get(resource, "metadata"), key)


def annotation(resource: Any, key: str) -> str:
    return text(get(get(resource, "metadata"), "annotations"), key)


def group_version(api_version: str) -> tuple[str, str]:
    """apimachinery's ParseGroupVersion; an unparsable value gives ``("", "")``."""
    if api_version in ("", "/"):
        return "", ""
    slashes = api_version.count("/")
    if slashes == 0:
        return "", api_version
    if slashes == 1:
        group, version = api_version.split("/")
        return group, version
    return "", ""


@dataclass(frozen=True)
class GVK:
    group: str
    version: str
    kind: str

    @classmethod
    def of(cls, resource: Any) -> GVK:
        api_version = text(resource, "apiVersion")
        group, version = group_version(api_version)
        if api_version.count("/") > 1:
            return cls("", "", "")
        return cls(group, version, text(resource, "kind"))

    def matches(self, group: str, version: str, kind: str) -> bool:
        """The SDK's IsGVK: an empty part on either side matches anything."""
        return all(
            not mine or not theirs or mine == theirs
            for mine, theirs in ((self.kind, kind), (self.group, group), (self.version, version))
        )

    @property
    def group_kind(self) -> str:
        """``Kind.group`` as Go's schema.GroupKind prints it (``Kind`` for the core group)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def is_gvk(resource: Any, group: str, version: str, kind: str) -> bool:
    return GVK.of(resource).matches(group, version, kind)


def is_local_config(resource: Any) -> bool:
    """The annotation holds a string other than ``""`` and ``"false"`` (a YAML boolean
    ``true`` is not a string, so it does not count)."""
    return annotation(resource, LOCAL_CONFIG) not in ("", "false")


def short_string(resource: Any) -> str:
    return (
        f"Resource(apiVersion={text(resource, 'apiVersion')}, kind={text(resource, 'kind')}, "
        f"namespace={metadata_text(resource, 'namespace')}, name={metadata_text(resource, 'name')})"
    )


def sort_items(resource_list: CommentedMap) -> None:
    """The SDK writes items sorted by ``apiVersion kind namespace name``."""
    found = resource_list.get("items")
    if not isinstance(found, list):
        return

    def key(item: Any) -> str:
        return " ".join(
            (
                text(item, "apiVersion"),
                text(item, "kind"),
                metadata_text(item, "namespace"),
                metadata_text(item, "name"),
            )
        )

    ordered = sorted(found, key=key)
    if ordered != list(found) or any(a is not b for a, b in zip(ordered, found, strict=True)):
        found[:] = ordered


# -- the function config -----------------------------------------------------------------


def is_empty(config: Any) -> bool:
    """No functionConfig at all, or an empty map."""
    return config is None or (isinstance(config, dict) and not config)


def string_map(value: Any) -> tuple[dict[str, str] | None, bool]:
    """A map decoded into Go's ``map[string]string`` by yaml.v3: (map, ok).

    Scalars become their text (``1`` → ``"1"``, ``~`` → ``""``); a nested map or list is a
    decoding error (``ok`` False) that still yields the entries decoded before it."""
    if not isinstance(value, dict):
        return None, False
    decoded: dict[str, str] = {}
    ok = True
    for key, item in value.items():
        if isinstance(item, dict | list):
            ok = False
            continue
        decoded[scalar_text(key)] = scalar_text(item)
    return decoded, ok


def is_placeholder_config(config: Any) -> bool:
    """kpt's stand-in when a step has no config: ConfigMap ``function-input``, empty data."""
    if not isinstance(config, dict) or not isinstance(config.get("data"), dict):
        return False
    data, ok = string_map(config.get("data"))
    return (
        ok
        and text(config, "kind") == "ConfigMap"
        and metadata_text(config, "name") == "function-input"
        and not data
    )


def scalar_text(value: Any) -> str:
    """A scalar as the text YAML wrote it (as near as the loaded value tells)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def go_quote(value: str) -> str:
    """Go's ``%q``: a double-quoted string with Go's escapes."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


# -- results -----------------------------------------------------------------------------


def result(
    message: str,
    severity: str = "info",
    *,
    resource_ref: dict[str, Any] | None = None,
    field: dict[str, Any] | None = None,
    file: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One result with the SDK's key order: message, severity, resourceRef, field, file."""
    found: dict[str, Any] = {"message": message, "severity": severity}
    if resource_ref is not None:
        found["resourceRef"] = resource_ref
    if field is not None:
        found["field"] = field
    if file is not None:
        found["file"] = file
    return found


def resource_ref(resource: Any) -> dict[str, str]:
    """A resourceRef with only the non-empty parts (Go's ``omitempty``)."""
    ref = {
        "apiVersion": text(resource, "apiVersion"),
        "kind": text(resource, "kind"),
        "name": metadata_text(resource, "name"),
        "namespace": metadata_text(resource, "namespace"),
    }
    return {k: v for k, v in ref.items() if v}


def file_ref(resource: Any) -> dict[str, Any]:
    """Path and index annotations as a result's ``file`` (index -1 when there is none)."""
    where: dict[str, Any] = {}
    path = annotation(resource, PATH_ANNOTATION)
    if path:
        where["path"] = path
    raw = annotation(resource, INDEX_ANNOTATION)
    index = int(raw) if re.fullmatch(r"[+-]?\d+", raw) else (-1 if not raw else 0)
    if index:
        where["index"] = index
    return where


def finish(resource_list: CommentedMap, results: Sequence[dict[str, Any]], ok: bool) -> None:
    """Write the results into the list; raise the SDK's failure when ``ok`` is false."""
    if results:
        resource_list["results"] = CommentedSeq(results)
    sort_items(resource_list)
    if ok:
        return
    errors = [r["message"] for r in results if r.get("severity") == "error"]
    raise fnapi.FunctionError(
        message=errors[0] if errors else "function failure",
        stderr=FAILURE_STDERR,
        exit_code=1,
        results=[dict(r) for r in results],
    )


# -- nested fields -----------------------------------------------------------------------


@dataclass
class Sub:
    """A map inside a resource, with what the SDK prints in a field-type error."""

    node: Any
    kind: str = ""
    path: str = ""

    def child(self, key: str) -> Sub | None:
        """GetMap: the value under ``key`` (whatever its type), or ``None`` when absent."""
        if not isinstance(self.node, dict) or key not in self.node:
            return None
        return Sub(self.node[key], self.kind, f"{self.path}.{key}")

    def children(self, key: str) -> list[Sub]:
        """GetSlice: the list under ``key`` as maps; anything else (or a non-map element)
        gives no elements. Elements lose the parent's kind and path, as in the SDK."""
        found = self.node.get(key) if isinstance(self.node, dict) else None
        if not isinstance(found, list) or not all(isinstance(e, dict) for e in found):
            return []
        return [Sub(element) for element in found]

    def error(self, fields: Iterable[str], expected: str = "string") -> FieldError:
        where = self.path + "." + ".".join(fields)
        return FieldError(
            f"Resource(apiVersion=, kind={self.kind}) has unmatched field type "
            f'"{expected}" in fieldpath {where}'
        )

    def get_string(self, fields: Sequence[str]) -> tuple[str, bool]:
        """NestedString: (value, found); a non-map on the way or a non-string is an error."""
        current = self.node
        for number, key in enumerate(fields):
            if not isinstance(current, dict):
                raise self.error(fields)
            if key not in current:
                return "", False
            current = current[key]
            if number < len(fields) - 1 and not isinstance(current, dict):
                raise self.error(fields)
        if not isinstance(current, str):
            raise self.error(fields)
        return current, True

    def lookup(self, fields: Sequence[str], first_key: str) -> Any:
        """The map at ``fields`` (``None`` when a part is missing); a non-map on the way
        is the error NestedString reports for ``fields + first_key``."""
        current = self.node
        for key in fields:
            if not isinstance(current, dict):
                raise self.error([*fields, first_key])
            if key not in current:
                return None
            current = current[key]
        if not isinstance(current, dict):
            raise self.error([*fields, first_key])
        return current

    def make(self, fields: Sequence[str]) -> Any:
        """The map at ``fields``, created (appended) where missing."""
        current = self.node
        for key in fields:
            child = current.get(key)
            if child is None and key not in current:
                child = CommentedMap()
                current[key] = child
            current = child
        return current

    def set_string(self, value: str, fields: Sequence[str]) -> None:
        """SetNestedString: missing maps are appended on the way, the value replaced in
        place (keeping its comment, losing its quoting) or appended at the end."""
        if fields[-1] == UPSTREAM_IDENTIFIER:
            raise FieldError(
                f"annotation {UPSTREAM_IDENTIFIER} is managed by kpt and should not be modified"
            )
        current = self.node
        for key in fields[:-1]:
            child = current.get(key)
            if child is None and key not in current:
                child = CommentedMap()
                current[key] = child
            if not isinstance(child, dict):
                raise FieldError(
                    f"unable to set {value} at fields [{' '.join(fields)}] with error: "
                    f"incorrect type"
                )
            current = child
        put(current, fields[-1], go_string(value))


def put(parent: Any, key: Any, value: Any) -> None:
    """``parent[key] = value`` as Go writes it: ruamel would keep the old quoting when a
    plain string replaces a quoted one; Go replaces the node, so its style goes too."""
    if isinstance(parent, CommentedMap):
        if key in parent:
            dict.__setitem__(parent, key, value)
            _comment_follows(parent, key, 2)
        else:
            parent[key] = value
    elif isinstance(parent, CommentedSeq):
        list.__setitem__(parent, key, value)
        _comment_follows(parent, key, 0)
    else:
        parent[key] = value


def _comment_follows(parent: Any, key: Any, slot: int) -> None:
    """A line comment after a rewritten value follows it by one space, as Go writes it."""
    entry = parent.ca.items.get(key)
    token = entry[slot] if entry and len(entry) > slot else None
    if token is not None and not isinstance(token, list) and hasattr(token, "column"):
        token.column = 0


def kube(resource: CommentedMap) -> Sub:
    """A resource as the SDK's KubeObject: errors name its top-level ``kind``."""
    return Sub(resource, text(resource, "kind"))


# -- scalars as yaml.v3 writes them (the rules live in lanai.kpt.goyaml) ----------------

resolves_to_non_string = goyaml.resolves_to_non_string
go_string = goyaml.go_string
