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
from ruamel.yaml.scalarstring import ScalarString

from lanai.functions.builtin import krm, sdk, search_replace, set_namespace


@dataclass(frozen=True)
class Step:
    """One path step: a map key, a list match ``[field=value]``, an index, or ``*``."""

    key: str | None = None
    match: tuple[str, str] | None = None
    index: int | None = None
    wildcard: bool = False


def parse_field_path(text: str) -> list[Step]:
    if not text:
        raise _Failure("empty fieldPath")
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
        raise _Failure(f"invalid fieldPath {text}: unclosed `[`")
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
    """A kustomize resource selector: empty parts match anything; a namespace matches by
    effective namespace (none means ``default`` for namespaced kinds)."""

    group: str = ""
    version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    label_selector: str = ""
    annotation_selector: str = ""

    @classmethod
    def from_config(cls, raw: Any, what: str) -> Selector:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise _Failure(
                f"unable to convert functionConfig to replacements:\n{what} must be a map"
            )

        def text(key: str) -> str:
            return "" if raw.get(key) is None else sdk.scalar_text(raw[key])

        return cls(
            group=text("group"),
            version=text("version"),
            kind=text("kind"),
            name=text("name"),
            namespace=text("namespace"),
            label_selector=text("labelSelector"),
            annotation_selector=text("annotationSelector"),
        )

    @property
    def has_id(self) -> bool:
        return any((self.group, self.version, self.kind, self.name, self.namespace))

    def selects_id(self, resource: dict[str, Any]) -> bool:
        group, version = krm.group_version(resource)
        checks = (
            (self.group, group),
            (self.version, version),
            (self.kind, sdk.text(resource, "kind")),
            (self.name, sdk.metadata_text(resource, "name")),
        )
        if any(want and want != have for want, have in checks):
            return False
        return not self.namespace or _effective_namespace(resource) == self.namespace

    def selects_labels(self, resource: dict[str, Any]) -> bool:
        labels = krm.metadata(resource).get("labels") or {}
        if self.label_selector and not _selector_matches(self.label_selector, labels):
            return False
        return not (
            self.annotation_selector
            and not _selector_matches(self.annotation_selector, krm.annotations_of(resource))
        )

    def describe(self) -> str:
        """kustomize's ResId string: ``Kind.version.group/name.namespace``."""
        gvk = ".".join(
            (self.kind or "[noKind]", self.version or "[noVer]", self.group or "[noGrp]")
        )
        return f"{gvk}/{self.name or '[noName]'}.{self.namespace or '[noNs]'}"


def _effective_namespace(resource: dict[str, Any]) -> str:
    if not set_namespace.is_namespaced_kind(resource):
        return "_non_namespaceable_"
    return sdk.metadata_text(resource, "namespace") or "default"


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
    delimiter: str = ""
    index: int = 0
    create: bool = False

    @classmethod
    def from_config(cls, raw: Any) -> Options:
        if not isinstance(raw, dict):
            return cls()
        index = raw.get("index") or 0
        return cls(
            delimiter=sdk.scalar_text(raw.get("delimiter")),
            index=int(index) if isinstance(index, int) else 0,
            create=raw.get("create") is True,
        )

    def describe(self) -> str:
        if not self.delimiter and not self.create:
            return ""
        return f"{self.delimiter}({self.index}), create={'true' if self.create else 'false'}"


class _Failure(Exception):
    pass


def read_config(config: Any) -> list[Any]:
    if sdk.is_empty(config):
        raise _Failure("FunctionConfig is missing. Expect `ApplyReplacements`")
    kind, api_version = sdk.text(config, "kind"), sdk.text(config, "apiVersion")
    if kind != "ApplyReplacements" or api_version != "fn.kpt.dev/v1alpha1":
        raise _Failure(
            f"received functionConfig of kind {kind} and apiVersion {api_version}, only "
            "functionConfig of kind ApplyReplacements and apiVersion fn.kpt.dev/v1alpha1 "
            "is supported"
        )
    replacements = config.get("replacements")
    if replacements is None:
        return []
    if not isinstance(replacements, list):
        raise _Failure(
            "unable to convert functionConfig to replacements:\n`replacements` must be a list"
        )
    return replacements


