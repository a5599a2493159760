"""search-replace: find fields by value, regex, path or file, and optionally rewrite them.

The simplest customisation there is, and the usual way to *create* setters. The catalog
function walks every scalar of every resource (the path and index annotations too) and
matches on the value (``by-value``, or ``by-value-regex`` found anywhere in it), the path
(``by-path``: ``.``-separated, ``*`` one element, ``**`` any number, ``[n]``/``[*]``
list elements) or both; ``put-value`` and ``put-comment`` may use ``${n}`` capture
groups. A plain path with ``put-value`` and no value matcher sets the field on every
resource, creating it where missing. A new value keeps the old one's quoting and reads
as whatever YAML makes of it (``4`` is a number). Results name each field it matched.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import ScalarString

from lanai.functions.builtin import krm, kyaml, sdk
from lanai.kpt import fnapi

MATCHERS = ("by-value", "by-file-path", "by-value-regex", "by-path", "put-value", "put-comment")
_UNRESOLVED = re.compile(r"\$\{([0-9]+)\}")


class _Failure(Exception):
    pass


@dataclass
class Config:
    by_value: str = ""
    by_value_regex: str = ""
    by_path: str = ""
    by_file_path: str = ""
    put_value: str = ""
    put_comment: str = ""
    regex: re.Pattern[str] | None = None

    @property
    def mutates(self) -> bool:
        return bool(self.put_value or self.put_comment)


def read_config(config: Any) -> Config:
    """The matchers of the config's ``data`` (whatever its kind, as the catalog reads it)."""
    data = config.get("data") if isinstance(config, dict) else None
    values = {
        sdk.scalar_text(k): sdk.scalar_text(v)
        for k, v in (data.items() if isinstance(data, dict) else [])
        if not isinstance(v, dict | list)
    }
    for key in values:
        if key not in MATCHERS:
            allowed = " ".join(f'"{m}"' for m in MATCHERS)
            raise _Failure(f'invalid matcher "{key}", must be one of [{allowed}]')
    found = Config(
        by_value=values.get("by-value", ""),
        by_value_regex=values.get("by-value-regex", ""),
        by_path=values.get("by-path", ""),
        by_file_path=values.get("by-file-path", ""),
        put_value=values.get("put-value", ""),
        put_comment=values.get("put-comment", ""),
    )
    if found.by_value and found.by_value_regex:
        raise _Failure('only one of ["by-value", "by-value-regex"] can be provided')
    if found.by_value_regex:
        try:
            found.regex = re.compile(found.by_value_regex)
        except re.error as error:
            raise _Failure(f"error parsing regexp: {error}") from error
    return found


# -- paths -------------------------------------------------------------------------------


def path_matches(pattern: str, path: str) -> bool:
    """Whether a walked path (``spec.a[0].b``) matches a ``by-path`` pattern."""
    if not pattern:
        return False
    wanted = pattern.split(".")
    walked = path.removeprefix(".").split(".")
    # matched[j]: the walked elements seen so far match the first j pattern elements.
    matched = [True] + [False] * len(wanted)
    for j in range(1, len(wanted) + 1):
        matched[j] = wanted[j - 1] == "**" and matched[j - 1]
    for element in walked:
        row = [False] * (len(wanted) + 1)
        for j in range(1, len(wanted) + 1):
            want = wanted[j - 1]
            if want == "**":
                row[j] = row[j - 1] or matched[j]
            elif want == "*" or _element_matches(element, want):
                row[j] = matched[j - 1]
        matched = row
    return matched[len(wanted)]


def _element_matches(element: str, pattern: str) -> bool:
    if element == pattern:
        return True
    if "[" not in element:
        return False
    element_parts, pattern_parts = element.split("["), pattern.split("[")
    if pattern_parts[0] != "*" and element_parts[0] != pattern_parts[0]:
        return False
    return len(pattern_parts) > 1 and pattern_parts[1] in ("*]", element_parts[1])


def _is_plain_path(path: str) -> bool:
    return all(part and "*" not in part for part in path.split("."))


def file_matches(pattern: str, path: str) -> bool:
    """doublestar's Match: ``*``/``?`` stay within a directory, ``**`` spans them."""
    return re.fullmatch(_glob(pattern), path) is not None


