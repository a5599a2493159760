"""search-replace: find fields by value, regex, path or file, and optionally rewrite them.

The simplest customisation there is, and the usual way to *create* setters: matchers
(``by-*``) are ANDed, mutators (``put-*``) all apply; ``put-value`` and ``put-comment``
may use ``${1}``-style capture groups of ``by-value-regex``. A regex must match the whole
value. ``by-path`` understands ``*`` (one field), ``**`` (any depth), ``[n]`` and ``[*]``;
a plain path with ``put-value`` and no value matcher creates the field where missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from lanai.functions.builtin import krm

MATCHERS = ("by-value", "by-value-regex", "by-path", "by-file-path")
MUTATORS = ("put-value", "put-comment")

Segment = str | int


@dataclass(frozen=True)
class Config:
    by_value: str | None = None
    by_value_regex: re.Pattern[str] | None = None
    by_path: tuple[str, ...] | None = None
    by_file_path: str | None = None
    put_value: str | None = None
    put_comment: str | None = None

    @property
    def mutates(self) -> bool:
        return self.put_value is not None or self.put_comment is not None


def read_config(config: CommentedMap | None) -> Config:
    if config is None:
        raise krm.fail("search-replace needs a ConfigMap functionConfig")
    if not (krm.is_kind(config, "ConfigMap", "") or krm.is_kind(config, "SearchReplace")):
        raise krm.fail(f"unsupported functionConfig kind {krm.kind(config)!r}, expect `ConfigMap`")
    data = krm.config_map_data(config)
    unknown = sorted(set(data) - set(MATCHERS) - set(MUTATORS))
    if unknown:
        raise krm.fail(f"unknown search-replace argument(s): {', '.join(unknown)}")
    if "by-value" in data and "by-value-regex" in data:
        raise krm.fail("only one of `by-value` and `by-value-regex` can be given")
    if not any(k in data for k in ("by-value", "by-value-regex", "by-path")):
        raise krm.fail('at least one of "by-value", "by-value-regex" or "by-path" must be given')
    regex: re.Pattern[str] | None = None
    if "by-value-regex" in data:
        try:
            regex = re.compile(data["by-value-regex"])
        except re.error as error:
            raise krm.fail(f"invalid by-value-regex: {error}") from error
    path = parse_path(data["by-path"]) if "by-path" in data else None
    return Config(
        by_value=data.get("by-value"),
        by_value_regex=regex,
        by_path=path,
        by_file_path=data.get("by-file-path"),
        put_value=data.get("put-value"),
        put_comment=data.get("put-comment"),
    )


def parse_path(text: str) -> tuple[str, ...]:
    """``a.b[1].c`` → (``a``, ``b``, ``[1]``, ``c``); ``**`` and ``*`` kept as words."""
    segments: list[str] = []
    for part in text.split("."):
        if not part:
            raise krm.fail(f"invalid by-path {text!r}")
        match = re.fullmatch(r"([^\[\]]*)((?:\[[^\[\]]*\])*)", part)
        if match is None:
            raise krm.fail(f"invalid by-path {text!r}")
        if match.group(1):
            segments.append(match.group(1))
        segments.extend(re.findall(r"\[[^\[\]]*\]", match.group(2)))
    return tuple(segments)


def path_matches(pattern: tuple[str, ...], path: tuple[Segment, ...]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(path_matches(rest, path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    step = path[0]
    if head.startswith("["):
        inner = head[1:-1]
        ok = isinstance(step, int) and (inner == "*" or inner == str(step))
    else:
        ok = isinstance(step, str) and (head == "*" or head == step)
    return ok and path_matches(rest, path[1:])


def show_path(path: tuple[Segment, ...]) -> str:
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += ("." if text else "") + step
    return text


def file_matches(pattern: str, path: str) -> bool:
    """Slash glob: ``*`` and ``?`` stay in one directory, ``**/`` spans directories."""
    return re.fullmatch(_glob_regex(pattern), path) is not None


def _glob_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*" if i + 2 == len(pattern) else "[^/]*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 1
        elif c == "{":
            end = pattern.find("}", i)
            if end < 0:
                out += re.escape(c)
            else:
                options = pattern[i + 1 : end].split(",")
                out += "(?:" + "|".join(_glob_regex(o) for o in options) + ")"
                i = end
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out += re.escape(c)
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out += "[" + body.replace("\\", "\\\\") + "]"
                i = end
        else:
            out += re.escape(c)
        i += 1
    return out


def run(resource_list: CommentedMap) -> None:
    config = read_config(krm.function_config(resource_list))
    count = 0
    for resource in krm.items(resource_list):
        if config.by_file_path is not None:
            where = krm.file_of(resource)
            if where is None or not file_matches(config.by_file_path, where["path"]):
                continue
        count += _search(resource_list, resource, config)
    if not count:
        krm.add_result(resource_list, "no matches")


def _search(resource_list: CommentedMap, resource: CommentedMap, config: Config) -> int:
    count = 0
    for parent, key, path in list(_scalars(resource, ())):
        value = parent[key]
        groups = _value_match(config, value)
        if groups is None:
            continue
        if config.by_path is not None and not path_matches(config.by_path, path):
            continue
        count += 1
        _report(resource_list, resource, parent, key, path, groups, config)
    if count == 0 and _creates(config):
        assert config.by_path is not None
        parent = resource
        for segment in config.by_path[:-1]:
            child = parent.get(segment)
            if child is None:
                child = CommentedMap()
                parent[segment] = child
            if not isinstance(child, CommentedMap):
                return 0
            parent = child
        key = config.by_path[-1]
        if key in parent:
            return 0
        parent[key] = None
        _report(resource_list, resource, parent, key, config.by_path, (), config)
        count = 1
    return count


def _creates(config: Config) -> bool:
    path = config.by_path
    return (
        config.put_value is not None
        and path is not None
        and config.by_value is None
        and config.by_value_regex is None
        and all(s not in ("*", "**") and not s.startswith("[") for s in path)
    )


def _value_match(config: Config, value: Any) -> tuple[str, ...] | None:
    """The regex groups (or ``()``) if ``value`` passes the value matchers, else ``None``."""
    text = _text(value)
    if config.by_value is not None:
        return () if text == config.by_value else None
    if config.by_value_regex is not None:
        match = config.by_value_regex.fullmatch(text)
        return None if match is None else tuple(g or "" for g in match.groups())
    return ()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _expand(template: str, groups: tuple[str, ...]) -> str:
    def group(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return groups[index - 1] if 0 < index <= len(groups) else match.group(0)

    return re.sub(r"\$\{(\d+)\}", group, template)


def _report(
    resource_list: CommentedMap,
    resource: CommentedMap,
    parent: Any,
    key: Any,
    path: tuple[Segment, ...],
    groups: tuple[str, ...],
    config: Config,
) -> None:
    shown = show_path(path)
    current = parent[key]
    if config.put_value is not None:
        text = _expand(config.put_value, groups)
        parent[key] = krm.coerce_like(current, text)
        krm.add_result(
            resource_list,
            f"Mutated field value to {text!r}",
            resource=resource,
            field={"path": shown, "currentValue": _text(current), "proposedValue": text},
        )
    if config.put_comment is not None:
        comment = _expand(config.put_comment, groups)
        krm.set_line_comment(parent, key, comment)
        krm.add_result(
            resource_list,
            f"Mutated field comment to {comment!r}",
            resource=resource,
            field={"path": shown},
        )
    if not config.mutates:
        krm.add_result(
            resource_list,
            "Matched field",
            resource=resource,
            field={"path": shown, "currentValue": _text(current)},
        )


def _scalars(node: Any, path: tuple[Segment, ...]) -> Any:
    """Yield (parent, key, path) for every scalar field below ``node``."""
    if isinstance(node, dict):
        for key in list(node.keys()):
            child = node[key]
            child_path = (*path, str(key))
            if isinstance(child, dict | list):
                yield from _scalars(child, child_path)
            else:
                yield node, key, child_path
    elif isinstance(node, list):
        for index, child in enumerate(node):
            child_path = (*path, index)
            if isinstance(child, dict | list):
                yield from _scalars(child, child_path)
            else:
                yield node, index, child_path
