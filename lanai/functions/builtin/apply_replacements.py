"""apply-replacements: copy one field of one resource into fields of others.

This is kustomize's ``replacements`` transformer as a function: each replacement has
one ``source`` (exactly one resource must match; or a literal ``sourceValue``) and
``targets`` chosen by ``select`` minus any ``reject``. Field paths are dotted, with
``[name=x]`` list selectors, ``[key.with.dots]`` or ``\\.`` for keys that contain dots,
numeric list indexes and ``*``. ``options.delimiter``/``index`` pick or replace one
part of a delimited string; ``options.create`` builds missing target fields.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from lanai.functions.builtin import krm


@dataclass(frozen=True)
class Step:
    """One path step: a map key, a list match ``[field=value]``, an index, or ``*``."""

    key: str | None = None
    match: tuple[str, str] | None = None
    index: int | None = None
    wildcard: bool = False


def parse_field_path(text: str) -> list[Step]:
    if not text:
        raise krm.fail("empty fieldPath")
    parts: list[str] = []
    current, bracket, i = "", False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and not bracket:
            current += text[i + 1]
            i += 2
            continue
        if c == "[" and not bracket:
            if current:
                parts.append(current)
            current, bracket = "[", True
        elif c == "]" and bracket:
            parts.append(current + "]")
            current, bracket = "", False
        elif c == "." and not bracket:
            if current:
                parts.append(current)
            current = ""
        else:
            current += c
        i += 1
    if bracket:
        raise krm.fail(f"invalid fieldPath {text!r}: unclosed `[`")
    if current:
        parts.append(current)
    steps: list[Step] = []
    for part in parts:
        if part.startswith("[") and part.endswith("]"):
            inner = part[1:-1]
            if "=" in inner:
                field, value = inner.split("=", 1)
                steps.append(Step(match=(field, value)))
            elif inner == "*":
                steps.append(Step(wildcard=True))
            elif inner.lstrip("-").isdigit():
                steps.append(Step(index=int(inner)))
            else:
                steps.append(Step(key=inner))
        elif part == "*":
            steps.append(Step(wildcard=True))
        else:
            steps.append(Step(key=part))
    return steps


def locate(node: Any, steps: list[Step], create: bool = False) -> Iterator[tuple[Any, Any]]:
    """Yield (parent, key) for each place ``steps`` reach; the last key may be absent."""
    if not steps:
        return
    step, rest = steps[0], steps[1:]
    if step.wildcard:
        keys: list[Any] = []
        if isinstance(node, dict):
            keys = list(node.keys())
        elif isinstance(node, list):
            keys = list(range(len(node)))
        for key in keys:
            if rest:
                yield from locate(node[key], rest, create)
            else:
                yield node, key
        return
    if step.key is not None and isinstance(node, list) and step.key.isdigit():
        step = Step(index=int(step.key))
    if step.key is not None:
        if not isinstance(node, dict):
            return
        if not rest:
            yield node, step.key
            return
        child = node.get(step.key)
        if child is None:
            if not create:
                return
            child = _new_container(rest[0])
            node[step.key] = child
        yield from locate(child, rest, create)
        return
    if not isinstance(node, list):
        return
    positions: list[int] = []
    if step.index is not None:
        if -len(node) <= step.index < len(node):
            positions = [step.index % len(node)]
    elif step.match is not None:
        field, value = step.match
        positions = [
            i for i, e in enumerate(node) if isinstance(e, dict) and _text(e.get(field)) == value
        ]
        if not positions and create:
            element = CommentedMap()
            element[field] = value
            node.append(element)
            positions = [len(node) - 1]
    for position in positions:
        if rest:
            yield from locate(node[position], rest, create)
        else:
            yield node, position


def _new_container(step: Step) -> Any:
    return CommentedSeq() if step.match is not None or step.index is not None else CommentedMap()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Selector:
    group: str | None = None
    version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    label_selector: str | None = None
    annotation_selector: str | None = None

    @classmethod
    def from_config(cls, raw: Any, what: str) -> Selector:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise krm.fail(f"{what} must be a map")

        def text(key: str) -> str | None:
            return None if raw.get(key) is None else str(raw[key])

        return cls(
            group=text("group"),
            version=text("version"),
            kind=text("kind"),
            name=text("name"),
            namespace=text("namespace"),
            label_selector=text("labelSelector"),
            annotation_selector=text("annotationSelector"),
        )

    def matches(self, resource: dict[str, Any]) -> bool:
        group, version = krm.group_version(resource)
        checks = (
            (self.group, group),
            (self.version, version),
            (self.kind, krm.kind(resource)),
            (self.name, krm.name(resource)),
            (self.namespace, krm.namespace(resource)),
        )
        if any(want is not None and want != have for want, have in checks):
            return False
        labels = krm.metadata(resource).get("labels") or {}
        if self.label_selector and not _selector_matches(self.label_selector, labels):
            return False
        return not (
            self.annotation_selector
            and not _selector_matches(self.annotation_selector, krm.annotations_of(resource))
        )

    def describe(self) -> str:
        fields = {
            "group": self.group,
            "version": self.version,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
        }
        return ", ".join(f"{k}={v}" for k, v in fields.items() if v is not None) or "<any>"


def _selector_matches(selector: str, values: Any) -> bool:
    """``a=b,c!=d,e`` equality-based label selector over ``values``."""
    values = values if isinstance(values, dict) else {}
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            key, want = (s.strip() for s in term.split("!=", 1))
            if key in values and _text(values[key]) == want:
                return False
        elif "=" in term:
            key, want = (s.strip() for s in term.split("=", 1))
            want = want.lstrip("=").strip()
            if key not in values or _text(values[key]) != want:
                return False
        elif term.startswith("!"):
            if term[1:] in values:
                return False
        elif term not in values:
            return False
    return True


@dataclass(frozen=True)
class Options:
    delimiter: str | None = None
    index: int = 0
    create: bool = False

    @classmethod
    def from_config(cls, raw: Any) -> Options:
        if not isinstance(raw, dict):
            return cls()
        delimiter = raw.get("delimiter")
        return cls(
            delimiter=None if delimiter in (None, "") else str(delimiter),
            index=int(raw.get("index") or 0),
            create=bool(raw.get("create", False)),
        )


def run(resource_list: CommentedMap) -> None:
    config = krm.function_config(resource_list)
    if config is None or not krm.is_kind(config, "ApplyReplacements"):
        raise krm.fail("functionConfig must be an `ApplyReplacements` object")
    replacements = config.get("replacements") or []
    if not isinstance(replacements, list):
        raise krm.fail("`replacements` must be a list")
    resources = krm.items(resource_list)
    for number, replacement in enumerate(replacements):
        if not isinstance(replacement, dict):
            raise krm.fail(f"replacements[{number}] must be a map")
        if replacement.get("path"):
            raise krm.fail("replacements loaded from a `path` are not supported; inline them")
        value = _source_value(replacement, resources)
        targets = replacement.get("targets") or []
        for target in targets if isinstance(targets, list) else []:
            _apply_target(target, value, resources)


def _source_value(replacement: dict[str, Any], resources: list[CommentedMap]) -> Any:
    if "sourceValue" in replacement and replacement.get("source") is None:
        return replacement["sourceValue"]
    raw = replacement.get("source")
    if not isinstance(raw, dict):
        raise krm.fail("every replacement needs a `source` or a `sourceValue`")
    selector = Selector.from_config(raw, "source")
    found = [r for r in resources if selector.matches(r)]
    if not found:
        raise krm.fail(f"nothing selected by replacement source {selector.describe()}")
    if len(found) > 1:
        raise krm.fail(f"multiple matches for replacement source {selector.describe()}")
    field_path = str(raw.get("fieldPath") or "metadata.name")
    places = [(p, k) for p, k in locate(found[0], parse_field_path(field_path)) if _has(p, k)]
    if not places:
        raise krm.fail(
            f"fieldPath `{field_path}` is missing for replacement source {selector.describe()}"
        )
    parent, key = places[0]
    value = parent[key]
    options = Options.from_config(raw.get("options"))
    if options.delimiter is not None:
        if isinstance(value, dict | list):
            raise krm.fail(f"source fieldPath `{field_path}` is not a scalar; cannot split it")
        parts = _text(value).split(options.delimiter)
        if not 0 <= options.index < len(parts):
            raise krm.fail(
                f"options.index {options.index} is out of bounds for value {_text(value)!r}"
            )
        return parts[options.index]
    return value


def _has(parent: Any, key: Any) -> bool:
    if isinstance(parent, dict):
        return key in parent
    return isinstance(parent, list) and isinstance(key, int) and -len(parent) <= key < len(parent)


def _apply_target(target: Any, value: Any, resources: list[CommentedMap]) -> None:
    if not isinstance(target, dict) or target.get("select") is None:
        raise krm.fail("every replacement target needs a `select`")
    select = Selector.from_config(target.get("select"), "select")
    rejects = [Selector.from_config(r, "reject") for r in target.get("reject") or []]
    field_paths = target.get("fieldPaths") or ["metadata.name"]
    options = Options.from_config(target.get("options"))
    for resource in resources:
        if not select.matches(resource) or any(r.matches(resource) for r in rejects):
            continue
        for field_path in field_paths:
            steps = parse_field_path(str(field_path))
            for parent, key in list(locate(resource, steps, options.create)):
                if not _has(parent, key) and not options.create:
                    continue
                _set(parent, key, value, options)


def _set(parent: Any, key: Any, value: Any, options: Options) -> None:
    if options.delimiter is None:
        current = parent.get(key) if isinstance(parent, dict) else parent[key]
        new = copy.deepcopy(value)
        if isinstance(new, str) and current is not None and not isinstance(current, dict | list):
            new = krm.coerce_like(current, new) if isinstance(current, str) else new
        parent[key] = new
        return
    if isinstance(value, dict | list):
        raise krm.fail("a map or list cannot replace part of a delimited string")
    current = parent.get(key) if isinstance(parent, dict) else parent[key]
    parts = _text(current).split(options.delimiter) if current is not None else []
    text = _text(value)
    if options.index < 0:
        parts.insert(0, text)
    elif options.index >= len(parts):
        parts.append(text)
    else:
        parts[options.index] = text
    parent[key] = options.delimiter.join(parts)