def _glob(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 1
        elif c == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            out += "(?:" + "|".join(_glob(o) for o in pattern[i + 1 : end].split(",")) + ")"
            i = end
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if body.startswith(("!", "^")):
                body = "^" + body[1:]
            out += "[" + body.replace("\\", "\\\\") + "]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return out


# -- the walk ------------------------------------------------------------------------------


def run(resource_list: CommentedMap) -> None:
    try:
        config = read_config(krm.function_config(resource_list))
        results: list[dict[str, Any]] = []
        for resource in krm.items(resource_list):
            _search(resource, config, results)
    except _Failure as error:
        failure = kyaml.result(
            f"failed to perform search-replace operation: {sdk.go_quote(str(error))}", "error"
        )
        resource_list["results"] = CommentedSeq([failure])
        raise fnapi.FunctionError(
            message=str(error), stderr=str(error), exit_code=1, results=[failure]
        ) from error
    resource_list["results"] = CommentedSeq(results or [kyaml.result("no matches")])


def _search(resource: CommentedMap, config: Config, results: list[dict[str, Any]]) -> None:
    path, _ = kyaml.file_annotations(resource)
    if config.by_file_path and not file_matches(config.by_file_path, path):
        return
    if (
        config.put_value
        and _is_plain_path(config.by_path)
        and "[" not in config.by_path
        and not config.by_value
        and not config.by_value_regex
    ):
        _put_by_path(resource, config, path, results)
        return
    for parent, key, field_path in list(_walk(resource, "", config)):
        if isinstance(parent[key], list):
            _comment_sequence(parent, key, config, path, results)
        else:
            _replace(parent, key, field_path, config, path, results)


def _walk(node: Any, path: str, config: Config) -> Iterator[tuple[Any, Any, str]]:
    """(parent, key, path) of each scalar, and first of each list a put-comment path names
    (the catalog looks at a map's list fields before it walks into the map)."""
    if isinstance(node, dict):
        keys = list(node.keys())
        if config.put_comment:
            for key in keys:
                value, child_path = node[key], f"{path}.{sdk.scalar_text(key)}"
                if isinstance(value, list) and value and path_matches(config.by_path, child_path):
                    yield node, key, child_path
        for key in keys:
            value, child_path = node[key], f"{path}.{sdk.scalar_text(key)}"
            if isinstance(value, dict | list):
                yield from _walk(value, child_path, config)
            else:
                yield node, key, child_path
    elif isinstance(node, list):
        for index, value in enumerate(node):
            child_path = f"{path}[{index}]"
            if isinstance(value, dict | list):
                yield from _walk(value, child_path, config)
            else:
                yield node, index, child_path


def _replace(
    parent: Any,
    key: Any,
    field_path: str,
    config: Config,
    file_path: str,
    results: list[dict[str, Any]],
) -> None:
    current = parent[key]
    text = "" if current is None else sdk.scalar_text(current)
    path_match = path_matches(config.by_path, field_path)
    value_match = bool(config.by_value and config.by_value == text) or bool(
        config.regex is not None and config.regex.search(text)
    )
    if not (
        (value_match and (path_match or not config.by_path))
        or (path_match and not config.by_value and not config.by_value_regex)
    ):
        return
    if config.put_comment:
        krm.set_line_comment(parent, key, _resolve(text, config.regex, config.put_comment))
    if config.put_value:
        sdk.put(parent, key, put_value(current, _resolve(text, config.regex, config.put_value)))
    if file_path:
        shown = yaml_text(parent[key], krm.line_comment(parent, key))
        results.append(_result(config, field_path.removeprefix("."), shown, file_path))


def _comment_sequence(
    parent: Any, key: Any, config: Config, file_path: str, results: list[dict[str, Any]]
) -> None:
    krm.set_line_comment(parent, key, config.put_comment)
    value = parent[key]
    if isinstance(value, CommentedSeq):
        value.fa.set_block_style()
    shown = "[" + ", ".join(yaml_text(v, None) for v in value) + "]"
    results.append(_result(config, f"{config.by_path} # {config.put_comment}", shown, file_path))


def _put_by_path(
    resource: CommentedMap, config: Config, file_path: str, results: list[dict[str, Any]]
) -> None:
    *parents, last = config.by_path.split(".")
    node: Any = resource
    for name in parents:
        child = node.get(name)
        if child is None:
            child = CommentedMap()
            node[name] = child
        if not isinstance(child, dict):
            raise _Failure(f"wrong node kind: expected MappingNode at {name}")
        node = child
    sdk.put(node, last, put_value(node.get(last), config.put_value))
    results.append(_result(config, config.by_path, config.put_value, file_path))


def _result(config: Config, field_path: str, shown: str, file_path: str) -> dict[str, Any]:
    verb = "Mutated field value to" if config.mutates else "Matched field value"
    return kyaml.result(
        f"{verb} {sdk.go_quote(shown)}", field={"path": field_path}, path=file_path, file=True
    )


def _resolve(value: str, regex: re.Pattern[str] | None, pattern: str) -> str:
    """``pattern`` with ``${n}`` replaced by the n-th group of ``regex`` in ``value``."""
    if regex is None:
        return pattern
    found = regex.search(value)
    resolved = pattern
    if found is not None:
        for number, group in enumerate(found.groups(), start=1):
            resolved = resolved.replace(f"${{{number}}}", group or "")
    if _UNRESOLVED.search(resolved):
        raise _Failure("unable to resolve capture groups")
    return resolved


# -- values ----------------------------------------------------------------------------------


def put_value(old: Any, text: str) -> Any:
    """``text`` written where ``old`` was: the old quoting kept, else read as plain YAML."""
    if isinstance(old, ScalarString):
        styled: Any = type(old)(text)
        return styled
    return plain(text)


def plain(text: str) -> Any:
    """A plain scalar's value as YAML reads it (``4`` → 4, ``true`` → True)."""
    if not sdk.resolves_to_non_string(text):
        return text
    found = krm.parse_scalar(text)
    if isinstance(found, str) or (found is None and text not in ("", "~", "null")):
        return text
    return found


def yaml_text(value: Any, comment: str | None) -> str:
    """The value as the catalog prints it in a result: its YAML, then its line comment."""
    stream = io.StringIO()
    yaml = YAML()
    yaml.width = 4096
    yaml.dump(value, stream)
    text = stream.getvalue().removesuffix("...\n").strip()
    return f"{text} # {comment}" if comment else text