def run(resource_list: CommentedMap) -> None:
    try:
        replacements = read_config(krm.function_config(resource_list))
        resources = krm.items(resource_list)
        for replacement in replacements:
            if not isinstance(replacement, dict):
                raise _Failure("replacements must specify a source and at least one target")
            source, targets = replacement.get("source"), replacement.get("targets")
            if source is None or targets is None:
                raise _Failure("replacements must specify a source and at least one target")
            value = _source_value(source, resources)
            for target in targets if isinstance(targets, list) else []:
                _apply_target(target, value, resources)
    except _Failure as error:
        sdk.finish(resource_list, [sdk.result(str(error), "error")], ok=False)
    sdk.finish(resource_list, [], ok=True)


def _source_value(raw: Any, resources: list[CommentedMap]) -> Any:
    selector = Selector.from_config(raw, "source")
    field_path = sdk.scalar_text(raw.get("fieldPath")) if isinstance(raw, dict) else ""
    options = Options.from_config(raw.get("options") if isinstance(raw, dict) else None)
    shown = ":".join(p for p in (selector.describe(), field_path, options.describe()) if p)
    found = [r for r in resources if selector.selects_id(r)]
    if len(found) > 1:
        raise _Failure(f"multiple matches for selector {shown}")
    if not found:
        raise _Failure(f"nothing selected by {shown}")
    field_path = field_path or "metadata.name"
    places = [(p, k) for p, k in locate(found[0], parse_field_path(field_path)) if _has(p, k)]
    value = places[0][0][places[0][1]] if places else None
    if value is None or (isinstance(value, dict | list) and not value) or value == "":
        raise _Failure(
            f"fieldPath `{field_path}` is missing for replacement source {selector.describe()}"
        )
    if not options.delimiter:
        return value
    if isinstance(value, dict | list):
        raise _Failure("delimiter option can only be used with scalar nodes")
    parts = _text(value).split(options.delimiter)
    if not 0 <= options.index < len(parts):
        raise _Failure(f"options.index {options.index} is out of bounds for value {_text(value)}")
    return parts[options.index]


def _has(parent: Any, key: Any) -> bool:
    if isinstance(parent, dict):
        return key in parent
    return isinstance(parent, list) and isinstance(key, int) and -len(parent) <= key < len(parent)


def _apply_target(target: Any, value: Any, resources: list[CommentedMap]) -> None:
    if not isinstance(target, dict) or target.get("select") is None:
        raise _Failure("target must specify resources to select")
    select = Selector.from_config(target.get("select"), "select")
    rejects = [Selector.from_config(r, "reject") for r in target.get("reject") or []]
    field_paths = target.get("fieldPaths") or ["metadata.name"]
    options = Options.from_config(target.get("options"))
    for resource in resources:
        if not select.selects_labels(resource):
            continue
        if any(
            (r.label_selector or r.annotation_selector) and r.selects_labels(resource)
            for r in rejects
        ):
            continue
        if not select.selects_id(resource):
            continue
        if any(r.has_id and r.selects_id(resource) for r in rejects):
            continue
        for field_path in field_paths:
            text = sdk.scalar_text(field_path)
            places = [
                (p, k)
                for p, k in locate(resource, parse_field_path(text), options.create)
                if options.create or _has(p, k)
            ]
            if not places:
                verb = "find or create" if options.create else "find"
                raise _Failure(f'unable to {verb} field "{text}" in replacement target')
            for parent, key in places:
                _set(parent, key, value, options)


def _set(parent: Any, key: Any, value: Any, options: Options) -> None:
    exists = _has(parent, key)
    current = parent[key] if exists else None
    new: Any = copy.deepcopy(value)
    if options.delimiter:
        if exists and isinstance(current, dict | list):
            raise _Failure("delimiter option can only be used with scalar nodes")
        parts = _text(current).split(options.delimiter) if exists else [""]
        text = _text(new)
        if options.index < 0:
            parts.insert(0, text)
        elif options.index >= len(parts):
            parts.append(text)
        else:
            parts[options.index] = text
        new = options.delimiter.join(parts)
    if exists and not isinstance(current, dict | list) and not isinstance(new, dict | list):
        sdk.put(parent, key, _scalar_like(current, _text(new)))
    elif not isinstance(new, dict | list):
        sdk.put(parent, key, search_replace.plain(_text(new)))
    else:
        sdk.put(parent, key, new)


def _scalar_like(current: Any, text: str) -> Any:
    """A target scalar keeps its style and its type: only its text changes."""
    if isinstance(current, ScalarString):
        styled: Any = type(current)(text)
        return styled
    if isinstance(current, str):
        return sdk.go_string(text)
    if current is None:
        return search_replace.plain(text)
    found = search_replace.plain(text)
    return found if type(found) is type(current) else sdk.go_string(text)
